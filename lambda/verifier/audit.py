"""Fleet audit: every EKS cluster in the given accounts and regions, judged by the verifier's own checks.

Read-only. The per-cluster stages are composed from the verifier's functions (``aws_checks.verify_cluster``,
``verify_key_health``, ``collect_cloudtrail_evidence``, ``checks.run_verification`` for ``--kubernetes``);
this module adds only what a fleet needs: finding accounts, regions and clusters, bounded concurrency, a
verdict per cluster and per-account/region errors that never stop the run. ``audit_cli`` is the command.

Verdicts (``VERDICTS``), the first problem in stage order wins, later problems add reasons:
``cmk-verified`` every stage passed; ``aws-owned-key`` no customer managed key in the encryption config;
``key-problem`` the key is not usable (state, spec, rotation, region, grant); ``cluster-problem`` the cluster
is not ACTIVE, reports a KMS health issue or runs a version past extended support; ``no-access`` a call was
denied; ``error`` anything else (throttled past botocore's retries, an unexpected answer).
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable

from botocore.exceptions import BotoCoreError, ClientError

import kube
from aws_checks import (
    KMS_ISSUE_FIXES,
    code_of,
    collect_cloudtrail_evidence,
    key_parts,
    verify_cluster,
    verify_key_health,
)
from model import ClusterFacts, Runtime, VerificationError, fit_reason
from stages import StageRunner

SCHEMA_VERSION = 1
VERDICTS = ("cmk-verified", "aws-owned-key", "key-problem", "cluster-problem", "no-access", "error")
#: Workers for accounts x regions x clusters. Each cluster costs ~4 AWS calls; 16 keep 1,000 clusters under a
#: minute at 100 ms a call while staying far below EKS's and KMS's per-account request rates.
DEFAULT_CONCURRENCY = 16
#: botocore standard retries (exponential backoff with jitter, a retry quota per client): the only retry layer.
DEFAULT_MAX_ATTEMPTS = 8
DEFAULT_ROLE_SESSION = "eks-envelope-audit"
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


# ---------------------------------------------------------------------------------------------
# results


@dataclass
class ClusterResult:
    """One cluster's line in every output (the JSON schema is documented in docs/audit.md)."""

    account: str
    region: str
    cluster: str
    verdict: str = "cmk-verified"
    key_arn: str | None = None
    reasons: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    checked_at: str = ""
    version: str | None = None
    support: dict[str, Any] | None = None
    evidence: list[str] = field(default_factory=list)
    stages: list[dict[str, str]] = field(default_factory=list)
    aws_calls: int = 0

    def problem(self, verdict: str, reason: str) -> None:
        """Record a problem: the first one decides the verdict, every one is a reason."""
        if self.verdict == "cmk-verified":
            self.verdict = verdict
        self.reasons.append(reason)

    def as_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in (
            "account", "region", "cluster", "verdict", "key_arn", "reasons", "warnings", "checked_at", "version",
            "support", "evidence", "stages", "aws_calls")}


@dataclass
class ScopeError:
    """An account or account/region the audit could not read; its clusters are unknown, never assumed fine."""

    account: str
    region: str | None
    operation: str
    code: str
    message: str

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class AuditResult:
    clusters: list[ClusterResult]
    errors: list[ScopeError]
    skipped: list[dict[str, str]]
    accounts: list[str]
    regions: dict[str, list[str]]
    started_at: str
    finished_at: str
    calls: dict[str, int]

    @property
    def all_verified(self) -> bool:
        return not self.errors and all(c.verdict == "cmk-verified" for c in self.clusters)

    def counts(self) -> dict[str, int]:
        counts = {v: 0 for v in VERDICTS}
        for c in self.clusters:
            counts[c.verdict] += 1
        return counts


@dataclass
class AuditOptions:
    accounts: list[str] | None = None  # None: the current credentials' account (or the organization's)
    organization: bool = False
    role_name: str | None = None
    external_id: str | None = None
    regions: list[str] | None = None  # None: every region EKS offers that the account has enabled
    concurrency: int = DEFAULT_CONCURRENCY
    cloudtrail: bool = False
    cloudtrail_lookback_hours: float = 24.0
    kubernetes: bool = False
    kubernetes_budget_seconds: float = 120.0


class UsageError(Exception):
    """A problem with the command line that only AWS could reveal (e.g. a foreign account without --role-name)."""


# ---------------------------------------------------------------------------------------------
# the AWS boundary: sessions and clients (the bench swaps this for fakes with latency)


_calls = threading.local()


@dataclass(frozen=True)
class AccountSession:
    """Who the calls for one account are made as: the current credentials (None) or an assumed role's."""

    account: str
    credentials: dict[str, str] | None = None


class Connector:
    """Builds clients and counts calls (per cluster through a thread-local, and per operation).

    Every client comes from one boto3 session (one loader: the service models are read once, not once per
    account), with an assumed role's credentials passed per client. boto3 sessions are not thread-safe, so
    clients are created under one lock (creation is CPU-bound anyway); once built, a client is shared by the
    threads of one account/region.
    """

    def __init__(self, session_factory: Callable[..., Any] | None = None, max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> None:
        import boto3
        from botocore.config import Config as BotoConfig

        from clients import boto_config

        self._lock = threading.Lock()
        self._by_op: dict[str, int] = {}
        # The verifier's timeouts, with more attempts: a fleet audit meets throttling the verifier never does.
        self.config = boto_config(60.0).merge(BotoConfig(retries={"mode": "standard", "max_attempts": max_attempts},
                                                          user_agent_extra="eks-envelope-audit"))
        self.base = (session_factory or boto3.session.Session)()

    # counting ------------------------------------------------------------------------------

    def _count(self, model: Any = None, **_: Any) -> None:
        name = getattr(model, "name", "?")
        counter = getattr(_calls, "counter", None)
        if counter is not None:
            counter[0] += 1
        with self._lock:
            self._by_op[name] = self._by_op.get(name, 0) + 1

    def calls_by_operation(self) -> dict[str, int]:
        with self._lock:
            return dict(sorted(self._by_op.items()))

    # clients -----------------------------------------------------------------------------------

    def client(self, who: AccountSession | None, service: str, region: str | None = None, **kwargs: Any) -> Any:
        creds = (who.credentials if who else None) or {}
        with self._lock:
            client = self.base.client(service, region_name=region or self.home_region(), config=self.config, **creds, **kwargs)
        client.meta.events.register("before-parameter-build", self._count, unique_id="eks-envelope-audit-count")
        return client

    def home_region(self) -> str:
        return self.base.region_name or "us-east-1"

    def caller(self) -> tuple[str, str]:
        """(account, partition) of the current credentials."""
        arn = self.client(None, "sts").get_caller_identity()["Arn"]
        parts = arn.split(":")
        return parts[4], parts[1]

    def organization_accounts(self) -> list[dict[str, Any]]:
        pages = self.client(None, "organizations").get_paginator("list_accounts").paginate()
        return [a for page in pages for a in page.get("Accounts") or []]

    def assume(self, account: str, role_arn: str, external_id: str | None) -> AccountSession:
        kwargs: dict[str, Any] = {"RoleArn": role_arn, "RoleSessionName": DEFAULT_ROLE_SESSION}
        if external_id:
            kwargs["ExternalId"] = external_id
        creds = self.client(None, "sts").assume_role(**kwargs)["Credentials"]
        return AccountSession(account, {"aws_access_key_id": creds["AccessKeyId"], "aws_secret_access_key": creds["SecretAccessKey"],
                                        "aws_session_token": creds["SessionToken"]})

    def eks_regions(self, who: AccountSession) -> list[str]:
        """Regions EKS offers (boto3's endpoint data) that the account has enabled (EC2 DescribeRegions)."""
        offered = set(self.offered_regions())
        enabled = self.client(who, "ec2").describe_regions()["Regions"]  # opted-in and default regions only
        return sorted(offered & {r["RegionName"] for r in enabled})

    def offered_regions(self) -> list[str]:
        with self._lock:
            return sorted(self.base.get_available_regions("eks"))

    def list_clusters(self, eks: Any) -> list[str]:
        return [n for page in eks.get_paginator("list_clusters").paginate() for n in page.get("clusters") or []]


# ---------------------------------------------------------------------------------------------
# support window: the adapter point


def describe_version_support(eks: Any) -> dict[str, dict[str, Any]]:
    """Version -> {endOfStandardSupportDate, endOfExtendedSupportDate, versionStatus} from EKS DescribeClusterVersions.

    MERGE POINT: the verifier's own version-support stage replaces this function's body when it lands; the
    audit calls only this function (once per account and region, cached in ``RegionContext``).
    """
    versions: dict[str, dict[str, Any]] = {}
    token: str | None = None
    while True:
        page = eks.describe_cluster_versions(includeAll=True, **({"nextToken": token} if token else {}))
        for info in page.get("clusterVersions") or []:
            if info.get("clusterVersion"):
                versions[info["clusterVersion"]] = info
        token = page.get("nextToken")
        if not token:
            return versions


def judge_support(version: str | None, info: dict[str, Any] | None, now: datetime) -> tuple[str | None, list[str], dict[str, Any] | None]:
    """(problem or None, warnings, support facts) for a version on ``now``: past extended support is a problem."""
    if not version:
        return None, ["the cluster reports no Kubernetes version"], None
    if info is None:
        return None, [f"DescribeClusterVersions does not list {version}: support window unknown"], None
    std, ext = _as_datetime(info.get("endOfStandardSupportDate")), _as_datetime(info.get("endOfExtendedSupportDate"))
    facts = {"status": info.get("versionStatus"), "end_of_standard_support": std.date().isoformat() if std else None,
             "end_of_extended_support": ext.date().isoformat() if ext else None}
    if ext and now >= ext or info.get("versionStatus") == "UNSUPPORTED":
        return (f"Kubernetes {version} is past the end of extended support"
                f"{f' ({ext:%Y-%m-%d})' if ext else ''}: EKS upgrades it without asking; upgrade it now"), [], facts
    warnings = []
    if std and now >= std:
        warnings.append(f"Kubernetes {version} is in extended support (extra cost) until {facts['end_of_extended_support'] or '?'}")
    elif std and now >= std - timedelta(days=SUPPORT_WARNING_DAYS):
        warnings.append(f"Kubernetes {version} leaves standard support on {facts['end_of_standard_support']}")
    return None, warnings, facts


def _as_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    return None


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
    connector: Connector
    _versions: dict[str, dict[str, Any]] | None = None
    _versions_error: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    #: LookupEvents allows 2 requests per second per account and region: one at a time, spaced.
    cloudtrail_lock: threading.Lock = field(default_factory=threading.Lock)

    def version_support(self) -> tuple[dict[str, dict[str, Any]], str | None]:
        with self._lock:
            if self._versions is None and self._versions_error is None:
                try:
                    self._versions = describe_version_support(self.eks)
                except (ClientError, BotoCoreError) as exc:
                    code = code_of(exc) if isinstance(exc, ClientError) else type(exc).__name__
                    self._versions_error = f"DescribeClusterVersions failed ({code}): support window unknown"
            return self._versions or {}, self._versions_error


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
    from cli import workstation_config  # the verifier's configuration off the Lambda (defaults included)

    cluster = probe.cluster or {}
    config = workstation_config(probe.name, None, owner="audit")
    config.secret_check = False
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
    versions, error = probe.ctx.version_support()
    if error:
        probe.record.warnings.append(error)
        return
    version = probe.record.version
    problem, warnings, facts = judge_support(version, versions.get(version or ""), probe.now())
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
        outcome = collect_cloudtrail_evidence(ct, facts.key_arn, facts.role_arn, 0.0, runtime)
        time.sleep(runtime.cloudtrail_min_interval_seconds)
    if outcome.status == "found":
        probe.record.evidence.append("cloudtrail-key-use")
    else:
        probe.record.warnings.append(f"CloudTrail: {outcome.detail}")


def stage_kubernetes(probe: Probe) -> None:
    """The Secret round trip (``--kubernetes``) where this machine can reach the endpoint and has an access entry."""
    import checks
    from cli import workstation_config
    from clients import Clients

    facts = probe.facts
    assert facts is not None
    ctx, connector = probe.ctx, probe.ctx.connector
    sts = connector.client(ctx.session, "sts", ctx.region, endpoint_url=kube.sts_endpoint(ctx.region))
    # Clients of its own: the verifier's call meter must not be attached to the clients other threads share.
    clients = Clients(eks=connector.client(ctx.session, "eks", ctx.region), kms=connector.client(ctx.session, "kms", ctx.region),
                      cloudtrail=None, token_provider=lambda name: kube.make_token(sts, name), x509_strict=False)
    config = workstation_config(probe.name, facts.key_arn, owner="audit")
    runtime = Runtime(deadline=time.monotonic() + probe.options.kubernetes_budget_seconds, now_utc=probe.now,
                      kube_policy=KUBE_POLICY)
    try:
        report = checks.run_verification(config, clients, runtime)
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
    _calls.counter = counter = [0]
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
        _calls.counter = None
    return record


def _client_error_verdict(stage: str, exc: ClientError, ctx: RegionContext) -> tuple[str, str]:
    code, op = code_of(exc), getattr(exc, "operation_name", "the call")
    if code in ACCESS_CODES:
        return "no-access", (f"Stage {stage}: {op} was denied ({code}) in {ctx.account}/{ctx.region}. "
                             "Allow it to the audit role (docs/audit.md, Permissions).")
    return "error", StageRunner.classify(stage, exc).reason


# ---------------------------------------------------------------------------------------------
# the run


class Auditor:
    """accounts -> regions -> clusters on one bounded pool; the main thread only schedules and reports."""

    def __init__(self, options: AuditOptions, connector: Connector | None = None, *,
                 now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
                 progress: Callable[[dict[str, int]], None] | None = None) -> None:
        if options.concurrency < 1:
            raise UsageError(f"--concurrency {options.concurrency}: expected a positive number of workers")
        self.options = options
        self.connector = connector or Connector()
        self.now = now
        self.progress = progress or (lambda _state: None)

    def run(self) -> AuditResult:
        started = self.now().isoformat(timespec="seconds")
        errors: list[ScopeError] = []
        skipped: list[dict[str, str]] = []
        clusters: list[ClusterResult] = []
        regions_seen: dict[str, list[str]] = {}
        own_account, partition = self.connector.caller()
        accounts = self._accounts(own_account, errors, skipped)
        state = {"accounts": len(accounts), "regions": 0, "regions_done": 0, "clusters": 0, "clusters_done": 0, "errors": len(errors)}
        with ThreadPoolExecutor(max_workers=self.options.concurrency, thread_name_prefix="audit") as pool:
            pending: dict[Future, tuple[str, Any]] = {}
            for account in accounts:
                pending[pool.submit(self._open_account, account, own_account, partition)] = ("account", account)
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    kind, item = pending.pop(fut)
                    value = fut.result()  # every task returns its failure as data
                    if isinstance(value, ScopeError):
                        errors.append(value)
                        state["errors"] += 1
                        if kind == "region":
                            state["regions_done"] += 1
                    elif kind == "account":
                        session, regions, warning = value
                        if warning:
                            errors.append(warning)
                            state["errors"] += 1
                        regions_seen[item] = regions
                        state["regions"] += len(regions)
                        for region in regions:
                            pending[pool.submit(self._open_region, item, session, region)] = ("region", (item, region))
                    elif kind == "region":
                        ctx, names = value
                        state["regions_done"] += 1
                        state["clusters"] += len(names)
                        for name in names:
                            pending[pool.submit(audit_cluster, ctx, name, self.options, self.now)] = ("cluster", name)
                    else:
                        clusters.append(value)
                        state["clusters_done"] += 1
                self.progress(dict(state))
        clusters.sort(key=lambda c: (c.account, c.region, c.cluster))
        errors.sort(key=lambda e: (e.account, e.region or "", e.operation))
        return AuditResult(clusters, errors, skipped, accounts, dict(sorted(regions_seen.items())), started,
                           self.now().isoformat(timespec="seconds"), self.connector.calls_by_operation())

    def _accounts(self, own: str, errors: list[ScopeError], skipped: list[dict[str, str]]) -> list[str]:
        o = self.options
        if o.organization:
            if not o.role_name:
                raise UsageError("--organization needs --role-name: the role the audit assumes in each member account")
            try:
                listed = self.connector.organization_accounts()
            except ClientError as exc:
                raise UsageError(f"--organization: ListAccounts failed ({code_of(exc)}); run from the management or a "
                                 "delegated administrator account, or pass --accounts") from None
            accounts = []
            for a in listed:
                if a.get("Status", "ACTIVE") == "ACTIVE":
                    accounts.append(str(a["Id"]))
                else:
                    skipped.append({"account": str(a["Id"]), "reason": f"account status {a.get('Status')}"})
            return sorted(set(accounts))
        if o.accounts:
            foreign = [a for a in o.accounts if a != own]
            if foreign and not o.role_name:
                raise UsageError(f"--accounts {','.join(foreign)}: other accounts than {own} need --role-name")
            return sorted(set(o.accounts))
        return [own]

    def _open_account(self, account: str, own: str, partition: str) -> tuple[AccountSession, list[str], ScopeError | None] | ScopeError:
        try:
            if account == own:
                session = AccountSession(account)
            else:
                role_arn = f"arn:{partition}:iam::{account}:role/{self.options.role_name}"
                try:
                    session = self.connector.assume(account, role_arn, self.options.external_id)
                except ClientError as exc:
                    return ScopeError(account, None, "AssumeRole", code_of(exc), f"cannot assume {role_arn}: {kube.scrub(exc, 200)}")
            if self.options.regions:
                return session, list(self.options.regions), None
            try:
                return session, self.connector.eks_regions(session), None
            except ClientError as exc:
                fallback = self.connector.offered_regions()
                return session, fallback, ScopeError(account, None, "DescribeRegions", code_of(exc),
                                                     "every region EKS offers is tried instead; opt-in regions may fail")
        except Exception as exc:  # noqa: BLE001 - one account never stops the run
            return ScopeError(account, None, "open-account", type(exc).__name__, kube.scrub(exc, 200))

    def _open_region(self, account: str, session: AccountSession, region: str) -> tuple[RegionContext, list[str]] | ScopeError:
        try:
            c = self.connector
            ctx = RegionContext(account, region, session, c.client(session, "eks", region), c.client(session, "kms", region),
                                c.client(session, "cloudtrail", region) if self.options.cloudtrail else None, c)
            return ctx, c.list_clusters(ctx.eks)
        except ClientError as exc:
            return ScopeError(account, region, "ListClusters", code_of(exc), kube.scrub(exc, 200))
        except Exception as exc:  # noqa: BLE001 - one region never stops the run
            return ScopeError(account, region, "ListClusters", type(exc).__name__, kube.scrub(exc, 200))
