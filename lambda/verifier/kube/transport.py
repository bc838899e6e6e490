"""One Kubernetes API request attempt over TLS: the pinned CA, a wall-clock deadline, a kept-alive connection.

``kube.KubeClient`` decides what to retry; this module makes one attempt and says what went wrong as an
:class:`Attempt` whose ``kind`` is one of ``kube.KINDS``. One connection per client is kept open between
requests (HTTP/1.1 keep-alive): re-encrypting a cluster is a request per object, and a handshake each
would cost a round trip or two per Secret. Every attempt still gets its own deadline and watchdog, reused
connection or not; a connection is reused only after a complete response, and never once its socket has
anything to read (the server closed it, or sent bytes nobody asked for).
"""
from __future__ import annotations

import heapq
import http.client
import itertools
import select
import socket
import ssl
import threading
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable

from ..text import scrub

#: A canary Secret or Pod is a few KB; a list page of 50 of them stays far below this.
MAX_BODY_BYTES = 1024 * 1024
_READ_CHUNK = 64 * 1024
#: An idle connection older than this is closed rather than reused: servers and load balancers drop
#: idle connections (the EKS endpoint's load balancer after 350 s), and a fresh one is cheap next to
#: a request that fails on a connection closed under it.
MAX_IDLE_SECONDS = 30.0


class Attempt(Exception):
    """One failed attempt, classified; the retry loop decides whether to try again."""

    def __init__(self, kind: str, detail: str, sent: bool = True, *, stale: bool = False) -> None:
        super().__init__(detail)
        self.kind = kind
        self.sent = sent
        #: A kept-alive connection ended before any byte of the answer: the server had closed it while idle
        #: (the usual case) or dropped this request. Either way, once more on a new connection decides.
        self.stale = stale


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    raw: bytes


@dataclass(frozen=True)
class Target:
    """Where attempts go: host, port, the pinned TLS context, and the connection kept between them."""

    host: str
    port: int
    context: ssl.SSLContext
    idle: "IdleConnection"


def send_once(target: Target, method: str, path: str, data: bytes | None, headers: Callable[[], dict[str, str]],
              budget: float) -> Response:
    """One attempt, on the target's idle connection or a new one; raises :class:`Attempt` classified.

    A watchdog shuts the socket at the deadline, so a trickling server cannot outlive it. ``headers`` is
    called once connected (the bearer token is minted only for a connection that passed TLS). The connection
    is kept for the next request only after a complete response that did not ask to close it. A kept
    connection is checked before use, but a server may still close it as the request goes out: when it ends
    before any byte of the answer, the request goes once more on a new connection, within the same deadline
    (as HTTP clients do: the verifier's requests are safe to repeat, see ``kube.KubeClient.request``).
    """
    deadline = time.monotonic() + budget  # real time: the watchdog is a real timer
    kept = target.idle.take()
    if kept is not None:
        try:
            return _exchange(target, kept, method, path, data, headers, deadline, budget)
        except Attempt as exc:
            if not exc.stale:
                raise
    return _exchange(target, None, method, path, data, headers, deadline, budget)


def _exchange(target: Target, conn: "DeadlineConnection | None", method: str, path: str, data: bytes | None,
              headers: Callable[[], dict[str, str]], deadline: float, budget: float) -> Response:
    """One request and its answer on ``conn`` (kept alive) or, when None, on a new connection."""
    reused = conn is not None
    fired = threading.Event()
    phase = "connect"
    keep = False
    try:
        if conn is None:
            conn = DeadlineConnection(target.host, target.port, context=target.context,
                                      timeout=max(0.05, deadline - time.monotonic()))
            conn.arm(deadline, fired)
            conn.connect()
        else:
            conn.arm(deadline, fired)
            conn.sock.settimeout(max(0.05, deadline - time.monotonic()))
        phase = "request"
        conn.request(method, path, body=data, headers=headers())
        phase = "response"
        resp = conn.getresponse()
        resp_headers = {k.lower(): v for k, v in resp.getheaders()}
        phase = "body"
        raw = read_bounded(resp, deadline, fired)
        resp.close()  # read to its end: the connection is ready for the next request
        keep = not resp.will_close and not fired.is_set()
        return Response(resp.status, resp_headers, raw)
    except Attempt:
        raise
    except ssl.SSLCertVerificationError as exc:
        detail = getattr(exc, "verify_message", "") or "verify failed"
        raise Attempt("tls", f"TLS verification of {target.host} failed ({scrub(detail, 80)})", sent=False) from None
    except ssl.SSLError as exc:
        if fired.is_set():
            raise Attempt("timeout", f"no complete response within {budget:.3g}s ({phase})", sent=phase != "connect") from None
        if phase == "connect":
            raise Attempt("tls", f"TLS handshake with {target.host} failed ({scrub(exc.reason or type(exc).__name__, 60)})", sent=False) from None
        raise Attempt("lost", f"connection broke during {phase} ({type(exc).__name__})",
                      stale=reused and phase in ("request", "response")) from None
    except http.client.IncompleteRead as exc:
        if fired.is_set():
            raise Attempt("timeout", f"no complete response within {budget:.3g}s (body)") from None
        raise Attempt("truncated", f"body ended after {len(exc.partial)} bytes, {exc.expected} more announced") from None
    except (OSError, http.client.HTTPException, ValueError) as exc:
        if phase == "connect" and conn.stage == "tls" and not fired.is_set() and not isinstance(exc, TimeoutError):
            raise Attempt("lost", f"connection closed during the TLS handshake ({type(exc).__name__})", sent=False) from None
        if fired.is_set() or isinstance(exc, TimeoutError) and (phase != "connect" or conn.stage == "tls"):
            where = "TLS handshake" if phase == "connect" else phase
            raise Attempt("timeout", f"no complete response within {budget:.3g}s ({where})", sent=phase != "connect") from None
        if phase == "connect":
            what = "timed out" if isinstance(exc, TimeoutError) else type(exc).__name__
            raise Attempt("connect", f"{target.host}:{target.port} {what}", sent=False) from None
        if isinstance(exc, http.client.RemoteDisconnected) or phase in ("request", "response"):
            raise Attempt("lost", f"connection closed during {phase} without a response ({type(exc).__name__})",
                          stale=reused and phase in ("request", "response")) from None
        raise Attempt("truncated", f"body unreadable ({type(exc).__name__})") from None
    finally:
        if conn is not None:
            conn.cancel_watchdog()
            if keep:
                target.idle.give(conn)
            else:
                conn.close()


class DeadlineConnection(http.client.HTTPSConnection):
    """HTTPS with a watchdog per attempt: at the attempt's deadline the raw socket is shut down, which ends
    any blocked read (the TLS handshake's included)."""

    def __init__(self, host: str, port: int, *, context: ssl.SSLContext, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self._raw: socket.socket | None = None
        self._watchdog: _Alarm | None = None
        self.stage = "tcp"
        self.idle_since = 0.0

    def arm(self, deadline: float, fired: threading.Event) -> None:
        """Start this attempt's watchdog (a fresh connection arms it once TCP is up, before the handshake)."""
        self.cancel_watchdog()
        self._deadline, self._fired = deadline, fired
        if self.sock is not None:
            self._start_watchdog()

    def _start_watchdog(self) -> None:
        def expire() -> None:
            self._fired.set()
            # The OS-level shutdown of whichever object owns the fd now (wrap_socket moves it to the TLS
            # socket); socket.socket.shutdown skips the TLS layer, so a blocked recv returns at once.
            try:
                socket.socket.shutdown(self.sock if self.sock is not None else self._raw, socket.SHUT_RDWR)
            except (OSError, TypeError):
                pass

        self._watchdog = _WATCHDOG.schedule(self._deadline, expire)

    def connect(self) -> None:
        raw = socket.create_connection((self.host, self.port), self.timeout)
        self.stage = "tls"
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._raw = raw
        self._start_watchdog()
        try:
            self.sock = self._context.wrap_socket(raw, server_hostname=self.host)  # type: ignore[attr-defined]
        except BaseException:
            raw.close()
            raise
        self.stage = "open"

    def cancel_watchdog(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None

    def reusable(self) -> bool:
        """Still open, idle for less than MAX_IDLE_SECONDS, and silent: a readable idle socket means the
        server closed it (or sent something unasked), so it is not used again."""
        sock = self.sock
        if sock is None or time.monotonic() - self.idle_since > MAX_IDLE_SECONDS:
            return False
        try:
            if sock.pending():
                return False
            readable, _, _ = select.select([sock], [], [], 0)
        except (OSError, ValueError):
            return False
        return not readable


class _Alarm:
    """One attempt's deadline: ``action`` runs at ``when`` unless cancelled first (as threading.Timer's)."""

    __slots__ = ("when", "action", "cancelled")

    def __init__(self, when: float, action: Callable[[], None]) -> None:
        self.when = when
        self.action = action
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class _Watchdog:
    """One daemon thread that runs every attempt's alarm at its deadline.

    A thread per attempt (threading.Timer) costs a thread start, about 0.2 ms of CPU and 0.7 ms of waiting
    for the thread to come up: more than a small request on a kept-alive connection, paid for every Secret
    a re-encryption PUTs. Alarms run one after another; each only sets an event and shuts a socket.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._alarms: list[tuple[float, int, _Alarm]] = []
        self._order = itertools.count()  # ties on ``when`` never compare alarms
        self._thread: threading.Thread | None = None

    def schedule(self, when: float, action: Callable[[], None]) -> _Alarm:
        """Run ``action`` at ``when`` (time.monotonic()); cancel the returned alarm to skip it."""
        alarm = _Alarm(when, action)
        with self._cond:
            heapq.heappush(self._alarms, (when, next(self._order), alarm))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="kube-watchdog", daemon=True)
                self._thread.start()
            elif self._alarms[0][2] is alarm:  # earlier than what the thread sleeps towards
                self._cond.notify()
        return alarm

    def _run(self) -> None:
        with self._cond:
            while True:
                while self._alarms and self._alarms[0][2].cancelled:
                    heapq.heappop(self._alarms)
                if not self._alarms:
                    self._cond.wait()
                    continue
                wait = self._alarms[0][0] - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                alarm = heapq.heappop(self._alarms)[2]
                self._cond.release()
                try:
                    if not alarm.cancelled:
                        alarm.action()
                except Exception:  # noqa: BLE001 - reported, as a Timer thread's would be; the other alarms still run
                    traceback.print_exc()
                finally:
                    self._cond.acquire()


_WATCHDOG = _Watchdog()


class IdleConnection:
    """At most one idle connection, handed to one attempt at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._conn: DeadlineConnection | None = None

    def take(self) -> DeadlineConnection | None:
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None and not conn.reusable():
            conn.close()
            return None
        return conn

    def give(self, conn: DeadlineConnection) -> None:
        conn.idle_since = time.monotonic()
        with self._lock:
            previous, self._conn = self._conn, conn
        if previous is not None:
            previous.close()

    def close(self) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


def read_bounded(resp: http.client.HTTPResponse, deadline: float, fired: threading.Event) -> bytes:
    """Read at most MAX_BODY_BYTES, checking the deadline between chunks (the watchdog covers blocked reads)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        if fired.is_set() or time.monotonic() > deadline:
            fired.set()
            raise Attempt("timeout", "no complete response within the request deadline (body)")
        chunk = resp.read1(_READ_CHUNK)  # whatever arrived: never waits for a full buffer
        if not chunk:
            if fired.is_set():
                raise Attempt("timeout", "no complete response within the request deadline (body)")
            if resp.length:  # announced bytes missing (read() returns short at EOF)
                raise Attempt("truncated", f"body ended after {size} bytes, {resp.length} more announced")
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise Attempt("oversized", f"body larger than {MAX_BODY_BYTES // 1024} KB")
        chunks.append(chunk)
