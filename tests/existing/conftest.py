"""Fixtures for adopting existing clusters: moto account + stubbed EKS updates + fake API server."""
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from existing_fakes import (  # noqa: E402
    CLUSTER,
    CLUSTER_ROLE_ARN,
    Eks,
    FakeApiServer,
    FakeTime,
    make_key,
    start_api_server,
)
from verifier_fakes import _shared_clients, aws_env, empty_account, moto_engine, pki  # noqa: E402,F401

from verifier.stages import association  # noqa: E402


@pytest.fixture
def api(pki) -> Any:  # noqa: F811
    server = start_api_server(pki)
    yield server
    server.close()


@dataclass
class Account:
    """A moto account with a cluster that has no customer key yet, served by the fake API server."""

    eks: Eks
    kms: Any
    sts: Any
    key_arn: str
    api: FakeApiServer
    time: FakeTime

    def aws(self, iam: Any) -> association.AwsClients:
        return association.AwsClients(eks=self.eks, kms=self.kms, iam=iam, sts=self.sts, region="us-west-2")

    def cluster(self) -> dict[str, Any]:
        return self.eks.moto.describe_cluster(name=CLUSTER)["cluster"]


@pytest.fixture
def account(empty_account: None, api: FakeApiServer, pki, monkeypatch: pytest.MonkeyPatch) -> Any:  # noqa: F811
    import base64

    import moto.kms.models as moto_kms

    original = moto_kms.generate_private_key
    monkeypatch.setattr(moto_kms, "generate_private_key", lambda spec: None if spec == "SYMMETRIC_DEFAULT" else original(spec))
    eks, kms, sts = _shared_clients()
    key_arn, _ = make_key(kms, grant_to=None)
    eks.create_cluster(name=CLUSTER, roleArn=CLUSTER_ROLE_ARN,
                       resourcesVpcConfig={"subnetIds": ["subnet-1"], "endpointPrivateAccess": True})
    routed = Eks(eks, kms, api.etcd)
    moto_cluster = routed.cluster()
    moto_cluster.endpoint = api.endpoint
    moto_cluster.certificate_authority = {"data": base64.b64encode(pki.ca_pem).decode()}
    return Account(routed, kms, sts, key_arn, api, FakeTime())
