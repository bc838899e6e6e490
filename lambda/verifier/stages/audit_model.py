"""The audit's data: options, one result per cluster, errors per account/region, the whole run's result.

The JSON schema built from these is documented in docs/audit.md (``SCHEMA_VERSION``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SCHEMA_VERSION = 1
VERDICTS = ("cmk-verified", "aws-owned-key", "key-problem", "cluster-problem", "no-access", "error")
#: Workers for accounts x regions x clusters. Each cluster costs ~4 AWS calls; 16 keep 1,000 clusters under a
#: minute at 100 ms a call while staying far below EKS's and KMS's per-account request rates.
DEFAULT_CONCURRENCY = 16


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


@dataclass(frozen=True)
class AccountSession:
    """Who the calls for one account are made as: the current credentials (None) or an assumed role's."""

    account: str
    credentials: dict[str, str] | None = None
