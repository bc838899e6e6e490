"""Every refusal of `encrypt-existing`: its message, and a cluster left exactly as it was."""
from __future__ import annotations

from typing import Any

import pytest
from botocore.stub import Stubber
from existing_fakes import ALLOW_CALLER, ALLOW_ROLE, CLUSTER, UPDATE_ID, expect_association, stubbed_iam, update_shape
from test_encrypt_existing import run

import boto3


@pytest.fixture
def before(account: Any) -> dict[str, Any]:
    account.api.etcd.seed_secrets(12)
    return {"cluster": account.cluster(), "data": account.api.etcd.snapshot_data()}


def assert_untouched(account: Any, before: dict[str, Any], out: str) -> None:
    assert "REFUSED (nothing changed): " in out or "FAILED: " in out, out
    assert "associate_encryption_config" not in account.eks.calls
    etcd = account.api.etcd
    assert etcd.count("PUT") == 0 and etcd.count("POST", "/secrets") == 0 and etcd.count("DELETE") == 0
    assert etcd.writes == [] and etcd.snapshot_data() == before["data"]
    cluster = account.cluster()
    assert cluster.get("encryptionConfig") == before["cluster"].get("encryptionConfig")
    assert cluster["status"] == before["cluster"]["status"]
    assert "step 2/4" not in out


class _KeyView:
    """KMS as moto serves it, with DescribeKey metadata edited (shapes moto cannot produce)."""

    def __init__(self, kms: Any, **edits: Any) -> None:
        self._kms, self._edits = kms, edits

    def __getattr__(self, name: str) -> Any:
        return getattr(self._kms, name)

    def describe_key(self, **kwargs: Any) -> Any:
        answer = self._kms.describe_key(**kwargs)
        meta = answer["KeyMetadata"]
        meta.update({k: v(meta[k]) if callable(v) else v for k, v in self._edits.items()})
        return answer


def test_fails_cluster_not_found(account: Any, before: dict[str, Any]) -> None:
    code, out = run(account, "--cluster", "nope")  # argparse: the last --cluster wins
    assert code == 1
    assert "REFUSED (nothing changed): CLUSTER: cluster nope not found in us-west-2. Check the name and REGION." in out
    assert_untouched(account, before, out)


@pytest.mark.parametrize("status", ["CREATING", "FAILED", "DELETING"])
def test_fails_cluster_not_active(account: Any, before: dict[str, Any], status: str) -> None:
    account.eks.cluster().status = before["cluster"]["status"] = status
    code, out = run(account)
    assert code == 1
    assert f"CLUSTER: cluster adopted is {status}, not ACTIVE. Wait until it is ACTIVE, then run again." in out
    assert_untouched(account, before, out)


def test_fails_cluster_updating_with_another_update(account: Any, before: dict[str, Any]) -> None:
    account.eks.cluster().status = before["cluster"]["status"] = "UPDATING"
    account.eks.stubber.add_response("list_updates", {"updateIds": ["u-1"]}, {"name": CLUSTER, "maxResults": 100})
    account.eks.stubber.add_response("describe_update", {"update": {"id": "u-1", "status": "InProgress", "type": "VersionUpdate",
                                                                    "params": [{"type": "Version", "value": "1.35"}], "errors": []}},
                                     {"name": CLUSTER, "updateId": "u-1"})
    code, out = run(account)
    assert code == 1
    assert "CLUSTER: cluster adopted is UPDATING with another update. Wait until it is ACTIVE, then run again." in out
    assert_untouched(account, before, out)


def test_fails_another_key_already_associated(account: Any, before: dict[str, Any]) -> None:
    other = account.kms.create_key(Description="the key eksctl used")["KeyMetadata"]["Arn"]
    account.eks.cluster().encryption_config = [{"resources": ["secrets"], "provider": {"keyArn": other}}]
    before["cluster"] = account.cluster()
    code, out = run(account)
    assert code == 1
    assert (f"KEY: cluster adopted already encrypts secrets with {other}, not {account.key_arn}. "
            f"EKS cannot change or remove an associated key: use KEY={other}.") in out
    assert_untouched(account, before, out)


@pytest.mark.parametrize("resources", [None, []], ids=["resources-absent", "resources-empty"])
def test_fails_another_key_already_associated_without_the_deprecated_resources_field(
    account: Any, before: dict[str, Any], resources: list[str] | None,
) -> None:
    """`resources` is deprecated (EKS user guide FAQ; botocore since 2025-03): a config that names a key counts."""
    other = account.kms.create_key(Description="the key eksctl used")["KeyMetadata"]["Arn"]
    entry: dict[str, Any] = {"provider": {"keyArn": other}}
    if resources is not None:
        entry["resources"] = resources
    account.eks.cluster().encryption_config = [entry]
    before["cluster"] = account.cluster()
    code, out = run(account)
    assert code == 1
    assert f"KEY: cluster adopted already encrypts secrets with {other}, not {account.key_arn}." in out
    assert_untouched(account, before, out)


def test_fails_association_with_another_key_in_progress(account: Any, before: dict[str, Any]) -> None:
    other = account.kms.create_key(Description="someone else's run")["KeyMetadata"]["Arn"]
    account.eks.cluster().status = before["cluster"]["status"] = "UPDATING"
    account.eks.stubber.add_response("list_updates", {"updateIds": [UPDATE_ID]}, {"name": CLUSTER, "maxResults": 100})
    account.eks.stubber.add_response("describe_update", {"update": update_shape(other, "InProgress")}, {"name": CLUSTER, "updateId": UPDATE_ID})
    code, out = run(account)
    assert code == 1
    assert (f"KEY: an association with another key ({other}, update {UPDATE_ID}) is in progress. "
            "EKS cannot change the key afterwards: give that key.") in out
    assert_untouched(account, before, out)


def test_fails_key_not_found(account: Any, before: dict[str, Any]) -> None:
    missing = "arn:aws:kms:us-west-2:123456789012:key/00000000-0000-0000-0000-000000000000"
    code, out = run(account, key=missing)
    assert code == 1
    assert f"KEY: key {missing} not found (DescribeKey). Give a key ARN in the cluster's region." in out
    assert_untouched(account, before, out)


def test_fails_key_in_another_region(account: Any, before: dict[str, Any]) -> None:
    account.kms = _KeyView(account.kms, Arn=lambda arn: arn.replace("us-west-2", "eu-west-1"))
    code, out = run(account)
    assert code == 1
    assert "KEY: key arn:aws:kms:eu-west-1:123456789012:key/" in out
    assert "is in region eu-west-1, the cluster in us-west-2. EKS needs a key in the cluster's region." in out
    assert_untouched(account, before, out)


def test_fails_key_not_symmetric(account: Any, before: dict[str, Any]) -> None:
    rsa = account.kms.create_key(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["Arn"]
    code, out = run(account, key=rsa)
    assert code == 1
    assert (f"KEY: key {rsa} is RSA_2048/ENCRYPT_DECRYPT; EKS needs SYMMETRIC_DEFAULT/ENCRYPT_DECRYPT. "
            "Create a symmetric encryption key.") in out
    assert_untouched(account, before, out)


def test_fails_key_disabled(account: Any, before: dict[str, Any]) -> None:
    account.kms.disable_key(KeyId=account.key_arn.rsplit("/", 1)[-1])
    code, out = run(account)
    assert code == 1
    assert f"KEY: key {account.key_arn} is Disabled, not Enabled. Enable it (EnableKey) or give another key." in out
    assert_untouched(account, before, out)


def test_fails_key_pending_deletion(account: Any, before: dict[str, Any]) -> None:
    account.kms.schedule_key_deletion(KeyId=account.key_arn.rsplit("/", 1)[-1], PendingWindowInDays=7)
    code, out = run(account)
    assert code == 1
    assert f"KEY: key {account.key_arn} is PendingDeletion, not Enabled." in out
    assert_untouched(account, before, out)


def test_fails_aws_managed_key(account: Any, before: dict[str, Any]) -> None:
    account.kms = _KeyView(account.kms, KeyManager="AWS")
    code, out = run(account)
    assert code == 1
    assert "is AWS managed. Give a customer managed key (that is the point: you control it)." in out
    assert_untouched(account, before, out)


def test_fails_caller_cannot_create_grant(account: Any, before: dict[str, Any]) -> None:
    iam, _ = stubbed_iam({"kms:CreateGrant": "implicitDeny", "kms:DescribeKey": "allowed"})
    code, out = run(account, iam=iam)
    assert code == 1
    assert (f"caller: caller arn:aws:iam::123456789012:user/moto may not kms:CreateGrant on {account.key_arn} (implicitDeny). "
            "Allow kms:CreateGrant and kms:DescribeKey on the key to the caller (key policy or IAM), "
            "e.g. with condition kms:ViaService = eks.us-west-2.amazonaws.com.") in out
    assert_untouched(account, before, out)


def test_fails_cluster_role_cannot_use_key(account: Any, before: dict[str, Any]) -> None:
    iam, _ = stubbed_iam(ALLOW_CALLER, {"kms:Encrypt": "allowed", "kms:Decrypt": "explicitDeny", "kms:DescribeKey": "allowed",
                                        "kms:ListGrants": "allowed"})
    code, out = run(account, iam=iam)
    assert code == 1
    # The actions are the contract's, the same list the construct's key policy grants (they once drifted: 3 vs 4).
    assert (f"KEY: cluster role arn:aws:iam::123456789012:role/eks/eks-envelope-ClusterRole-TEST may not kms:Decrypt on "
            f"{account.key_arn} (explicitDeny). Add a key policy statement allowing kms:Encrypt, kms:Decrypt, "
            "kms:DescribeKey, kms:ListGrants to the cluster role (as ClusterSecretsKey.grant_cluster_role does).") in out
    assert_untouched(account, before, out)


def test_permission_checks_sent_to_iam_with_the_key_policy_and_eks_context(account: Any, before: dict[str, Any]) -> None:
    iam = boto3.client("iam", region_name="us-west-2")
    stubber = Stubber(iam)
    policy = account.kms.get_key_policy(KeyId=account.key_arn, PolicyName="default")["Policy"]
    context = [{"ContextKeyName": "kms:ViaService", "ContextKeyValues": ["eks.us-west-2.amazonaws.com"], "ContextKeyType": "string"},
               {"ContextKeyName": "kms:CallerAccount", "ContextKeyValues": ["123456789012"], "ContextKeyType": "string"}]
    for source, decisions in (("arn:aws:iam::123456789012:user/moto", ALLOW_CALLER),
                              ("arn:aws:iam::123456789012:role/eks/eks-envelope-ClusterRole-TEST", ALLOW_ROLE)):
        stubber.add_response("simulate_principal_policy",
                             {"EvaluationResults": [{"EvalActionName": a, "EvalResourceName": account.key_arn, "EvalDecision": d}
                                                    for a, d in decisions.items()]},
                             {"PolicySourceArn": source, "ActionNames": list(decisions), "ResourceArns": [account.key_arn],
                              "ResourcePolicy": policy, "ContextEntries": context})
    stubber.activate()
    expect_association(account.eks, account.key_arn, "Successful")
    code, out = run(account, iam=iam)
    assert code == 0, out
    assert "ok   caller may kms:CreateGrant, kms:DescribeKey on the key (SimulatePrincipalPolicy)" in out
    stubber.assert_no_pending_responses()


def test_permission_checks_that_cannot_run_warn_and_go_on(account: Any, before: dict[str, Any]) -> None:
    iam = boto3.client("iam", region_name="us-west-2")
    stubber = Stubber(iam)
    for _ in range(2):
        stubber.add_client_error("simulate_principal_policy", "AccessDenied", http_status_code=403)
    stubber.activate()
    expect_association(account.eks, account.key_arn, "Successful")
    code, out = run(account, iam=iam)
    assert code == 0, out
    assert "warn caller permissions not checked: SimulatePrincipalPolicy failed (AccessDenied)" in out
    assert "warn cluster role permissions not checked" in out


def test_rotation_off_warns_then_the_verifier_holds_it_against_the_cluster(account: Any, before: dict[str, Any]) -> None:
    account.kms.disable_key_rotation(KeyId=account.key_arn.rsplit("/", 1)[-1])
    expect_association(account.eks, account.key_arn, "Successful")
    code, out = run(account)
    assert code == 1, out
    assert f"warn automatic rotation is off for {account.key_arn}: turn it on (EnableKeyRotation)" in out
    assert "12 rewritten" in out, "a warning does not stop the association or the re-encryption"
    assert "RESULT: FAILED - Stage key-health: automatic rotation is off for key" in out


def test_fails_without_cluster_wide_rbac_on_secrets(account: Any, before: dict[str, Any]) -> None:
    account.api.etcd.rbac = {"update secrets": False}
    code, out = run(account)
    assert code == 1
    assert ("REFUSED (nothing changed): Kubernetes RBAC: your principal lacks cluster-wide update secrets. "
            "Grant it with an access entry (docs/existing-clusters.md: AmazonEKSEditPolicy, cluster scope).") in out
    assert_untouched(account, before, out)


def test_fails_api_server_unreachable(account: Any, before: dict[str, Any]) -> None:
    account.eks.cluster().endpoint = "https://127.0.0.1:9"  # discard port: connection refused
    before["cluster"] = account.cluster()
    code, out = run(account)
    assert code == 1
    assert "REFUSED (nothing changed): Kubernetes API: cannot check re-encryption rights (" in out and "127.0.0.1:9" in out
    assert "Run where the cluster endpoint is reachable, with an access entry for your principal." in out
    assert_untouched(account, before, out)


def test_fails_association_rejected_by_eks(account: Any, before: dict[str, Any]) -> None:
    account.eks.stubber.add_client_error("associate_encryption_config", "InvalidParameterException",
                                         "Cluster is already encrypted with a different key", http_status_code=400)
    code, out = run(account)
    assert code == 1
    assert ("FAILED: CLUSTER: AssociateEncryptionConfig failed (InvalidParameterException: Cluster is already encrypted "
            "with a different key). Nothing was associated; fix it and run again.") in out
    assert account.api.etcd.count("PUT") == 0 and account.cluster().get("encryptionConfig") == before["cluster"].get("encryptionConfig")


def test_fails_update_failed_and_nothing_is_rewritten(account: Any, before: dict[str, Any]) -> None:
    expect_association(account.eks, account.key_arn, "InProgress", "Failed")
    code, out = run(account)
    assert code == 1
    assert (f"FAILED: update {UPDATE_ID} ended Failed (AccessDenied: KMS key access denied for CreateGrant). "
            "Nothing was re-encrypted.") in out
    assert account.api.etcd.count("PUT") == 0 and account.api.etcd.writes == []
    assert account.cluster()["status"] == "ACTIVE" and not account.cluster().get("encryptionConfig")


def test_fails_aws_error_while_following_says_a_rerun_resumes(account: Any, before: dict[str, Any]) -> None:
    account.eks.stubber.add_response("associate_encryption_config", {"update": update_shape(account.key_arn, "InProgress")})
    account.eks.stubber.add_client_error("describe_update", "AccessDeniedException", "not authorized: eks:DescribeUpdate",
                                         http_status_code=403)
    code, out = run(account)
    assert code == 1
    assert "FAILED: AWS call failed (AccessDeniedException: An error occurred (AccessDeniedException) when calling the " in out
    assert ("DescribeUpdate operation: not authorized: eks:DescribeUpdate). Check credentials, region and IAM permissions; "
            "running again is safe: it resumes from what the cluster shows.") in out
    assert account.api.etcd.count("PUT") == 0
