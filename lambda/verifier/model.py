"""The verifier's data: configuration, runtime knobs, stage outcomes, the report and the one failure type."""
from __future__ import annotations

import hashlib
import json
import random
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from . import contract
from .text import fit_reason

CANARY_PREFIX = "eks-envelope-canary-"
MANAGED_BY_LABEL = ("app.kubernetes.io/managed-by", "eks-envelope-verifier")
OWNER_LABEL = "eks-envelope.io/owner"  # a hash of the owner (label values are short and restricted)
OWNER_ANNOTATION = "eks-envelope.io/owner"  # the owner in full: stack id + logical id, or the CLI run
RUN_ANNOTATION = "eks-envelope.io/run"  # the run (CloudFormation RequestId, CLI run id)

#: Evidence levels, weakest first; Data["Evidence"] and `make verify` list the ones gathered.
EVIDENCE = {
    "config-names-key": "DescribeCluster: encryptionConfig names your key",
    "key-usable": "your key is Enabled, symmetric, rotating, with a grant to the cluster role",
    "api-roundtrip": "a Secret written through the API server reads back equal (storage works)",
    "pod-read": "a Fargate pod mounted the Secret and read the same value",
    "kms-provider-healthy": "the API server's /readyz?verbose reports its KMS provider healthy",
    "cloudtrail-key-use": "CloudTrail shows the cluster role calling KMS with your key",
}


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds for one Kubernetes request; every retry loop of the client (``kube``) ends on one of these.

    Data, so the runtime knobs below carry it without the data layer importing the client.
    """

    auth_grace_seconds: float = 90.0  # fresh access entries answer 401/403 for a while
    max_server_retries: int = 5  # 429 and 5xx
    max_connect_attempts: int = 2  # connect failures and lost responses (the request is idempotent)
    base_backoff_seconds: float = 0.5
    max_backoff_seconds: float = 8.0
    request_timeout_seconds: float = 10.0  # wall clock for one attempt: connect, TLS, request, whole response


#: Cleanup after a failure: no grace period, one retry, short attempts.
CLEANUP_POLICY = RetryPolicy(auth_grace_seconds=0.0, max_server_retries=1, max_connect_attempts=1, request_timeout_seconds=5.0)


class VerificationError(Exception):
    """A failed stage; str() is the CloudFormation reason (<= 256 chars, names the stage, problem and fix)."""

    def __init__(self, stage: str, problem: str, fix: str = "") -> None:
        self.stage = stage
        self.problem = problem
        self.fix = fix
        self.note = ""
        self.results: list[StageResult] = []
        self.report: Report | None = None
        super().__init__(self.reason)

    @property
    def reason(self) -> str:
        return fit_reason(self.stage, self.problem, self.fix, self.note)

    @property
    def detail(self) -> str:
        return f"{self.problem} {self.fix}".strip()

    def add_note(self, note: str) -> None:
        self.note = note
        self.args = (self.reason,)

    def __str__(self) -> str:
        return self.reason


@dataclass
class Config:
    """What to verify: built from the wire contract (``from_properties``) or for a workstation (``for_workstation``).

    Every default lives in ``contract``, none here.
    """

    cluster_name: str
    expected_key: str | None  # None: take the cluster's own key (workstation mode)
    cluster_role_arn: str | None  # None: take roleArn from DescribeCluster
    namespace: str
    label_key: str
    label_value: str
    pod_check: bool
    pod_image: str
    pod_timeout_seconds: float
    cloudtrail_check: bool
    cloudtrail_wait_seconds: float
    cloudtrail_required: bool
    owner: str  # who owns this run's canaries: "<StackId>/<LogicalResourceId>" or "cli/<run>"
    run_id: str
    #: False only for scheduled runs (SecretCheck): cluster and key stages, no Kubernetes call at all.
    secret_check: bool = True

    @classmethod
    def from_properties(cls, props: contract.VerificationProperties, *, owner: str, run_id: str,
                        secret_check: bool = True) -> Config:
        """The one place a deployed verifier's Config is built: the properties the construct wrote (or the schedule sent)."""
        return cls(
            cluster_name=props.cluster_name,
            expected_key=props.key_arn,
            cluster_role_arn=props.cluster_role_arn,
            namespace=props.canary_namespace,
            label_key=props.canary_label_key,
            label_value=props.canary_label_value,
            pod_check=props.pod_check,
            pod_image=props.pod_image,
            pod_timeout_seconds=float(props.pod_timeout_seconds),
            cloudtrail_check=props.cloudtrail_check,
            cloudtrail_wait_seconds=float(props.cloudtrail_wait_seconds),
            cloudtrail_required=props.cloudtrail_required,
            owner=owner or "unknown-owner",
            run_id=run_id or "unknown-run",
            secret_check=secret_check,
        )

    @classmethod
    def for_workstation(
        cls,
        cluster_name: str,
        expected_key: str | None,
        *,
        owner: str,
        namespace: str = contract.CANARY_NAMESPACE,
        pod_check: bool = False,
        pod_image: str = contract.POD_IMAGE,
        pod_timeout_seconds: float = contract.POD_TIMEOUT_SECONDS,
        cloudtrail_check: bool = False,
        cloudtrail_wait_seconds: float = contract.CLOUDTRAIL_WAIT_SECONDS,
        cloudtrail_required: bool = False,
    ) -> Config:
        """The verifier off the Lambda (``eks-envelope verify``, encrypt-existing, the audit): the contract's defaults,
        the cluster role from DescribeCluster, canaries owned by ``<owner>/<run id>``."""
        run_id = secrets.token_hex(6)
        return cls(
            cluster_name=cluster_name,
            expected_key=expected_key,
            cluster_role_arn=None,  # taken from DescribeCluster roleArn
            namespace=namespace,
            label_key=contract.CANARY_LABEL_KEY,
            label_value=contract.CANARY_LABEL_VALUE,
            pod_check=pod_check,
            pod_image=pod_image,
            pod_timeout_seconds=float(pod_timeout_seconds),
            cloudtrail_check=cloudtrail_check,
            cloudtrail_wait_seconds=float(cloudtrail_wait_seconds),
            cloudtrail_required=cloudtrail_required,
            owner=f"{owner}/{run_id}",
            run_id=run_id,
        )

    @property
    def label_selector(self) -> str:
        return f"{self.label_key}={self.label_value},{MANAGED_BY_LABEL[0]}={MANAGED_BY_LABEL[1]}"

    @property
    def owner_hash(self) -> str:
        return hashlib.sha256(self.owner.encode()).hexdigest()[:16]


@dataclass
class Runtime:
    """Time and retry knobs; tests inject a fake clock/sleep so the fault matrix runs in milliseconds."""

    deadline: float
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    now_utc: Callable[[], datetime] = lambda: datetime.now(timezone.utc)
    rng: random.Random = field(default_factory=random.Random)
    kube_policy: RetryPolicy = field(default_factory=RetryPolicy)
    pod_poll_seconds: float = 5.0
    cloudtrail_poll_seconds: float = 20.0
    cloudtrail_min_interval_seconds: float = 0.5  # LookupEvents allows 2 requests per second
    cloudtrail_lookback_seconds: float = 3600.0
    cleanup_seconds: float = 15.0  # kept back from every stage so cleanup always runs
    cleanup_policy: RetryPolicy = field(default_factory=lambda: CLEANUP_POLICY)
    health_seconds: float = 10.0  # /readyz?verbose gets at most this
    #: A canary older than this cannot belong to a run still in flight (Lambda <= 15 min, CLI budget 15 min).
    in_flight_max_seconds: float = 16 * 60.0
    #: Anyone's canary older than this is abandoned; younger ones of other owners are never touched.
    abandoned_after_seconds: float = 3600.0

    def remaining(self) -> float:
        return self.deadline - self.clock()

    def stage_deadline(self) -> float:
        return self.deadline - self.cleanup_seconds


@dataclass
class Outcome:
    """What one stage returns: its status, a short detail, the evidence it gathered and any warnings."""

    status: str = "passed"  # passed | skipped | found | not-yet-delivered | unavailable
    detail: str = ""
    evidence: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    value: Any = field(default=None, repr=False)  # a typed hand-over to later stages (facts, flags)


@dataclass
class StageResult:
    name: str
    status: str  # passed | failed | skipped | found | not-yet-delivered | unavailable
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
    version: str = ""  # Kubernetes version from DescribeCluster ("1.34")


@dataclass
class Canary:
    """This run's canary: the value lives only in memory (repr hides it); names are recorded before create."""

    value: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    secret_name: str | None = None
    pod_name: str | None = None
    attempted: list[tuple[str, str]] = field(default_factory=list)  # (plural, name), recorded before each POST

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.value.encode()).hexdigest()


@dataclass
class Report:
    results: list[StageResult]
    key_arn: str | None
    cluster_name: str
    evidence: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)
    unreachable: bool = False  # a stage failed because the endpoint could not be used at all
    support: Any = None  # version_support.VersionSupport once the version-support stage ran

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
