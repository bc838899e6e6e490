"""What adopting a cluster with 1,000 Secrets costs in API calls (AWS and Kubernetes), measured on the fakes."""
from __future__ import annotations

from collections import Counter
from typing import Any

from existing_fakes import ALLOW_CALLER, ALLOW_ROLE, expect_association, stubbed_iam
from test_encrypt_existing import run


def _count_calls(client: Any, counter: Counter, service: str) -> None:
    # before-parameter-build: every handler runs (the Stubber answers in before-call and stops the rest).
    # Presigning the EKS token builds parameters too, but sends nothing: not a call.
    def count(model: Any, context: dict, **_: Any) -> None:
        if not context.get("is_presign_request"):
            counter.update([f"{service}:{model.name}"])

    client.meta.events.register("before-parameter-build", count, unique_id=f"count-{service}-{id(counter)}")


def _uncount(client: Any, counter: Counter, service: str) -> None:
    client.meta.events.unregister("before-parameter-build", unique_id=f"count-{service}-{id(counter)}")


def test_calls_per_1000_secrets(account: Any, capsys: Any) -> None:
    etcd = account.api.etcd
    etcd.seed_secrets(1000, namespaces=10)
    expect_association(account.eks, account.key_arn, "InProgress", "InProgress", "InProgress", "Successful")
    iam, _ = stubbed_iam(ALLOW_CALLER, ALLOW_ROLE)
    aws: Counter = Counter()
    clients = {"eks": account.eks.moto, "eks-updates": account.eks.stubbed, "kms": account.kms, "sts": account.sts, "iam": iam}
    for service, client in clients.items():
        _count_calls(client, aws, service.split("-")[0])
    try:
        code, out = run(account, iam=iam)
    finally:
        for service, client in clients.items():
            _uncount(client, aws, service.split("-")[0])
    assert code == 0, out
    assert aws.pop("kms:CreateGrant") == 1  # made by the fake EKS when the update succeeds, not by the tool

    verifier = [(m, p) for m, p, _ in etcd.log if p.startswith("/api/v1/namespaces/default/") or p == "/readyz"]
    k8s = Counter(f"{m} {'list' if p == '/api/v1/secrets' else 'review' if 'selfsubject' in p else 'one'}"
                  for m, p, _ in etcd.log if (m, p) not in verifier)
    # Re-encryption: 3 access reviews, 4 list pages of 250, one PUT per Secret; then the verifier's canary.
    assert k8s == Counter({"POST review": 3, "GET list": 4, "PUT one": 1000})
    assert 3 <= len(verifier) <= 10
    # One kept-alive TLS connection per client: the rights check, the re-encryption, the verifier.
    connections = account.api.server.connections
    assert connections == 3, connections
    # AWS: preflight, the association and one DescribeUpdate per poll (4 here, ~1 per 30 s in real life),
    # then the verifier's cluster, key-health and version-support stages. Presigning the EKS token is local:
    # no STS call.
    assert aws == Counter({
        "eks:DescribeCluster": 2, "eks:AssociateEncryptionConfig": 1, "eks:DescribeUpdate": 4, "eks:DescribeClusterVersions": 1,
        "kms:DescribeKey": 2, "kms:GetKeyRotationStatus": 2, "kms:GetKeyPolicy": 1, "kms:ListGrants": 1,
        "sts:GetCallerIdentity": 1, "iam:SimulatePrincipalPolicy": 2,
    })
    with capsys.disabled():
        print(f"\n[calls per 1,000 Secrets] Kubernetes {sum(k8s.values())} ({dict(k8s)}) + verifier {len(verifier)} "
              f"over {connections} TLS connections; "
              f"AWS {sum(aws.values())} ({dict(aws)})")
