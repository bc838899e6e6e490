"""The one place that builds clients: boto3 (timeouts, standard retries, a call meter) and the Kubernetes client."""
from __future__ import annotations

import os

from dataclasses import dataclass, field
from typing import Any, Callable

import kube
from model import ClusterFacts, Config, Runtime

_METER_EVENT = "before-parameter-build"
_METER_ID = "eks-envelope-call-meter"


class DeadlineReached(Exception):
    """Raised by the call meter before an AWS call that could not finish inside the stage budget."""


class CallMeter:
    """Counts AWS API calls (one per operation call and per page; botocore's own retries are not calls).

    Registered as a botocore event hook on every client; ``guard`` refuses a call when the stage
    budget cannot hold one more attempt, so no AWS call starts that the deadline would cut short.
    """

    def __init__(self) -> None:
        self.count = 0
        self.guard: Callable[[], None] | None = None

    def hook(self, **_: Any) -> None:
        if self.guard is not None:
            self.guard()
        self.count += 1

    def attach(self, client: Any) -> None:
        if client is None or not hasattr(client, "meta"):
            return
        client.meta.events.unregister(_METER_EVENT, unique_id=_METER_ID)
        client.meta.events.register(_METER_EVENT, self.hook, unique_id=_METER_ID)


@dataclass
class Clients:
    eks: Any
    kms: Any
    cloudtrail: Any | None
    token_provider: Callable[[str], str]  # cluster name -> bearer token
    #: False only for `make verify`: clusters first created before 1.17 have a CA without an AKI.
    x509_strict: bool = True
    meter: CallMeter = field(default_factory=CallMeter)

    def __post_init__(self) -> None:
        for client in (self.eks, self.kms, self.cloudtrail):
            self.meter.attach(client)


#: Worst case of one AWS call with boto_config: 3 attempts x (3 s connect + 8 s read) plus standard-mode
#: backoff (at most 1 s, then 2 s). Every handler keeps at least this much of Lambda's time in reserve.
AWS_CALL_WORST_CASE_SECONDS = 36.0


def region() -> str:
    """The function's region (Lambda sets AWS_REGION)."""
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def remaining_budget(context: Any, margin_seconds: float, cap_seconds: float | None = None) -> float:
    """Lambda's remaining time minus ``margin_seconds``, so a handler fails with a reason instead of being killed."""
    try:
        remaining = float(context.get_remaining_time_in_millis()) / 1000.0
    except Exception:  # noqa: BLE001 - no context (local runs)
        remaining = 840.0
    budget = max(1.0, remaining - margin_seconds)
    return min(budget, cap_seconds) if cap_seconds is not None else budget


def boto_config(budget_seconds: float) -> Any:
    """Timeouts derived from the budget, botocore's standard retries (the only retry layer for AWS calls).

    Worst case per call: 3 attempts x (connect + read) plus backoff, at most AWS_CALL_WORST_CASE_SECONDS.
    """
    from botocore.config import Config as BotoConfig

    per_attempt = max(2.0, min(8.0, budget_seconds / 4))
    return BotoConfig(
        retries={"mode": "standard", "max_attempts": 3},
        connect_timeout=min(3.0, per_attempt / 2),
        read_timeout=per_attempt,
        user_agent_extra="eks-envelope-verifier",
    )


def build_clients(region: str, *, budget_seconds: float, with_cloudtrail: bool = True, x509_strict: bool = True) -> Clients:
    """boto3 clients for one run; STS pinned to the regional endpoint for the token."""
    import boto3

    session = boto3.session.Session(region_name=region)
    cfg = boto_config(budget_seconds)
    sts = session.client("sts", region_name=region, endpoint_url=kube.sts_endpoint(region), config=cfg)
    return Clients(
        eks=session.client("eks", config=cfg),
        kms=session.client("kms", config=cfg),
        cloudtrail=session.client("cloudtrail", config=cfg) if with_cloudtrail else None,
        token_provider=lambda cluster: kube.make_token(sts, cluster),
        x509_strict=x509_strict,
    )


def cloudwatch_client(region: str, *, budget_seconds: float) -> Any:
    """CloudWatch, for the Verified metric (scheduled runs, and the deploy's first datapoint)."""
    import boto3

    return boto3.session.Session(region_name=region).client("cloudwatch", config=boto_config(budget_seconds))


def open_kube(facts: ClusterFacts, config: Config, clients: Clients, runtime: Runtime) -> kube.KubeClient:
    """The Kubernetes client: endpoint and CA from DescribeCluster, checked before any token is minted."""
    return kube.KubeClient(
        facts.endpoint,
        facts.ca_data,
        lambda: clients.token_provider(config.cluster_name),
        deadline=runtime.stage_deadline(),
        policy=runtime.kube_policy,
        clock=runtime.clock,
        sleep=runtime.sleep,
        rng=runtime.rng,
        x509_strict=clients.x509_strict,
    )
