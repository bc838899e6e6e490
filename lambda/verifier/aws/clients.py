"""The one place that builds clients: boto3 (``session.boto_config``, a call meter) and the Kubernetes client."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from .. import kube
from ..model import ClusterFacts, Config, Runtime
from .meter import CallMeter
from .session import boto_config


@dataclass
class Clients:
    """The verification's clients; the meter counts (and guards) every AWS call they make."""

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


@dataclass
class AwsClients:
    """The association's clients for one region (or stand-ins); ``iam``/``sts`` are optional (the permission
    checks warn without them)."""

    eks: Any
    kms: Any
    iam: Any | None
    sts: Any | None
    region: str


def _session(region: str) -> Any:
    import boto3

    return boto3.session.Session(region_name=region)


def _token_provider(session: Any, region: str, cfg: Any) -> tuple[Any, Callable[[str], str]]:
    """STS pinned to the regional endpoint, and a cluster name -> bearer token function on it."""
    sts = session.client("sts", region_name=region, endpoint_url=kube.sts_endpoint(region), config=cfg)
    return sts, lambda cluster: kube.make_token(sts, cluster)


def build_clients(region: str, *, budget_seconds: float, with_cloudtrail: bool = True, x509_strict: bool = True) -> Clients:
    """boto3 clients for one verification run."""
    session = _session(region)
    cfg = boto_config(budget_seconds)
    _sts, tokens = _token_provider(session, region, cfg)
    return Clients(
        eks=session.client("eks", config=cfg),
        kms=session.client("kms", config=cfg),
        cloudtrail=session.client("cloudtrail", config=cfg) if with_cloudtrail else None,
        token_provider=tokens,
        x509_strict=x509_strict,
    )


def cloudwatch_client(region: str, *, budget_seconds: float) -> Any:
    """CloudWatch, for the Verified metric (scheduled runs, and the deploy's first datapoint)."""
    return _session(region).client("cloudwatch", config=boto_config(budget_seconds))


def protection_clients(region: str) -> tuple[Any, Any]:
    """EKS and CloudFormation, for the deletion-protection resource (and the stack's status)."""
    session = _session(region)
    cfg = boto_config(60.0)
    return session.client("eks", config=cfg), session.client("cloudformation", config=cfg)


def association_clients(region: str) -> tuple[Any, Callable[[str], str]]:
    """EKS, KMS, IAM and STS for the existing-cluster association; returns (clients, token provider)."""
    session = _session(region)
    cfg = boto_config(60.0, role="associate")
    sts, tokens = _token_provider(session, region, cfg)
    aws = AwsClients(eks=session.client("eks", config=cfg), kms=session.client("kms", config=cfg),
                     iam=session.client("iam", config=cfg), sts=sts, region=region)
    return aws, tokens


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
