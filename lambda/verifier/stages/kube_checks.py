"""Kubernetes-side checks: the canary Secret round trip, the Fargate pod, KMS provider health, canary hygiene."""
from __future__ import annotations

import base64
import binascii
import secrets
from datetime import datetime, timezone
from typing import Any, Callable

from .. import jsonlog
from .. import kube
from ..text import scrub
from ..model import (
    CANARY_PREFIX,
    MANAGED_BY_LABEL,
    OWNER_ANNOTATION,
    OWNER_LABEL,
    RUN_ANNOTATION,
    Canary,
    Config,
    Outcome,
    Runtime,
    VerificationError,
)

#: What an operator does about each transport failure kind (kube.KINDS): the fix of the reason.
KUBE_FIXES = {
    "config": "Refusing to send the token. Check endpoint and certificateAuthority from DescribeCluster.",
    "connect": "Endpoint access is private: run the verifier in the cluster VPC and allow 443 from its security group.",
    "tls": "Refusing to continue: the API server certificate must chain to certificateAuthority from DescribeCluster.",
    "timeout": "The endpoint accepted the connection but did not answer in time: check the control plane, then retry.",
    "lost": "The connection dropped before an answer: check proxies/firewalls on the path, then retry.",
    "truncated": "The response was cut short (proxy or network): retry; if it repeats, check the path to the endpoint.",
    "oversized": "The response is far larger than any canary object: check what answers at the cluster endpoint.",
    "unparsable": "The endpoint did not answer with Kubernetes JSON: check what answers at the cluster endpoint.",
    "shape": "The endpoint answered JSON that is not the expected Kubernetes object: check admission webhooks or proxies.",
    "redirect": "Redirects are never followed with a token: check the endpoint from DescribeCluster and any proxy.",
    "forbidden": "Check the verifier role's access entry and its access policy (AmazonEKSEditPolicy) scoped to the canary namespace.",
    "auth": "Check authenticationMode includes API and an access entry exists for the verifier role.",
    "server": "Control plane or KMS overloaded: retry the deploy later.",
    "deadline": "Raise the verifier Lambda timeout or lower PodTimeoutSeconds/CloudTrailWaitSeconds.",
    "http": "Check the access policy and admission webhooks in the canary namespace.",
}
_PROBLEMS = {
    "forbidden": "Kubernetes API keeps answering 403 to {what}",
    "auth": "Kubernetes API keeps rejecting the token (401) on {what}",
    "server": "Kubernetes API answered {status} to {what} after bounded retries ({msg})",
    "connect": "cannot connect to the cluster endpoint ({msg})",
    "tls": "{msg}",
    "timeout": "no answer to {what} within the deadline ({msg})",
    "lost": "the response to {what} was lost ({msg})",
    "truncated": "truncated response to {what} ({msg})",
    "oversized": "oversized response to {what} ({msg})",
    "unparsable": "unparsable response to {what} ({msg})",
    "shape": "response to {what} has the wrong shape ({msg})",
    "redirect": "{what} answered a redirect ({msg})",
    "deadline": "ran out of time ({msg})",
    "config": "{msg}",
    "http": "{what} answered {status}: {msg}",
}


def kube_failure(stage: str, exc: kube.KubeError) -> VerificationError:
    """Translate a transport failure into the reason and fix an operator can act on (server text is scrubbed)."""
    kind = exc.kind if exc.kind in _PROBLEMS else "http"
    what = f"{exc.method} {exc.resource}".strip() or "the request"
    problem = _PROBLEMS[kind].format(what=what, status=exc.status, msg=scrub(str(exc), 100))
    return VerificationError(stage, problem, KUBE_FIXES[kind])


# ---------------------------------------------------------------------------------------------
# canary identity


def labels(config: Config) -> dict[str, str]:
    return {config.label_key: config.label_value, MANAGED_BY_LABEL[0]: MANAGED_BY_LABEL[1], OWNER_LABEL: config.owner_hash}


def metadata(config: Config, name: str) -> dict[str, Any]:
    return {"name": name, "namespace": config.namespace, "labels": labels(config),
            "annotations": {OWNER_ANNOTATION: config.owner[:500], RUN_ANNOTATION: config.run_id[:200]}}


def _field(obj: Any, *path: str) -> Any:
    """obj[path0][path1]... or None when any level is missing or not an object (hostile bodies)."""
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def is_this_run(obj: dict[str, Any], config: Config) -> bool:
    annotations = _field(obj, "metadata", "annotations") or {}
    return isinstance(annotations, dict) and annotations.get(RUN_ANNOTATION) == config.run_id[:200] \
        and annotations.get(OWNER_ANNOTATION) == config.owner[:500]


def create_canary(client: kube.KubeClient, plural: str, config: Config, canary: Canary, build: Callable[[str], dict[str, Any]]) -> str:
    """POST under a fresh name that is recorded first, so a lost response still gets the object cleaned up.

    409 on our own fresh name means an earlier attempt of this run landed (its response was lost): keep it.
    409 on an object of someone else means a name clash: try another name.
    """
    for _ in range(3):
        name = CANARY_PREFIX + secrets.token_hex(5)
        canary.attempted.append((plural, name))
        try:
            status, _ = client.create(plural, config.namespace, build(name))
        except kube.KubeError as exc:
            if not exc.sent:  # never got past TCP/TLS: nothing can exist under this name
                canary.attempted.remove((plural, name))
            raise
        if status != 409:
            return name
        got, existing = client.get(plural, config.namespace, name)
        if got == 200 and is_this_run(existing, config):
            return name
    raise kube.KubeError("http", f"409 Conflict on three fresh {plural} names", status=409, method="POST", resource=plural)


# ---------------------------------------------------------------------------------------------
# stage: secret round trip


def verify_secret_roundtrip(client: kube.KubeClient, config: Config, canary: Canary) -> Outcome:
    """Write a random canary Secret through the API server (KMS envelope), read it back, compare."""

    def manifest(name: str) -> dict[str, Any]:
        return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": metadata(config, name),
                "data": {"value": base64.b64encode(canary.value.encode()).decode()}}

    canary.secret_name = create_canary(client, "secrets", config, canary, manifest)
    status, obj = client.get("secrets", config.namespace, canary.secret_name)
    if status == 404:
        raise VerificationError("secret-roundtrip", f"canary Secret {canary.secret_name} vanished right after create",
                                f"Check admission webhooks/controllers in {config.namespace}.")
    encoded = _field(obj, "data", "value")
    if not isinstance(encoded, str):
        raise VerificationError("secret-roundtrip", f"the Secret read back has no string data.value (got {type(encoded).__name__})",
                                KUBE_FIXES["shape"])
    try:
        read_back = base64.b64decode(encoded, validate=True).decode()
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise VerificationError("secret-roundtrip", "the Secret read back has data.value that is not base64 text", KUBE_FIXES["shape"]) from None
    if not secrets.compare_digest(read_back.encode(), canary.value.encode()):
        raise VerificationError("secret-roundtrip", "the API server returned a different Secret value than was written",
                                "Check the KMS provider and the cluster health (possible tampering or corruption).")
    return Outcome(detail=f"secret {canary.secret_name} written, read back equal", evidence=("api-roundtrip",))


# ---------------------------------------------------------------------------------------------
# stage: pod on Fargate


def pod_manifest(config: Config, canary: Canary, name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata(config, name),
        "spec": {
            "restartPolicy": "Never",
            "automountServiceAccountToken": False,
            "terminationGracePeriodSeconds": 0,
            "containers": [{
                "name": "canary",
                "image": config.pod_image,
                "command": ["sh", "-c", "sha256sum /canary/value | cut -d' ' -f1 > /dev/termination-log"],
                "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"cpu": "250m", "memory": "256Mi"}},
                "volumeMounts": [{"name": "canary", "mountPath": "/canary", "readOnly": True}],
                "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "runAsNonRoot": True,
                                    "runAsUser": 65534, "capabilities": {"drop": ["ALL"]}},
            }],
            "volumes": [{"name": "canary", "secret": {"secretName": canary.secret_name}}],
        },
    }


def verify_pod_read(client: kube.KubeClient, config: Config, canary: Canary, runtime: Runtime) -> Outcome:
    """A Fargate pod mounts the canary Secret and reports sha256(value) as its termination message."""
    canary.pod_name = create_canary(client, "pods", config, canary, lambda name: pod_manifest(config, canary, name))
    until = min(runtime.clock() + config.pod_timeout_seconds, runtime.stage_deadline() - 5.0)
    while True:
        status, pod = client.get("pods", config.namespace, canary.pod_name)
        if status == 404:
            raise VerificationError("pod-read", f"canary pod {canary.pod_name} disappeared while running", f"Check admission controllers in {config.namespace}.")
        statuses = _field(pod, "status", "containerStatuses")
        container = statuses[0] if isinstance(statuses, list) and statuses and isinstance(statuses[0], dict) else {}
        terminated = _field(container, "state", "terminated")
        if isinstance(terminated, dict):
            break
        if runtime.clock() >= until:
            conditions = _field(pod, "status", "conditions")
            scheduled = isinstance(conditions, list) and any(
                isinstance(c, dict) and c.get("type") == "PodScheduled" and c.get("status") == "True" for c in conditions)
            if not scheduled:
                raise VerificationError("pod-read", f"pod never scheduled in {int(config.pod_timeout_seconds)}s",
                                        f"Check the Fargate profile selector for namespace {config.namespace} + label "
                                        f"{config.label_key}={config.label_value} (profile ACTIVE?).")
            waiting = _field(container, "state", "waiting", "reason") or _field(pod, "status", "phase") or "?"
            raise VerificationError("pod-read", f"pod scheduled but not finished in {int(config.pod_timeout_seconds)}s ({scrub(waiting, 40)})",
                                    f"Check that {config.pod_image} can be pulled (NAT or ECR endpoints).")
        runtime.sleep(max(0.0, min(runtime.pod_poll_seconds, until - runtime.clock())))
    exit_code = terminated.get("exitCode")
    if exit_code != 0:
        raise VerificationError("pod-read", f"canary pod exited {scrub(exit_code, 12)} ({scrub(terminated.get('reason', '?'), 40)})",
                                "Check the image has sh/sha256sum and the Secret mounted.")
    message = terminated.get("message")
    message = message.strip() if isinstance(message, str) else ""
    if not secrets.compare_digest(message.encode(), canary.digest.encode()):
        raise VerificationError("pod-read", "the pod read a different value from the mounted Secret than the API server stored",
                                "Check the KMS provider and cluster health.")
    return Outcome(detail=f"pod {canary.pod_name} read the canary (sha256 matched)", evidence=("pod-read",))


# ---------------------------------------------------------------------------------------------
# stage: the API server's own KMS provider health


def verify_kms_provider_health(client: kube.KubeClient, runtime: Runtime) -> Outcome:
    """``GET /readyz?verbose``: its ``kms-providers`` / ``kms-provider-N`` lines, when the server shows them.

    RBAC's ``system:public-info-viewer`` lets every authenticated user GET ``/readyz`` (not
    ``/readyz/<check>``). Whether EKS lists its KMS checks there is not documented: absent lines, 401/403/404
    are "unavailable" (no evidence, no failure); a failed KMS line fails the stage.
    """
    probe = client.with_budget(min(runtime.health_seconds, max(1.0, runtime.stage_deadline() - runtime.clock())),
                               kube.RetryPolicy(auth_grace_seconds=0.0, max_server_retries=0, max_connect_attempts=1,
                                                request_timeout_seconds=runtime.health_seconds))
    try:
        status, text = probe.request("GET", "/readyz?verbose", accept=(200, 401, 403, 404, 500, 503), text=True)
    finally:
        client.calls += probe.calls
    if status in (401, 403, 404):
        return Outcome("unavailable", f"/readyz?verbose answered {status}: not visible to the verifier")
    lines = [line.strip() for line in str(text).splitlines()]
    kms = [line for line in lines if line[3:].startswith("kms-provider")]
    failed = [line for line in kms if line.startswith("[-]")]
    if failed:
        raise VerificationError("kms-health", f"the API server reports {scrub(failed[0][3:], 80)}",
                                "Check the key (Enabled, not pending deletion) and the cluster's grant, then cluster health.")
    if kms and all(line.startswith("[+]") for line in kms):
        names = ", ".join(sorted({line[3:].split()[0] for line in kms}))
        return Outcome(detail=f"/readyz?verbose: {names} ok", evidence=("kms-provider-healthy",))
    return Outcome("unavailable", f"/readyz?verbose answered {status} without a KMS provider check")


# ---------------------------------------------------------------------------------------------
# canary hygiene


#: Failures after which the next request to the endpoint would fail the same way.
UNREACHABLE = ("connect", "tls", "timeout", "deadline", "config", "lost")


def cleanup_canary(client: kube.KubeClient | None, config: Config, canary: Canary, runtime: Runtime) -> tuple[int, list[str], bool]:
    """Delete every name this run recorded (pods first); never raises. Returns (calls, leftovers, endpoint usable)."""
    if client is None or not canary.attempted:
        return 0, [], True
    short = client.with_budget(runtime.cleanup_seconds * 0.6, runtime.cleanup_policy)
    leftovers: list[str] = []
    usable = True
    ordered = [a for a in canary.attempted if a[0] == "pods"] + [a for a in canary.attempted if a[0] != "pods"]
    for plural, name in ordered:
        if not usable:
            leftovers.append(f"{plural}/{name}")
            continue
        try:
            short.delete(plural, config.namespace, name)
        except Exception as exc:  # noqa: BLE001 - cleanup must never mask the verdict
            leftovers.append(f"{plural}/{name}")
            usable = not (isinstance(exc, kube.KubeError) and exc.kind in UNREACHABLE)
            jsonlog.warning("cleanup.failed", kind=plural, name=name, error=scrub(exc, 120))
    return short.calls, leftovers, usable


def _age_seconds(obj: dict[str, Any], now: datetime) -> float | None:
    stamp = _field(obj, "metadata", "creationTimestamp")
    if not isinstance(stamp, str):
        return None
    try:
        created = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    if created.tzinfo is None:
        created = created.replace(tzinfo=timezone.utc)
    return (now - created).total_seconds()


def provably_ours(obj: dict[str, Any], config: Config, runtime: Runtime) -> bool:
    """Prefix + our labels (checked here, not trusted to the server's filter) + (our owner or abandoned).

    Never this run's objects (its own cleanup handles them) and never a canary young enough to be in
    flight for another run: our owner's after ``in_flight_max_seconds``, anyone's after ``abandoned_after_seconds``.
    """
    name = _field(obj, "metadata", "name")
    obj_labels = _field(obj, "metadata", "labels")
    if not isinstance(name, str) or not name.startswith(CANARY_PREFIX) or not isinstance(obj_labels, dict):
        return False
    if obj_labels.get(config.label_key) != config.label_value or obj_labels.get(MANAGED_BY_LABEL[0]) != MANAGED_BY_LABEL[1]:
        return False
    if is_this_run(obj, config):
        return False
    age = _age_seconds(obj, runtime.now_utc())
    if age is None:
        return False
    if obj_labels.get(OWNER_LABEL) == config.owner_hash:
        return age > runtime.in_flight_max_seconds
    return age > runtime.abandoned_after_seconds


def sweep_canaries(client: kube.KubeClient, config: Config, runtime: Runtime) -> tuple[int, list[str]]:
    """Delete leftover canaries that are provably ours, paging through all of them. Returns (deleted, leftovers)."""
    deleted = 0
    leftovers: list[str] = []
    for plural in ("pods", "secrets"):
        try:
            found = [obj for obj in client.list_pages(plural, config.namespace, config.label_selector) if provably_ours(obj, config, runtime)]
        except kube.KubeError as exc:
            jsonlog.warning("sweep.list_failed", kind=plural, error=scrub(exc, 120), failure=exc.kind)
            if exc.kind in UNREACHABLE:
                break  # the next call would fail the same way; Delete must return quickly
            continue
        for obj in found:
            name = obj["metadata"]["name"]
            try:
                client.delete(plural, config.namespace, name)
                deleted += 1
            except Exception as exc:  # noqa: BLE001
                leftovers.append(f"{plural}/{name}")
                jsonlog.warning("sweep.delete_failed", kind=plural, name=name, error=scrub(exc, 120))
    return deleted, leftovers


def leftover_note(leftovers: list[str], namespace: str) -> str:
    """The part of a reason that names canaries still on the cluster (shortest form that still says what to do)."""
    if not leftovers:
        return ""
    names = ", ".join(leftovers[:3]) + (f" +{len(leftovers) - 3}" if len(leftovers) > 3 else "")
    return f"Left on the cluster (delete them in {namespace}): {names}."
