"""Fleet audit: every EKS cluster in the given accounts and regions, judged by the verifier's own checks.

Read-only. The per-cluster stages (``audit_stages``) are composed from the verifier's functions
(``aws_checks.verify_cluster``, ``verify_key_health``, ``collect_cloudtrail_evidence``, ``verification.run_verification``
for ``--kubernetes``); this module finds accounts, regions and clusters and runs the stages on one bounded pool,
with per-account/region errors that never stop the run. ``audit_model`` holds the data, ``audit_cli`` the command.

Verdicts (``VERDICTS``), the first problem in stage order wins, later problems add reasons:
``cmk-verified`` every stage passed; ``aws-owned-key`` no customer managed key in the encryption config;
``key-problem`` the key is not usable (state, spec, rotation, region, grant); ``cluster-problem`` the cluster
is not ACTIVE, reports a KMS health issue or runs a version past extended support; ``no-access`` a call was
denied; ``error`` anything else (throttled past botocore's retries, an unexpected answer).
"""
from __future__ import annotations

import threading
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import datetime, timezone
from typing import Any, Callable

from botocore.exceptions import ClientError

from .audit_model import (  # noqa: F401  (the audit's names, in one place for audit_cli and tests)
    DEFAULT_CONCURRENCY,
    SCHEMA_VERSION,
    VERDICTS,
    AccountSession,
    AuditOptions,
    AuditResult,
    ClusterResult,
    ScopeError,
    UsageError,
)
from .audit_stages import RegionContext, audit_cluster, calls
from ..aws.session import code_of
from ..text import scrub

#: botocore standard retries (exponential backoff with jitter, a retry quota per client): the only retry layer.
DEFAULT_MAX_ATTEMPTS = 8
DEFAULT_ROLE_SESSION = "eks-envelope-audit"


# ---------------------------------------------------------------------------------------------
# the AWS boundary: sessions and clients (the bench swaps this for fakes with latency)


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

        from ..aws.clients import boto_config

        self._lock = threading.Lock()
        self._by_op: dict[str, int] = {}
        # The verifier's timeouts, with more attempts: a fleet audit meets throttling the verifier never does.
        self.config = boto_config(60.0).merge(BotoConfig(retries={"mode": "standard", "max_attempts": max_attempts},
                                                          user_agent_extra="eks-envelope-audit"))
        self.base = (session_factory or boto3.session.Session)()

    # counting ------------------------------------------------------------------------------

    def _count(self, model: Any = None, **_: Any) -> None:
        name = getattr(model, "name", "?")
        counter = getattr(calls, "counter", None)
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
                    return ScopeError(account, None, "AssumeRole", code_of(exc), f"cannot assume {role_arn}: {scrub(exc, 200)}")
            if self.options.regions:
                return session, list(self.options.regions), None
            try:
                return session, self.connector.eks_regions(session), None
            except ClientError as exc:
                fallback = self.connector.offered_regions()
                return session, fallback, ScopeError(account, None, "DescribeRegions", code_of(exc),
                                                     "every region EKS offers is tried instead; opt-in regions may fail")
        except Exception as exc:  # noqa: BLE001 - one account never stops the run
            return ScopeError(account, None, "open-account", type(exc).__name__, scrub(exc, 200))

    def _open_region(self, account: str, session: AccountSession, region: str) -> tuple[RegionContext, list[str]] | ScopeError:
        try:
            c = self.connector
            eks = c.client(session, "eks", region)
            names = c.list_clusters(eks)
            # KMS and CloudTrail clients only where there are clusters to judge: most regions of a fleet have none,
            # and building a client is CPU-bound work under the Connector's one lock.
            kms = c.client(session, "kms", region) if names else None
            cloudtrail = c.client(session, "cloudtrail", region) if names and self.options.cloudtrail else None
            return RegionContext(account, region, session, eks, kms, cloudtrail, c), names
        except ClientError as exc:
            return ScopeError(account, region, "ListClusters", code_of(exc), scrub(exc, 200))
        except Exception as exc:  # noqa: BLE001 - one region never stops the run
            return ScopeError(account, region, "ListClusters", type(exc).__name__, scrub(exc, 200))
