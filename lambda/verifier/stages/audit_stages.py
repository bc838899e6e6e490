"""The audit's per-cluster stages: the verifier's checks composed, each failure mapped to a verdict.

``stages_for(options)`` is the list ``audit_cluster`` runs; each stage is the verifier's own function
(``aws_checks.verify_cluster``, ``verify_key_health``, ``collect_cloudtrail_evidence``, ``verification.run_verification``)
plus what a fleet needs (a verdict, the key's region, the support window). Verdicts: the first problem in stage
order wins, later problems add reasons (docs/audit.md, Verdicts).
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable

from botocore.exceptions import ClientError

from .. import kube
from ..aws.clients import Clients
from ..aws.cloudtrail import Pacer
from ..aws.session import code_of
from ..model import ClusterFacts, Config, Runtime, VerificationError
from ..text import fit_reason
from .audit_model import AccountSession, AuditOptions, ClusterResult
from .aws_checks import KMS_ISSUE_FIXES, collect_cloudtrail_evidence, key_parts, verify_cluster, verify_key_health
from .runner import StageRunner
from .verification import run_verification
from .version_support import VersionSupport, describe_version_support

#: Support-window warning: EKS announces an end of standard support at least 60 days ahead.
SUPPORT_WARNING_DAYS = 60
#: Kubernetes versions from which EKS envelope-encrypts all API data with an AWS-owned key by default.
DEFAULT_ENCRYPTION_SINCE = (1, 28)
#: An auditor without an access entry gets 401/403 at once: no grace period (a deploy's fresh entry needs one).
KUBE_POLICY = kube.RetryPolicy(auth_grace_seconds=0.0, max_server_retries=2, max_connect_attempts=1)
ACCESS_CODES = frozenset({
    "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedException", "AuthFailure",
    "InvalidClientTokenId", "UnrecognizedClientException", "ExpiredToken", "ExpiredTokenException",
    "AWSOrganizationsNotInUseException", "OptInRequired",
})


#: Calls of the cluster this thread is auditing (the Connector's botocore hook adds to it).
calls = threading.local()


# ---------------------------------------------------------------------------------------------
# support window: the verifier's version-support stage (version_support.py), judged for a fleet


def judge_support(support: VersionSupport, now: datetime) -> tuple[str | None, list[str], dict[str, Any] | None]:
    """(problem or None, warnings, support facts) for EKS's answer about a version on ``now``.

    Past extended support is a problem (EKS upgrades the cluster without asking); extended support or the
    last ``SUPPORT_WARNING_DAYS`` of standard support are warnings; no answer is a warning, never a verdict.
    """
    if not support.version:
        return None, ["the cluster reports no Kubernetes version"], None
    if not support.known:
        return None, [f"{support.summary()}: support window unknown"], None
    std, ext, today = support.end_of_standard_support, support.end_of_extended_support, now.date()
    facts = {"status": support.status, "end_of_standard_support": std.isoformat() if std else None,
             "end_of_extended_support": ext.isoformat() if ext else None}
    if ext and today >= ext or support.status == "UNSUPPORTED":
        return (f"Kubernetes {support.version} is past the end of extended support"
                f"{f' ({ext:%Y-%m-%d})' if ext else ''}: EKS upgrades it without asking; upgrade it now"), [], facts
    warnings = []
    if std and today >= std:
        warnings.append(f"Kubernetes {support.version} is in extended support (extra cost) until {facts['end_of_extended_support'] or '?'}")
    elif std and today >= std - timedelta(days=SUPPORT_WARNING_DAYS):
        warnings.append(f"Kubernetes {support.version} leaves standard support on {facts['end_of_standard_support']}")
    return None, warnings, facts


# ---------------------------------------------------------------------------------------------
# per account/region context and per cluster probe


@dataclass
class RegionContext:
    account: str
    region: str
    session: AccountSession
    eks: Any
    kms: Any
    cloudtrail: Any | None
    connector: Any  # audit.Connector
    _versions: dict[str, VersionSupport] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    #: LookupEvents allows 2 requests per second per account and region: one read at a time, spaced.
    cloudtrail_lock: threading.Lock = field(default_factory=threading.Lock)
    cloudtrail_pacer: Pacer = field(default_factory=Pacer)

    def version_support(self, version: str, now: datetime) -> VersionSupport:
        """EKS's answer about ``version`` in this account and region: asked once per version, then cached."""
        with self._lock:
            if version not in self._versions:
                self._versions[version] = describe_version_support(self.eks, version, now)
            return self._versions[version]


class _DescribedCluster:
    """The one DescribeCluster answer, served again to ``verify_cluster`` so it costs no second call."""

    def __init__(self, cluster: dict[str, Any]) -> None:
        self._cluster = cluster

    def describe_cluster(self, name: str) -> dict[str, Any]:
        return {"cluster": self._cluster}


@dataclass
class Probe:
    ctx: RegionContext
    name: str
    options: AuditOptions
    now: Callable[[], datetime]
    record: ClusterResult
    cluster: dict[str, Any] | None = None
    facts: ClusterFacts | None = None


class Stop(Exception):
    """A stage's verdict; the stages that need what this one did not produce are skipped."""

    def __init__(self, verdict: str, reason: str) -> None:
        super().__init__(reason)
        self.verdict = verdict
        self.reason = reason


def cluster_key_arn(cluster: dict[str, Any]) -> str | None:
    """The customer managed key of any encryptionConfig entry (``resources`` is deprecated and may be absent)."""
    for entry in cluster.get("encryptionConfig") or []:
        key = ((entry or {}).get("provider") or {}).get("keyArn")
        if key:
            return key
    return None


def _version_tuple(version: str | None) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in (version or "").split(".")[:2])
    except ValueError:
        return ()


def stage_describe(probe: Probe) -> None:
    try:
        probe.cluster = probe.ctx.eks.describe_cluster(name=probe.name)["cluster"]
    except ClientError as exc:
        if code_of(exc) == "ResourceNotFoundException":
            raise Stop("error", "the cluster disappeared between ListClusters and DescribeCluster") from None
        raise
    probe.record.version = probe.cluster.get("version")
    others = [i.get("code") for i in (probe.cluster.get("health") or {}).get("issues") or []
              if isinstance(i, dict) and i.get("code") not in KMS_ISSUE_FIXES]
    probe.record.warnings.extend(f"cluster health reports {code}" for code in others if code)


def stage_encryption(probe: Probe) -> None:
    """The verifier's cluster stage on the cluster's own key; its failure is mapped to a verdict here."""
    cluster = probe.cluster or {}
    config = Config.for_workstation(probe.name, None, owner="audit")
    try:
        probe.facts = verify_cluster(_DescribedCluster(cluster), probe.ctx.kms, config).value
    except VerificationError as err:
        verdict = _encryption_verdict(cluster, err)
        if verdict == "aws-owned-key":
            raise Stop(verdict, fit_reason(
                "encryption", f"no customer managed key: Kubernetes {cluster.get('version')} encrypts its API data with the "
                "AWS-owned default key, which you cannot disable, audit in CloudTrail or rotate on your terms",
                "Associate your key (eks associate-encryption-config); it cannot be removed later.", limit=400)) from None
        raise Stop(verdict, err.reason) from None
    probe.record.key_arn = probe.facts.key_arn
    probe.record.evidence.append("config-names-key")


def _encryption_verdict(cluster: dict[str, Any], err: VerificationError) -> str:
    """What verify_cluster's failure means for the fleet, decided from the cluster it judged."""
    kms_issues = [i for i in (cluster.get("health") or {}).get("issues") or [] if isinstance(i, dict) and i.get("code") in KMS_ISSUE_FIXES]
    if cluster.get("status") != "ACTIVE" or kms_issues:
        return "cluster-problem"
    if not cluster_key_arn(cluster):
        # Since 1.28 EKS envelope-encrypts all API data with an AWS-owned key; before, nothing did.
        return "aws-owned-key" if _version_tuple(cluster.get("version")) >= DEFAULT_ENCRYPTION_SINCE else "cluster-problem"
    if "denied" in err.problem:  # verify_cluster's DescribeKey denial: the key policy does not admit the auditor
        return "no-access"
    return "key-problem" if "not found" in err.problem else "cluster-problem"


def stage_key(probe: Probe) -> None:
    """The verifier's key-health stage, plus what the fleet adds: the key in the cluster's region, a visible grant."""
    facts = probe.facts
    assert facts is not None
    parts = key_parts(facts.key_arn)
    if parts and parts[1] != probe.ctx.region:
        probe.record.problem("key-problem", f"key {facts.key_arn} is in {parts[1]}, not in the cluster's region {probe.ctx.region}")
    try:
        outcome = verify_key_health(probe.ctx.kms, facts)
    except VerificationError as err:
        raise Stop("key-problem", err.reason) from None
    probe.record.warnings.extend(outcome.warnings)
    if not outcome.value:
        raise Stop("key-problem", f"no KMS grant to the cluster role {facts.role_arn} is visible on the key (ListGrants): "
                                  "a revoked grant makes the cluster unrecoverable; check the key's grants")
    probe.record.evidence.append("key-usable")


def stage_support(probe: Probe) -> None:
    support = probe.ctx.version_support(probe.record.version or "", probe.now())
    problem, warnings, facts = judge_support(support, probe.now())
    probe.record.support = facts
    probe.record.warnings.extend(warnings)
    if problem:
        probe.record.problem("cluster-problem", problem)


def stage_cloudtrail(probe: Probe) -> None:
    """KMS-use evidence (non-blocking): the verifier's CloudTrail stage, one read, spaced per account/region."""
    facts, ct = probe.facts, probe.ctx.cloudtrail
    assert facts is not None
    if ct is None:
        return
    runtime = Runtime(deadline=time.monotonic() + 60.0, now_utc=probe.now,
                      cloudtrail_lookback_seconds=probe.options.cloudtrail_lookback_hours * 3600.0)
    with probe.ctx.cloudtrail_lock:
        outcome = collect_cloudtrail_evidence(ct, facts.key_arn, facts.role_arn, 0.0, runtime, pacer=probe.ctx.cloudtrail_pacer)
    if outcome.status == "found":
        probe.record.evidence.append("cloudtrail-key-use")
    else:
        probe.record.warnings.append(f"CloudTrail: {outcome.detail}")


def stage_kubernetes(probe: Probe) -> None:
    """The Secret round trip (``--kubernetes``) where this machine can reach the endpoint and has an access entry."""
    facts = probe.facts
    assert facts is not None
    ctx, connector = probe.ctx, probe.ctx.connector
    sts = connector.client(ctx.session, "sts", ctx.region, endpoint_url=kube.sts_endpoint(ctx.region))
    # Clients of its own: the verifier's call meter must not be attached to the clients other threads share.
    clients = Clients(eks=connector.client(ctx.session, "eks", ctx.region), kms=connector.client(ctx.session, "kms", ctx.region),
                      cloudtrail=None, token_provider=lambda name: kube.make_token(sts, name), x509_strict=False)
    config = Config.for_workstation(probe.name, facts.key_arn, owner="audit")
    runtime = Runtime(deadline=time.monotonic() + probe.options.kubernetes_budget_seconds, now_utc=probe.now,
                      kube_policy=KUBE_POLICY)
    try:
        report = run_verification(config, clients, runtime)
    except VerificationError as err:
        report = err.report
        unreachable = report is not None and report.unreachable
        if err.stage in ("cluster", "key-health") or unreachable or "(401)" in err.problem or "403" in err.problem:
            probe.record.warnings.append(f"Kubernetes round trip not done from here: {err.reason}")
            return
        raise Stop("cluster-problem", err.reason) from None
    probe.record.evidence.extend(e for e in report.evidence if e not in probe.record.evidence)


#: (name, function, what it needs: "cluster" = DescribeCluster answered, "facts" = the key was resolved)
Stage = tuple[str, Callable[[Probe], None], str | None]
BASE_STAGES: list[Stage] = [
    ("describe", stage_describe, None),
    ("encryption", stage_encryption, "cluster"),
    ("key", stage_key, "facts"),
    ("support", stage_support, "cluster"),
]


def stages_for(options: AuditOptions) -> list[Stage]:
    stages = list(BASE_STAGES)
    if options.cloudtrail:
        stages.append(("cloudtrail", stage_cloudtrail, "facts"))
    if options.kubernetes:
        stages.append(("kubernetes", stage_kubernetes, "facts"))
    return stages


def audit_cluster(ctx: RegionContext, name: str, options: AuditOptions, now: Callable[[], datetime],
                  stages: Iterable[Stage] | None = None) -> ClusterResult:
    """Run the stages on one cluster; never raises (a crash is an ``error`` verdict with its reason)."""
    record = ClusterResult(ctx.account, ctx.region, name, checked_at=now().isoformat(timespec="seconds"))
    probe = Probe(ctx, name, options, now, record)
    calls.counter = counter = [0]
    try:
        for stage_name, body, needs in (stages if stages is not None else stages_for(options)):
            if (needs == "cluster" and probe.cluster is None) or (needs == "facts" and probe.facts is None):
                record.stages.append({"name": stage_name, "status": "skipped"})
                continue
            status = "passed"
            before = len(record.reasons)
            try:
                body(probe)
            except Stop as stop:
                record.problem(stop.verdict, stop.reason)
            except ClientError as exc:
                record.problem(*_client_error_verdict(stage_name, exc, ctx))
            except Exception as exc:  # noqa: BLE001 - one cluster's failure is its verdict, never the run's
                record.problem("error", StageRunner.classify(stage_name, exc).reason)
            if len(record.reasons) > before:
                status = "failed"
            record.stages.append({"name": stage_name, "status": status})
    finally:
        record.aws_calls = counter[0]
        calls.counter = None
    return record


def _client_error_verdict(stage: str, exc: ClientError, ctx: RegionContext) -> tuple[str, str]:
    code, op = code_of(exc), getattr(exc, "operation_name", "the call")
    if code in ACCESS_CODES:
        return "no-access", fit_reason(stage, f"{op} was denied ({code}) in {ctx.account}/{ctx.region}",
                                       "Allow it to the audit role (docs/audit.md, Permissions).", limit=400)
    return "error", StageRunner.classify(stage, exc).reason

