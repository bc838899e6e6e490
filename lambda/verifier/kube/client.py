"""EKS bearer token and a minimal Kubernetes REST client: the cluster CA only, a wall-clock deadline per request.

This module decides what a request means and what to retry; ``transport`` makes one attempt over a
kept-alive TLS connection and classifies what went wrong.
"""
from __future__ import annotations

import base64
import json
import random
import ssl
import time
import urllib.parse
from typing import Any, Callable

from .. import jsonlog
from ..model import CLEANUP_POLICY, RetryPolicy
from ..text import scrub
from .transport import MAX_BODY_BYTES, Attempt, IdleConnection, Target, send_once

__all__ = ["KINDS", "MAX_BODY_BYTES", "KubeClient", "KubeError", "RetryPolicy", "make_token",
           "pinned_context", "sts_endpoint", "CLEANUP_POLICY"]

TOKEN_PREFIX = "k8s-aws-v1."
TOKEN_EXPIRES_SECONDS = 60
CLUSTER_ID_HEADER = "x-k8s-aws-id"
# A presigned URL lives 60 s; refresh well before so a slow request never carries a stale token.
TOKEN_REFRESH_SECONDS = 40.0
#: JSON deeper than this is not a Kubernetes object (and would exhaust the parser's recursion).
MAX_JSON_DEPTH = 64


def sts_endpoint(region: str) -> str:
    """Regional STS endpoint: the API server accepts it and it avoids the global endpoint's us-east-1 dependency."""
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"https://sts.{region}.{suffix}"


def make_token(sts_client: Any, cluster_name: str) -> str:
    """Return an EKS bearer token: a presigned STS GetCallerIdentity URL with x-k8s-aws-id signed."""

    def add_cluster_id(request: Any, **_: Any) -> None:
        request.headers[CLUSTER_ID_HEADER] = cluster_name

    event = "before-sign.sts.GetCallerIdentity"
    unique_id = f"eks-envelope-token-{id(add_cluster_id)}"
    sts_client.meta.events.register(event, add_cluster_id, unique_id=unique_id)
    try:
        url = sts_client.generate_presigned_url(
            "get_caller_identity", Params={}, ExpiresIn=TOKEN_EXPIRES_SECONDS, HttpMethod="GET"
        )
    finally:
        sts_client.meta.events.unregister(event, unique_id=unique_id)
    return TOKEN_PREFIX + base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")


#: What went wrong, one kind per cause an operator fixes differently (checks map each to a reason and fix).
KINDS = (
    "config",  # endpoint or CA unusable: nothing was sent
    "connect",  # no TCP connection (refused, unroutable, connect timeout)
    "tls",  # handshake or certificate verification failed: nothing was sent
    "timeout",  # connected, but no complete response within the request deadline
    "lost",  # connection closed before any response arrived
    "truncated",  # the body ended before its announced length
    "oversized",  # the body is larger than MAX_BODY_BYTES
    "unparsable",  # not JSON (or nested beyond MAX_JSON_DEPTH)
    "shape",  # JSON, but not an object where one is required
    "redirect",  # a 3xx: never followed (the token must not travel elsewhere)
    "auth",  # 401 after the grace period
    "forbidden",  # 403 after the grace period
    "server",  # 429/5xx after bounded retries
    "http",  # any other unexpected status
    "deadline",  # the stage budget ran out before or between attempts
)


class KubeError(Exception):
    """A Kubernetes request that could not succeed; ``kind`` (one of KINDS) drives the operator-facing message."""

    def __init__(self, kind: str, message: str, *, status: int | None = None, method: str = "", resource: str = "",
                 sent: bool = True) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.method = method
        self.resource = resource
        self.sent = sent  # False: no attempt got past TCP/TLS, so the request cannot have taken effect


class KubeClient:
    """Just enough of the Kubernetes API for the canary, plus a generic ``request`` (e.g. re-encryption)."""

    def __init__(
        self,
        endpoint: str,
        ca_data_b64: str,
        token_provider: Callable[[], str],
        *,
        deadline: float,
        policy: RetryPolicy = RetryPolicy(),
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        x509_strict: bool = True,
    ) -> None:
        # Both checks come before any token is minted, let alone sent.
        parts = urllib.parse.urlsplit(endpoint or "")
        if parts.scheme != "https" or not parts.hostname or parts.username or parts.password:
            raise KubeError("config", f"cluster endpoint {scrub(endpoint, 60)!r} is not an https URL")
        self.host = parts.hostname
        try:
            self.port = parts.port or 443
        except ValueError:
            raise KubeError("config", f"cluster endpoint {scrub(endpoint, 60)!r} has an invalid port") from None
        self._target = Target(self.host, self.port, pinned_context(ca_data_b64, x509_strict=x509_strict), IdleConnection())
        self._token_provider = token_provider
        self._token: str | None = None
        self._token_at = 0.0
        self.deadline = deadline
        self.policy = policy
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.calls = 0

    def close(self) -> None:
        """Close the idle connection, if any (the client stays usable: the next request opens a new one)."""
        self._target.idle.close()  # shared with with_budget() clones: one connection per client

    def __enter__(self) -> "KubeClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def with_budget(self, seconds: float, policy: RetryPolicy) -> "KubeClient":
        """A client sharing TLS, token and the kept-alive connection, with its own short deadline (cleanup after a failure)."""
        clone = object.__new__(KubeClient)
        clone.__dict__.update(self.__dict__)
        clone.deadline = self._clock() + seconds
        clone.policy = policy
        clone.calls = 0
        return clone

    # -- resources ---------------------------------------------------------------------------
    def create(self, plural: str, namespace: str, manifest: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return self.request("POST", f"/api/v1/namespaces/{_q(namespace)}/{plural}", manifest, accept=(201, 200, 202, 409))

    def get(self, plural: str, namespace: str, name: str) -> tuple[int, dict[str, Any]]:
        return self.request("GET", f"/api/v1/namespaces/{_q(namespace)}/{plural}/{_q(name)}", accept=(200, 404))

    def delete(self, plural: str, namespace: str, name: str) -> int:
        body = {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0, "propagationPolicy": "Background"}
        status, _ = self.request("DELETE", f"/api/v1/namespaces/{_q(namespace)}/{plural}/{_q(name)}", body, accept=(200, 202, 404))
        return status

    def list_pages(self, plural: str, namespace: str, label_selector: str, *, limit: int = 50, max_pages: int = 40) -> Any:
        """Yield the items of every page, following ``metadata.continue``; bounded by max_pages."""
        token = ""
        for _ in range(max_pages):
            query = {"labelSelector": label_selector, "limit": str(limit)}
            if token:
                query["continue"] = token
            _, body = self.request("GET", f"/api/v1/namespaces/{_q(namespace)}/{plural}?{urllib.parse.urlencode(query)}")
            items = body.get("items") or []
            if not isinstance(items, list):
                raise KubeError("shape", f"{plural} list has items of type {type(items).__name__}", method="GET", resource=plural)
            yield from (item for item in items if isinstance(item, dict))
            meta = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
            token = meta.get("continue") if isinstance(meta.get("continue"), str) else ""
            if not token:
                return
        raise KubeError("shape", f"{plural} list still continues after {max_pages} pages", method="GET", resource=plural)

    # -- transport ---------------------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        accept: tuple[int, ...] = (200,),
        text: bool = False,
    ) -> tuple[int, Any]:
        """One logical request with bounded retries: 401/403 (grace), 429/5xx (count), connect errors (count).

        Returns (status, JSON object) — or (status, str) with ``text=True`` (health endpoints). Every attempt
        is bounded by a wall-clock deadline: min(stage deadline, policy.request_timeout_seconds from now).
        Sending a request again is safe for every caller: GET and DELETE are idempotent, a canary POST
        uses a name recorded before it and accepts 409 as its own object, a re-encryption PUT carries its
        resourceVersion (a repeat answers 409 and is re-read).
        """
        resource = path.split("?")[0].rsplit("/api/v1/", 1)[-1]
        data = json.dumps(body).encode() if body is not None else None
        accept_type = "text/plain" if text else "application/json"
        first_auth_failure: float | None = None
        server_retries = 0
        connect_failures = 0
        attempt = 0
        sent = False
        while True:
            remaining = self.deadline - self._clock()
            if remaining <= 0.5:
                raise KubeError("deadline", f"out of time before {method} {resource}", method=method, resource=resource, sent=sent)
            attempt += 1
            self.calls += 1
            started = self._clock()
            budget = min(self.policy.request_timeout_seconds, remaining)
            try:
                resp = send_once(self._target, method, path, data, lambda: self._headers(accept_type, data), budget)
            except Attempt as exc:
                sent = sent or exc.sent
                if exc.kind in ("connect", "lost"):
                    connect_failures += 1
                    jsonlog.warning("k8s.attempt_failed", method=method, resource=resource, kind=exc.kind, attempt=attempt)
                    if connect_failures < self.policy.max_connect_attempts:
                        self._backoff(connect_failures, None)
                        continue
                raise KubeError(exc.kind, str(exc), method=method, resource=resource, sent=sent) from None
            sent = True
            status = resp.status
            jsonlog.info("k8s.response", method=method, resource=resource, status=status, attempt=attempt,
                         ms=int((self._clock() - started) * 1000))
            if 300 <= status < 400:
                where = scrub(resp.headers.get("location", ""), 60)
                raise KubeError("redirect", f"{status} redirect to {where or '?'}, not followed", status=status, method=method, resource=resource)
            if status in accept:
                if text:
                    return status, scrub(resp.raw.decode("utf-8", "replace"), 4000, keep_newlines=True)
                return status, _json_object(resp.raw, method, resource, status)
            message = _status_message(resp.raw)
            if status in (401, 403):
                now = self._clock()
                first_auth_failure = now if first_auth_failure is None else first_auth_failure
                self._token = None  # a new token costs nothing and rules out a stale one
                if now - first_auth_failure >= self.policy.auth_grace_seconds:
                    kind = "auth" if status == 401 else "forbidden"
                    raise KubeError(kind, message, status=status, method=method, resource=resource)
                self._backoff(attempt, None)
                continue
            if status == 429 or status >= 500:
                server_retries += 1
                if server_retries > self.policy.max_server_retries:
                    raise KubeError("server", message, status=status, method=method, resource=resource)
                self._backoff(server_retries, resp.headers.get("retry-after"))
                continue
            raise KubeError("http", message, status=status, method=method, resource=resource)

    def _bearer(self) -> str:
        now = self._clock()
        if self._token is None or now - self._token_at > TOKEN_REFRESH_SECONDS:
            self._token = self._token_provider()
            self._token_at = now
        return self._token

    def _headers(self, accept: str, data: bytes | None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self._bearer()}", "Accept": accept, "User-Agent": "eks-envelope-verifier"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        return headers

    def _backoff(self, attempt: int, retry_after: str | None) -> None:
        delay = min(self.policy.max_backoff_seconds, self.policy.base_backoff_seconds * (2 ** (attempt - 1)))
        delay = self._rng.uniform(delay / 2, delay)  # jitter: spread retries from concurrent deploys
        if retry_after:
            try:
                delay = max(delay, min(float(retry_after), self.policy.max_backoff_seconds))
            except ValueError:
                pass
        delay = min(delay, max(0.0, self.deadline - self._clock() - 0.5))
        if delay > 0:
            self._sleep(delay)


def pinned_context(ca_data_b64: str, *, x509_strict: bool = True) -> ssl.SSLContext:
    """Trust exactly the cluster CA: never the system store, never CERT_NONE; check the hostname.

    ``ssl.SSLContext(PROTOCOL_TLS_CLIENT)`` loads no default certificates (``create_default_context``
    would fall back to the system store when given no CA data). An empty, undecodable or certificate-less
    bundle raises before any connection is made. ``x509_strict=False`` clears only VERIFY_X509_STRICT
    (Python 3.13+'s default), for CAs of clusters first created before Kubernetes 1.17 (no Authority Key
    Identifier); the CA and hostname checks stay.
    """
    text = (ca_data_b64 or "").strip()
    if not text:
        raise KubeError("config", "certificateAuthority.data from DescribeCluster is empty")
    try:
        pem = base64.b64decode(text, validate=True).decode("ascii")
    except (ValueError, UnicodeDecodeError):
        raise KubeError("config", "certificateAuthority.data is not base64 of a PEM bundle") from None
    if "-----BEGIN CERTIFICATE-----" not in pem:
        raise KubeError("config", "certificateAuthority.data holds no PEM certificate")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        ctx.load_verify_locations(cadata=pem)
    except (ssl.SSLError, ValueError) as exc:
        raise KubeError("config", f"certificateAuthority.data is not a usable certificate ({type(exc).__name__})") from None
    if not ctx.get_ca_certs():
        raise KubeError("config", "certificateAuthority.data holds no CA certificate")
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    if x509_strict:
        ctx.verify_flags |= ssl.VERIFY_X509_STRICT
    else:
        ctx.verify_flags &= ~ssl.VERIFY_X509_STRICT
    return ctx


def _json_object(raw: bytes, method: str, resource: str, status: int) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except RecursionError:
        raise KubeError("unparsable", f"{status} body nests deeper than Python can parse", status=status, method=method, resource=resource) from None
    except ValueError:
        raise KubeError("unparsable", f"{status} body is not JSON: {scrub(raw[:200].decode('utf-8', 'replace'), 60)!r}",
                        status=status, method=method, resource=resource) from None
    if not isinstance(value, dict):
        raise KubeError("shape", f"{status} body is a JSON {type(value).__name__}, not an object", status=status, method=method, resource=resource)
    if _depth(value) > MAX_JSON_DEPTH:
        raise KubeError("unparsable", f"{status} body nests deeper than {MAX_JSON_DEPTH} levels", status=status, method=method, resource=resource)
    return value


def _depth(value: Any) -> int:
    """Nesting depth without recursion (a hostile body must not exhaust the stack here either)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        if level > MAX_JSON_DEPTH:
            break
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        stack.extend((child, level + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


def _status_message(raw: bytes) -> str:
    """The Kubernetes Status message when the body is one; otherwise scrubbed text. Never an object body."""
    try:
        payload = json.loads(raw) if raw else {}
    except (ValueError, RecursionError):
        return scrub(raw[:400].decode("utf-8", "replace"), 100)
    if isinstance(payload, dict) and payload.get("kind", "Status") == "Status" and isinstance(payload.get("message"), str):
        return scrub(payload["message"], 100)
    return ""


def _q(part: str) -> str:
    return urllib.parse.quote(part, safe="")
