"""EKS bearer token and a minimal Kubernetes REST client (http.client + ssl, CA pinned)."""
from __future__ import annotations

import base64
import http.client
import json
import random
import ssl
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any, Callable

import jsonlog

TOKEN_PREFIX = "k8s-aws-v1."
TOKEN_EXPIRES_SECONDS = 60
CLUSTER_ID_HEADER = "x-k8s-aws-id"
# A presigned URL lives 60 s; refresh well before so a slow request never carries a stale token.
TOKEN_REFRESH_SECONDS = 40.0
MAX_BODY_BYTES = 4 * 1024 * 1024


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


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds for one Kubernetes request; every loop below ends on one of these."""

    auth_grace_seconds: float = 90.0  # fresh access entries answer 401/403 for a while
    max_server_retries: int = 5  # 429 and 5xx
    max_connect_attempts: int = 2
    base_backoff_seconds: float = 0.5
    max_backoff_seconds: float = 8.0
    request_timeout_seconds: float = 10.0


CLEANUP_POLICY = RetryPolicy(auth_grace_seconds=0.0, max_server_retries=1, max_connect_attempts=1, request_timeout_seconds=5.0)


class KubeError(Exception):
    """A Kubernetes request that could not succeed; kind drives the operator-facing message."""

    def __init__(self, kind: str, message: str, *, status: int | None = None, method: str = "", resource: str = "") -> None:
        super().__init__(message)
        self.kind = kind  # auth | forbidden | server | unreachable | tls | deadline | http | config
        self.status = status
        self.method = method
        self.resource = resource


class KubeClient:
    """Just enough of the Kubernetes API for the canary: core/v1 secrets and pods in one namespace."""

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
    ) -> None:
        parts = urllib.parse.urlsplit(endpoint)
        if parts.scheme != "https" or not parts.hostname:
            raise KubeError("config", f"cluster endpoint {endpoint!r} is not an https URL")
        self.host = parts.hostname
        self.port = parts.port or 443
        self._ssl = _pinned_context(ca_data_b64)
        self._token_provider = token_provider
        self._token: str | None = None
        self._token_at = 0.0
        self.deadline = deadline
        self.policy = policy
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.calls = 0

    def with_budget(self, seconds: float, policy: RetryPolicy) -> "KubeClient":
        """A client sharing TLS and token settings with its own short deadline (cleanup after a failure)."""
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

    def list(self, plural: str, namespace: str, label_selector: str) -> list[dict[str, Any]]:
        query = urllib.parse.urlencode({"labelSelector": label_selector, "limit": "100"})
        _, body = self.request("GET", f"/api/v1/namespaces/{_q(namespace)}/{plural}?{query}", accept=(200,))
        return list(body.get("items") or [])

    # -- transport ---------------------------------------------------------------------------
    def request(self, method: str, path: str, body: dict[str, Any] | None = None, *, accept: tuple[int, ...] = (200,)) -> tuple[int, dict[str, Any]]:
        """One logical request with bounded retries: 401/403 (grace), 429/5xx (count), connect errors (count)."""
        resource = path.split("?")[0].rsplit("/api/v1/", 1)[-1]
        first_auth_failure: float | None = None
        server_retries = 0
        connect_failures = 0
        attempt = 0
        while True:
            remaining = self.deadline - self._clock()
            if remaining <= 0.5:
                raise KubeError("deadline", f"out of time before {method} {resource}", method=method, resource=resource)
            attempt += 1
            self.calls += 1
            started = self._clock()
            try:
                status, headers, payload = self._send(method, path, body, min(self.policy.request_timeout_seconds, remaining))
            except ssl.SSLCertVerificationError as exc:
                reason = getattr(exc, "verify_message", "") or "verify failed"
                raise KubeError("tls", f"TLS verification of {self.host} failed ({reason})", method=method, resource=resource) from None
            except ssl.SSLError as exc:
                raise KubeError("tls", f"TLS handshake with {self.host} failed ({exc.reason or exc.__class__.__name__})", method=method, resource=resource) from None
            except (OSError, http.client.HTTPException) as exc:
                connect_failures += 1
                jsonlog.warning("k8s.connect_error", method=method, resource=resource, error=exc.__class__.__name__, attempt=attempt)
                if connect_failures >= self.policy.max_connect_attempts:
                    what = "timed out" if isinstance(exc, TimeoutError) else exc.__class__.__name__
                    raise KubeError("unreachable", f"{self.host}:{self.port} {what}", method=method, resource=resource) from None
                self._backoff(connect_failures, None)
                continue
            jsonlog.info("k8s.response", method=method, resource=resource, status=status, attempt=attempt,
                         ms=int((self._clock() - started) * 1000))
            if status in accept:
                return status, payload
            if status in (401, 403):
                now = self._clock()
                first_auth_failure = now if first_auth_failure is None else first_auth_failure
                self._token = None  # a new token costs nothing and rules out a stale one
                if now - first_auth_failure >= self.policy.auth_grace_seconds:
                    kind = "auth" if status == 401 else "forbidden"
                    raise KubeError(kind, _status_message(payload), status=status, method=method, resource=resource)
                self._backoff(attempt, None)
                continue
            if status == 429 or status >= 500:
                server_retries += 1
                if server_retries > self.policy.max_server_retries:
                    raise KubeError("server", _status_message(payload), status=status, method=method, resource=resource)
                self._backoff(server_retries, headers.get("retry-after"))
                continue
            raise KubeError("http", _status_message(payload), status=status, method=method, resource=resource)

    def _bearer(self) -> str:
        now = self._clock()
        if self._token is None or now - self._token_at > TOKEN_REFRESH_SECONDS:
            self._token = self._token_provider()
            self._token_at = now
        return self._token

    def _send(self, method: str, path: str, body: dict[str, Any] | None, timeout: float) -> tuple[int, dict[str, str], dict[str, Any]]:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": f"Bearer {self._bearer()}", "Accept": "application/json", "User-Agent": "eks-envelope-verifier"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        conn = http.client.HTTPSConnection(self.host, self.port, timeout=timeout, context=self._ssl)
        try:
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            raw = resp.read(MAX_BODY_BYTES)
            resp_headers = {k.lower(): v for k, v in resp.getheaders()}
            try:
                payload = json.loads(raw) if raw else {}
            except ValueError:
                payload = {"message": raw[:120].decode("utf-8", "replace")}
            return resp.status, resp_headers, payload if isinstance(payload, dict) else {}
        finally:
            conn.close()

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


def _pinned_context(ca_data_b64: str) -> ssl.SSLContext:
    """Trust only the cluster CA (never the system store, never CERT_NONE) and check the hostname."""
    try:
        pem = base64.b64decode(ca_data_b64, validate=False).decode("ascii")
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cadata=pem)
    except (ValueError, ssl.SSLError, UnicodeDecodeError) as exc:
        raise KubeError("config", f"certificateAuthority.data is not a PEM certificate ({exc.__class__.__name__})") from None
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def _q(part: str) -> str:
    return urllib.parse.quote(part, safe="")


def _status_message(payload: dict[str, Any]) -> str:
    """The Kubernetes Status message (never an object body), shortened for a CloudFormation reason."""
    msg = payload.get("message") if payload.get("kind", "Status") == "Status" else ""
    return str(msg or "")[:100]
