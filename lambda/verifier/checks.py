"""Verification stages: pure-ish functions over injected clients, config and clock."""
from __future__ import annotations

import base64
import hashlib
import json
import random
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from botocore.exceptions import BotoCoreError, ClientError

import jsonlog
import kube

DEFAULT_NAMESPACE = "default"
CANARY_LABEL_KEY = "eks-envelope.io/canary"
CANARY_LABEL_VALUE = "verifier"
DEFAULT_POD_IMAGE = "public.ecr.aws/docker/library/busybox:stable"
CANARY_PREFIX = "eks-envelope-canary-"
MAX_REASON = 256
# ClusterIssueCode values (botocore EKS model) that mean the cluster cannot use its KMS key.
KMS_ISSUE_FIXES = {
    "KmsKeyDisabled": "Re-enable the key (EnableKey) within 30 days or the cluster becomes unrecoverable.",
    "KmsKeyMarkedForDeletion": "Cancel the deletion (CancelKeyDeletion) and re-enable the key now.",
    "KmsGrantRevoked": "The EKS grant on the key was revoked; EKS cannot recover it: recreate the cluster.",
    "KmsKeyNotFound": "The key no longer exists; secrets cannot be decrypted: recreate the cluster.",
}
KMS_CRYPTO_EVENTS = {"Encrypt", "Decrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "ReEncrypt"}
THROTTLE_CODES = {"ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded"}
_ROLE_ARN = re.compile(r"^arn:(aws[\w-]*):(iam|sts)::(\d{12}):(role|assumed-role)/(.+)$")
_ANY_ARN = re.compile(r"arn:aws[\w-]*:[\w-]+:[\w-]*:\d*:([\w/+=,.@:-]+)")


class VerificationError(Exception):
    """A failed stage; str() is the CloudFormation reason (<= 256 chars, names the check and the fix)."""

    def __init__(self, stage: str, message: str) -> None:
        self.stage = stage
        self.detail = message
        self.results: list[StageResult] = []
        super().__init__(fit_reason(f"Stage {stage}: {message}"))


def fit_reason(text: str, limit: int = MAX_REASON) -> str:
    """Shorten ARNs to their resource part first, then truncate, so the check name and fix survive."""
    if len(text) <= limit:
        return text
    text = _ANY_ARN.sub(lambda m: m.group(1), text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class Config:
    cluster_name: str
    expected_key: str | None = None  # None: take the cluster's own key (workstation mode)
    cluster_role_arn: str | None = None  # None: take roleArn from DescribeCluster
    namespace: str = DEFAULT_NAMESPACE
    label_key: str = CANARY_LABEL_KEY
    label_value: str = CANARY_LABEL_VALUE
    pod_check: bool = False
    pod_image: str = DEFAULT_POD_IMAGE
    pod_timeout_seconds: float = 300.0
    cloudtrail_check: bool = False
    cloudtrail_wait_seconds: float = 120.0
    secret_check: bool = True  # False: cluster and key stages only (scheduled runs without the round trip)

    @property
    def label_selector(self) -> str:
        return f"{self.label_key}={self.label_value}"


@dataclass
class Clients:
    eks: Any
    kms: Any
    cloudtrail: Any | None
    token_provider: Callable[[str], str]  # cluster name -> bearer token


@dataclass
class Runtime:
    """Time and retry knobs; tests inject a fake clock/sleep so the fault matrix runs in milliseconds."""

    deadline: float
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    now_utc: Callable[[], datetime] = lambda: datetime.now(timezone.utc)
    rng: random.Random = field(default_factory=random.Random)
    kube_policy: kube.RetryPolicy = field(default_factory=kube.RetryPolicy)
    pod_poll_seconds: float = 5.0
    cloudtrail_poll_seconds: float = 20.0
    cloudtrail_min_interval_seconds: float = 0.5  # LookupEvents allows 2 requests per second
    cloudtrail_lookback_seconds: float = 3600.0
    cleanup_seconds: float = 15.0
    cleanup_policy: kube.RetryPolicy = field(default_factory=lambda: kube.CLEANUP_POLICY)

    def remaining(self) -> float:
        return self.deadline - self.clock()


@dataclass
class StageResult:
    name: str
    status: str  # passed | failed | skipped | found | not-yet-delivered
    ms: int = 0
    aws: int = 0
    k8s: int = 0
    detail: str = ""

    def as_summary(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "ms": self.ms, "aws": self.aws, "k8s": self.k8s, "detail": self.detail[:160]}


@dataclass
class ClusterFacts:
    name: str
    endpoint: str
    ca_data: str
    role_arn: str
    key_arn: str
    key_metadata: dict[str, Any]
    notes: list[str] = field(default_factory=list)


@dataclass
class Canary:
    """The canary's identity; the value lives only in memory (repr hides it)."""

    value: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    secret_name: str | None = None
    pod_name: str | None = None

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.value.encode()).hexdigest()


@dataclass
class Report:
    results: list[StageResult]
    key_arn: str | None
    cluster_name: str

    @property
    def passed(self) -> bool:
        return all(r.status != "failed" for r in self.results)

    def summary_json(self) -> str:
        body = {
            "cluster": self.cluster_name,
            "stages": [r.as_summary() for r in self.results],
            "aws": sum(r.aws for r in self.results),
            "k8s": sum(r.k8s for r in self.results),
            "ms": sum(r.ms for r in self.results),
        }
        return json.dumps(body, separators=(",", ":"))


class CallCounter:
    """Counts AWS API calls of one stage (paginated calls count per page)."""

    def __init__(self) -> None:
        self.aws = 0

    def call(self, fn: Callable[..., Any], **kwargs: Any) -> Any:
        self.aws += 1
        return fn(**kwargs)


# ---------------------------------------------------------------------------------------------
# helpers


def role_identity(arn: str) -> tuple[str, str, str] | str:
    """(partition, account, role name) for role and assumed-role ARNs; paths ignored as IAM does for uniqueness."""
    m = _ROLE_ARN.match(arn or "")
    if not m:
        return arn or ""
    partition, _svc, account, kind, rest = m.groups()
    name = rest.split("/")[-1] if kind == "role" else rest.split("/")[0]
    return (partition, account, name)


def same_role(a: str, b: str) -> bool:
    return bool(a) and bool(b) and role_identity(a) == role_identity(b)


def _code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "Unknown")


def _describe_key(kms_client: Any, key_id: str, calls: CallCounter, what: str) -> dict[str, Any]:
    try:
        return calls.call(kms_client.describe_key, KeyId=key_id)["KeyMetadata"]
    except ClientError as exc:
        code = _code(exc)
        if code == "NotFoundException":
            raise VerificationError("cluster", f"{what} {key_id} not found (DescribeKey). Check the key ARN/alias and region.") from None
        raise VerificationError("cluster", f"DescribeKey on {what} {key_id} failed ({code}). Allow kms:DescribeKey to the verifier.") from None


# ---------------------------------------------------------------------------------------------
# stage 1: cluster


def verify_cluster(eks: Any, kms_client: Any, config: Config, calls: CallCounter) -> ClusterFacts:
    """Cluster ACTIVE, secrets encrypted with the expected key (resolved, never by alias name), no KMS health issue."""
    try:
        cluster = calls.call(eks.describe_cluster, name=config.cluster_name)["cluster"]
    except ClientError as exc:
        code = _code(exc)
        if code == "ResourceNotFoundException":
            raise VerificationError("cluster", f"cluster {config.cluster_name} not found. Check ClusterName and the region.") from None
        raise VerificationError("cluster", f"DescribeCluster failed ({code}). Allow eks:DescribeCluster to the verifier.") from None
    status = cluster.get("status")
    if status != "ACTIVE":
        raise VerificationError("cluster", f"cluster {config.cluster_name} is {status}, not ACTIVE. Wait for it or fix it, then redeploy.")
    issues = (cluster.get("health") or {}).get("issues") or []
    kms_issues = [i.get("code") for i in issues if i.get("code") in KMS_ISSUE_FIXES]
    if kms_issues:
        code = kms_issues[0]
        raise VerificationError("cluster", f"cluster health reports {code}. {KMS_ISSUE_FIXES[code]}")
    secret_configs = [c for c in cluster.get("encryptionConfig") or [] if "secrets" in (c.get("resources") or [])]
    provider_key = ((secret_configs[0].get("provider") or {}).get("keyArn")) if secret_configs else None
    if not provider_key:
        raise VerificationError(
            "cluster",
            f"cluster {config.cluster_name} has no encryptionConfig for secrets. Enable it with the expected key "
            "(eks associate-encryption-config); it cannot be turned off later.",
        )
    cluster_key = _describe_key(kms_client, provider_key, calls, "cluster key")
    notes: list[str] = []
    if config.expected_key:
        if config.expected_key == provider_key and ":key/" in provider_key:
            expected = cluster_key  # same key ARN string: one DescribeKey is enough
        else:
            expected = _describe_key(kms_client, config.expected_key, calls, "expected key")
            if expected["Arn"] != config.expected_key:
                notes.append(f"expected {config.expected_key} resolves to {expected['Arn']}")
        if expected["Arn"] != cluster_key["Arn"]:
            raise VerificationError(
                "cluster",
                f"secrets are encrypted with {cluster_key['Arn']}, not the expected {expected['Arn']}. "
                "The key cannot change in place: fix KeyArn or recreate the cluster.",
            )
    else:
        notes.append(f"no expected key given: using the cluster's own key {cluster_key['Arn']}")
    role = cluster.get("roleArn") or ""
    if config.cluster_role_arn:
        if not same_role(config.cluster_role_arn, role):
            raise VerificationError("cluster", f"ClusterRoleArn {config.cluster_role_arn} is not the cluster's role {role}. Pass the cluster's IAM role.")
        role = config.cluster_role_arn
    endpoint = cluster.get("endpoint") or ""
    ca = (cluster.get("certificateAuthority") or {}).get("data") or ""
    return ClusterFacts(config.cluster_name, endpoint, ca, role, cluster_key["Arn"], cluster_key, notes)


# ---------------------------------------------------------------------------------------------
# stage 2: key health


def verify_key_health(kms_client: Any, facts: ClusterFacts, calls: CallCounter, max_pages: int = 20) -> str:
    """Key Enabled, symmetric ENCRYPT_DECRYPT, rotation on, a grant to the cluster role with Encrypt and Decrypt."""
    meta = facts.key_metadata
    arn = facts.key_arn
    state = meta.get("KeyState")
    if state == "PendingDeletion":
        when = meta.get("DeletionDate")
        when_text = f" (deletion on {when:%Y-%m-%d})" if isinstance(when, datetime) else ""
        raise VerificationError("key-health", f"key {arn} is PendingDeletion{when_text}. Cancel it (CancelKeyDeletion, then EnableKey): once deleted, every secret is lost.")
    if state == "Disabled":
        raise VerificationError("key-health", f"key {arn} is Disabled. Re-enable it (EnableKey) within 30 days; until then the cluster is degraded.")
    if state == "PendingImport":
        raise VerificationError("key-health", f"key {arn} is PendingImport (no key material). Import key material or use an AWS_KMS-origin key.")
    if state != "Enabled":
        raise VerificationError("key-health", f"key {arn} is {state}, not Enabled. Wait until it is Enabled, then redeploy.")
    spec = meta.get("KeySpec") or meta.get("CustomerMasterKeySpec")
    usage = meta.get("KeyUsage")
    if spec != "SYMMETRIC_DEFAULT" or usage != "ENCRYPT_DECRYPT":
        raise VerificationError("key-health", f"key {arn} is {spec}/{usage}; EKS needs SYMMETRIC_DEFAULT/ENCRYPT_DECRYPT. Use a symmetric encryption key.")
    try:
        rotation = calls.call(kms_client.get_key_rotation_status, KeyId=arn).get("KeyRotationEnabled")
    except ClientError as exc:
        raise VerificationError("key-health", f"GetKeyRotationStatus failed ({_code(exc)}). Allow kms:GetKeyRotationStatus to the verifier.") from None
    if not rotation:
        raise VerificationError("key-health", f"automatic rotation is off for key {arn}. Turn it on (EnableKeyRotation / enable_key_rotation=True).")
    grant_id = None
    marker = None
    for _ in range(max_pages):
        kwargs: dict[str, Any] = {"KeyId": arn, "Limit": 100}
        if marker:
            kwargs["Marker"] = marker
        try:
            page = calls.call(kms_client.list_grants, **kwargs)
        except ClientError as exc:
            raise VerificationError("key-health", f"ListGrants failed ({_code(exc)}). Allow kms:ListGrants on the key to the verifier.") from None
        for grant in page.get("Grants") or []:
            ops = set(grant.get("Operations") or [])
            if same_role(grant.get("GranteePrincipal", ""), facts.role_arn) and {"Encrypt", "Decrypt"} <= ops:
                grant_id = grant.get("GrantId")
                break
        if grant_id or not page.get("Truncated"):
            break
        marker = page.get("NextMarker")
    if not grant_id:
        raise VerificationError(
            "key-health",
            f"no grant on {arn} lets cluster role {facts.role_arn} Encrypt/Decrypt. EKS creates it at CreateCluster; "
            "find who revoked it (CloudTrail RevokeGrant) and recreate the cluster.",
        )
    return f"Enabled, {spec}, rotation on, grant {grant_id[:12]}"


# ---------------------------------------------------------------------------------------------
# stage 3 + 4: Kubernetes


def _labels(config: Config) -> dict[str, str]:
    return {config.label_key: config.label_value, "app.kubernetes.io/managed-by": "eks-envelope-verifier"}


def _new_name() -> str:
    return CANARY_PREFIX + secrets.token_hex(4)


def _create_fresh(client: kube.KubeClient, plural: str, config: Config, build: Callable[[str], dict[str, Any]]) -> str:
    """POST under a fresh name; on 409 (a retried POST of ours or a clash) remove our labelled leftover and use a new name."""
    for _ in range(3):
        name = _new_name()
        status, _ = client.create(plural, config.namespace, build(name))
        if status != 409:
            return name
        got_status, existing = client.get(plural, config.namespace, name)
        if got_status == 200 and (existing.get("metadata", {}).get("labels") or {}).get(config.label_key) == config.label_value:
            client.delete(plural, config.namespace, name)
    raise kube.KubeError("http", f"409 Conflict on three fresh {plural} names", status=409, method="POST", resource=plural)


def verify_secret_roundtrip(client: kube.KubeClient, config: Config, canary: Canary) -> str:
    """Write a random canary Secret through the API server (KMS envelope), read it back, compare."""

    def manifest(name: str) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": {"name": name, "namespace": config.namespace, "labels": _labels(config)},
            "data": {"value": base64.b64encode(canary.value.encode()).decode()},
        }

    canary.secret_name = _create_fresh(client, "secrets", config, manifest)
    status, obj = client.get("secrets", config.namespace, canary.secret_name)
    if status == 404:
        raise VerificationError("secret-roundtrip", f"canary Secret {canary.secret_name} vanished right after create. Check admission webhooks/controllers in {config.namespace}.")
    try:
        read_back = base64.b64decode((obj.get("data") or {}).get("value", "")).decode()
    except (ValueError, UnicodeDecodeError):
        read_back = None
    if not secrets.compare_digest(read_back or "", canary.value):
        raise VerificationError("secret-roundtrip", "the API server returned a different Secret value than was written. Check the KMS provider and the cluster health.")
    return f"secret {canary.secret_name} written, read back equal"


def verify_pod_read(client: kube.KubeClient, config: Config, canary: Canary, runtime: Runtime) -> str:
    """A Fargate pod mounts the canary Secret and reports sha256(value) as its termination message."""

    def manifest(name: str) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": config.namespace, "labels": _labels(config)},
            "spec": {
                "restartPolicy": "Never",
                "automountServiceAccountToken": False,
                "terminationGracePeriodSeconds": 0,
                "containers": [
                    {
                        "name": "canary",
                        "image": config.pod_image,
                        "command": ["sh", "-c", "sha256sum /canary/value | cut -d' ' -f1 > /dev/termination-log"],
                        "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"cpu": "250m", "memory": "256Mi"}},
                        "volumeMounts": [{"name": "canary", "mountPath": "/canary", "readOnly": True}],
                        "securityContext": {
                            "allowPrivilegeEscalation": False,
                            "readOnlyRootFilesystem": True,
                            "runAsNonRoot": True,
                            "runAsUser": 65534,
                            "capabilities": {"drop": ["ALL"]},
                        },
                    }
                ],
                "volumes": [{"name": "canary", "secret": {"secretName": canary.secret_name}}],
            },
        }

    canary.pod_name = _create_fresh(client, "pods", config, manifest)
    until = min(runtime.clock() + config.pod_timeout_seconds, runtime.deadline - 5.0)
    while True:
        status, pod = client.get("pods", config.namespace, canary.pod_name)
        if status == 404:
            raise VerificationError("pod-read", f"canary pod {canary.pod_name} disappeared while running. Check admission controllers in {config.namespace}.")
        pod_status = pod.get("status") or {}
        container = (pod_status.get("containerStatuses") or [{}])[0]
        terminated = (container.get("state") or {}).get("terminated")
        if terminated:
            break
        if runtime.clock() >= until:
            scheduled = any(c.get("type") == "PodScheduled" and c.get("status") == "True" for c in pod_status.get("conditions") or [])
            if not scheduled:
                raise VerificationError(
                    "pod-read",
                    f"pod never scheduled in {int(config.pod_timeout_seconds)}s: check the Fargate profile selector for namespace "
                    f"{config.namespace} + label {config.label_selector} (profile ACTIVE?).",
                )
            waiting = ((container.get("state") or {}).get("waiting") or {}).get("reason", pod_status.get("phase", "?"))
            raise VerificationError(
                "pod-read",
                f"pod scheduled but not finished in {int(config.pod_timeout_seconds)}s ({waiting}). Check that {config.pod_image} can be pulled (NAT or ECR endpoints).",
            )
        runtime.sleep(max(0.0, min(runtime.pod_poll_seconds, until - runtime.clock())))
    if terminated.get("exitCode") != 0:
        raise VerificationError("pod-read", f"canary pod exited {terminated.get('exitCode')} ({terminated.get('reason', '?')}). Check the image has sh/sha256sum and the Secret mounted.")
    message = (terminated.get("message") or "").strip()
    if not secrets.compare_digest(message, canary.digest):
        raise VerificationError("pod-read", "the pod read a different value from the mounted Secret than the API server stored. Check the KMS provider and cluster health.")
    return f"pod {canary.pod_name} read the canary (sha256 matched)"


def cleanup_canary(client: kube.KubeClient | None, config: Config, canary: Canary, runtime: Runtime) -> int:
    """Best effort: delete this run's pod, then its Secret; never raises. Returns Kubernetes calls made."""
    if client is None or not (canary.pod_name or canary.secret_name):
        return 0
    short = client.with_budget(runtime.cleanup_seconds, runtime.cleanup_policy)
    for plural, name in (("pods", canary.pod_name), ("secrets", canary.secret_name)):
        if not name:
            continue
        try:
            short.delete(plural, config.namespace, name)
        except Exception as exc:  # noqa: BLE001 - cleanup must never mask the verdict
            jsonlog.warning("cleanup.failed", kind=plural, name=name, error=str(exc)[:120])
    return short.calls


def sweep_canaries(client: kube.KubeClient, config: Config) -> int:
    """Delete every labelled canary pod and Secret in the canary namespace (resource Delete). Returns objects deleted."""
    deleted = 0
    for plural in ("pods", "secrets"):
        try:
            items = client.list(plural, config.namespace, config.label_selector)
        except kube.KubeError as exc:
            jsonlog.warning("sweep.list_failed", kind=plural, error=str(exc)[:120])
            if exc.kind in ("unreachable", "tls", "deadline", "config"):
                break  # the next call would fail the same way; Delete must return quickly
            continue
        for item in items:
            name = (item.get("metadata") or {}).get("name")
            if not name:
                continue
            try:
                client.delete(plural, config.namespace, name)
                deleted += 1
            except Exception as exc:  # noqa: BLE001
                jsonlog.warning("sweep.delete_failed", kind=plural, name=name, error=str(exc)[:120])
    return deleted


def kube_failure(stage: str, exc: kube.KubeError, config: Config) -> VerificationError:
    """Translate a transport failure into the reason an operator can act on."""
    what = f"{exc.method} {exc.resource}".strip()
    if exc.kind == "forbidden":
        msg = f"Kubernetes API keeps answering 403 to {what}. Check the access entry for the verifier role and its access policy (e.g. AmazonEKSEditPolicy) scoped to namespace {config.namespace}."
    elif exc.kind == "auth":
        msg = f"Kubernetes API keeps rejecting the token (401) on {what}. Check authenticationMode includes API and an access entry exists for the verifier role."
    elif exc.kind == "server":
        msg = f"Kubernetes API answered {exc.status} to {what} after bounded retries ({exc}). Control plane or KMS overloaded: retry the deploy later."
    elif exc.kind == "unreachable":
        msg = f"cannot reach the cluster endpoint ({exc}). Endpoint access is private: run the verifier in the cluster VPC and allow 443 from its security group."
    elif exc.kind == "tls":
        msg = f"{exc}; refusing to continue. The API server certificate must chain to certificateAuthority from DescribeCluster."
    elif exc.kind == "deadline":
        msg = f"ran out of time ({exc}). Raise the verifier Lambda timeout or lower PodTimeoutSeconds/CloudTrailWaitSeconds."
    elif exc.kind == "config":
        msg = f"{exc}. Check the cluster endpoint and certificateAuthority from DescribeCluster."
    else:
        msg = f"{what} answered {exc.status}: {exc}. Check the access policy and admission webhooks in namespace {config.namespace}."
    return VerificationError(stage, msg)


# ---------------------------------------------------------------------------------------------
# stage 5: CloudTrail (never fails the deploy)


def _event_matches(event: dict[str, Any], role_arn: str) -> tuple[bool, bool]:
    """(KMS crypto call by the cluster role, invoked by EKS) from one LookupEvents record."""
    if event.get("EventSource") != "kms.amazonaws.com" or event.get("EventName") not in KMS_CRYPTO_EVENTS:
        return False, False
    try:
        record = json.loads(event.get("CloudTrailEvent") or "{}")
    except ValueError:
        return False, False
    identity = record.get("userIdentity") or {}
    issuer = ((identity.get("sessionContext") or {}).get("sessionIssuer") or {}).get("arn") or ""
    by_role = same_role(issuer, role_arn) or same_role(identity.get("arn") or "", role_arn)
    return by_role, identity.get("invokedBy") == "eks.amazonaws.com"


def collect_cloudtrail_evidence(cloudtrail: Any, key_arn: str, role_arn: str, wait_seconds: float, runtime: Runtime, calls: CallCounter) -> tuple[str, str]:
    """Look for KMS calls on the key by the cluster role; returns (status, detail) and never raises."""
    end = runtime.clock() + max(0.0, min(wait_seconds, runtime.remaining() - 5.0))
    start_utc = runtime.now_utc() - timedelta(seconds=runtime.cloudtrail_lookback_seconds)
    last_request = float("-inf")
    throttled = 0
    while True:
        gap = last_request + runtime.cloudtrail_min_interval_seconds - runtime.clock()
        if gap > 0:
            runtime.sleep(gap)
        last_request = runtime.clock()
        try:
            page = calls.call(
                cloudtrail.lookup_events,
                LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": key_arn}],
                StartTime=start_utc,
                EndTime=runtime.now_utc(),
                MaxResults=50,
            )
        except ClientError as exc:
            if _code(exc) not in THROTTLE_CODES:
                return "skipped", f"LookupEvents failed ({_code(exc)}); allow cloudtrail:LookupEvents to see evidence"
            throttled += 1
            jsonlog.warning("cloudtrail.throttled", count=throttled)
            if runtime.clock() >= end:
                return "not-yet-delivered", f"LookupEvents throttled {throttled}x; no evidence read before the wait ended"
            runtime.sleep(max(0.0, min(2.0 ** throttled, end - runtime.clock())))
            continue
        except BotoCoreError as exc:
            return "skipped", f"LookupEvents failed ({exc.__class__.__name__})"
        names: set[str] = set()
        count = via_eks = 0
        latest = None
        for event in page.get("Events") or []:
            by_role, invoked_by_eks = _event_matches(event, role_arn)
            if by_role:
                count += 1
                via_eks += invoked_by_eks
                names.add(event["EventName"])
                when = event.get("EventTime")
                latest = max(latest, when) if latest and when else (when or latest)
        if count:
            stamp = latest.isoformat() if isinstance(latest, datetime) else str(latest)
            suffix = f"; throttled {throttled}x" if throttled else ""
            return "found", f"{count} KMS calls by the cluster role ({', '.join(sorted(names))}; {via_eks} via eks.amazonaws.com), latest {stamp}{suffix}"
        if runtime.clock() + runtime.cloudtrail_poll_seconds > end:
            suffix = f"; throttled {throttled}x" if throttled else ""
            return "not-yet-delivered", f"no KMS calls by the cluster role yet; CloudTrail delivers in ~5-15 min{suffix}"
        runtime.sleep(runtime.cloudtrail_poll_seconds)


# ---------------------------------------------------------------------------------------------
# orchestration


def run_verification(config: Config, clients: Clients, runtime: Runtime) -> Report:
    """Run the stages in order; raise VerificationError (with .results) on the first failure."""
    results: list[StageResult] = []
    report = Report(results, None, config.cluster_name)
    canary = Canary()
    client: kube.KubeClient | None = None

    def stage(name: str, body: Callable[[CallCounter], Any]) -> Any:
        calls = CallCounter()
        k8s_before = client.calls if client else 0
        started = runtime.clock()
        result = StageResult(name, "passed")
        try:
            if runtime.remaining() <= 1.0:
                raise VerificationError(name, "no time left before the stage. Raise the verifier Lambda timeout.")
            outcome = body(calls)
            if isinstance(outcome, tuple):  # (status, detail) from the non-blocking CloudTrail stage
                result.status, result.detail = outcome
            elif isinstance(outcome, ClusterFacts):
                result.detail = "; ".join(["ACTIVE, secrets encrypted with the expected key, no KMS health issue"] + outcome.notes)
            elif isinstance(outcome, str):
                result.detail = outcome
        except kube.KubeError as exc:
            err = kube_failure(name, exc, config)
            result.status, result.detail = "failed", err.detail
            raise err from None
        except VerificationError as err:
            result.status, result.detail = "failed", err.detail
            raise
        except (ClientError, BotoCoreError) as exc:
            err = VerificationError(name, f"AWS call failed ({exc.__class__.__name__}: {str(exc)[:90]}). Check the verifier's "
                                    "IAM permissions and its network path to AWS APIs (NAT or VPC endpoints).")
            result.status, result.detail = "failed", err.detail
            raise err from None
        finally:
            result.ms = int((runtime.clock() - started) * 1000)
            result.aws = calls.aws
            result.k8s = (client.calls if client else 0) - k8s_before
            results.append(result)
            jsonlog.info("stage.end", stage=name, status=result.status, ms=result.ms, aws=result.aws, k8s=result.k8s, detail=result.detail[:200])
        return outcome

    def skipped(name: str, why: str) -> None:
        results.append(StageResult(name, "skipped", detail=why))

    try:
        try:
            facts: ClusterFacts = stage("cluster", lambda c: verify_cluster(clients.eks, clients.kms, config, c))
            report.key_arn = facts.key_arn
            stage("key-health", lambda c: verify_key_health(clients.kms, facts, c))

            def open_client(_: CallCounter) -> str:
                nonlocal client
                client = kube.KubeClient(
                    facts.endpoint,
                    facts.ca_data,
                    lambda: clients.token_provider(config.cluster_name),
                    deadline=runtime.deadline,
                    policy=runtime.kube_policy,
                    clock=runtime.clock,
                    sleep=runtime.sleep,
                    rng=runtime.rng,
                )
                return verify_secret_roundtrip(client, config, canary)

            if not config.secret_check:
                skipped("secret-roundtrip", "SecretCheck is false")
                skipped("pod-read", "SecretCheck is false")
            else:
                stage("secret-roundtrip", open_client)
                if config.pod_check:
                    stage("pod-read", lambda c: verify_pod_read(client, config, canary, runtime))
                else:
                    skipped("pod-read", "PodCheck is false")
        finally:
            cleaned = cleanup_canary(client, config, canary, runtime)
            ran = [r for r in results if r.status != "skipped"]
            if ran and cleaned:
                ran[-1].k8s += cleaned
        if config.cloudtrail_check and clients.cloudtrail is not None:
            stage("cloudtrail", lambda c: collect_cloudtrail_evidence(
                clients.cloudtrail, facts.key_arn, facts.role_arn, config.cloudtrail_wait_seconds, runtime, c))
        else:
            skipped("cloudtrail", "CloudTrailCheck is false")
    except VerificationError as err:
        err.results = results
        jsonlog.error("verification.failed", cluster=config.cluster_name, reason=str(err), summary=report.summary_json())
        raise
    jsonlog.info("verification.passed", cluster=config.cluster_name, summary=report.summary_json())
    return report
