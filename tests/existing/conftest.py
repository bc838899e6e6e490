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
from verifier_fakes import (  # noqa: E402,F401
    AccountImage, _shared_clients, aws_env, build_account, empty_account, long_lived_heap_frozen, moto_engine, pki,
    symmetric_keys_without_rsa,
)

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


@pytest.fixture(scope="module")
def account_image(moto_engine: Any) -> tuple[AccountImage, str]:  # noqa: F811
    """A cluster without a customer key yet, and a rotated key nobody was granted."""

    def build(eks: Any, kms: Any) -> str:
        key_arn, _ = make_key(kms, grant_to=None)
        eks.create_cluster(name=CLUSTER, roleArn=CLUSTER_ROLE_ARN,
                           resourcesVpcConfig={"subnetIds": ["subnet-1"], "endpointPrivateAccess": True})
        return key_arn

    return build_account(build)


@pytest.fixture
def account(empty_account: None, account_image: tuple[AccountImage, str], api: FakeApiServer, pki,  # noqa: F811
            monkeypatch: pytest.MonkeyPatch) -> Any:
    import base64

    symmetric_keys_without_rsa(monkeypatch)
    image, key_arn = account_image
    image.install()
    eks, kms, sts = _shared_clients()
    routed = Eks(eks, kms, api.etcd)
    moto_cluster = routed.cluster()
    moto_cluster.endpoint = api.endpoint
    moto_cluster.certificate_authority = {"data": base64.b64encode(pki.ca_pem).decode()}
    return Account(routed, kms, sts, key_arn, api, FakeTime())
