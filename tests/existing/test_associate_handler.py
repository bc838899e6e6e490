"""The association custom resource's handlers: on_event starts, is_complete follows, re-encrypts, finishes."""
from __future__ import annotations

import json
from typing import Any

import pytest
from existing_fakes import ALLOW_CALLER, ALLOW_ROLE, CLUSTER, UPDATE_ID, expect_describe, stubbed_iam

import associate
import association
import kube
from verifier_fakes import FakeContext


def _event(account: Any, request_type: str = "Create", **props: str) -> dict[str, Any]:
    return {"RequestType": request_type, "RequestId": "7f3c2f4e-0c4f-4b59-9a59-1f0d6f6c9e01", "LogicalResourceId": "AdoptResource",
            "ResourceProperties": {"ServiceToken": "arn:aws:lambda:us-west-2:123456789012:function:framework",
                                   "ClusterName": CLUSTER, "KeyArn": account.key_arn, "ReencryptKinds": "secrets", **props}}


def _clients(account: Any, iam: Any = None) -> tuple[association.AwsClients, Any]:
    iam = iam if iam is not None else stubbed_iam(ALLOW_CALLER, ALLOW_ROLE)[0]
    return account.aws(iam), lambda name: kube.make_token(account.sts, name)


def test_create_associates_waits_then_rewrites_every_secret_once(account: Any) -> None:
    etcd = account.api.etcd
    etcd.seed_secrets(30)
    before = etcd.snapshot_data()
    account.eks.stubber.add_response(
        "associate_encryption_config", {"update": {"id": UPDATE_ID, "status": "InProgress", "type": "AssociateEncryptionConfig"}},
        {"clusterName": CLUSTER, "encryptionConfig": association.encryption_config(account.key_arn),
         "clientRequestToken": "7f3c2f4e-0c4f-4b59-9a59-1f0d6f6c9e01"})  # the request id: a retried Create finds the same update
    expect_describe(account.eks, account.key_arn, "InProgress", "Successful")
    event = _event(account)

    created = associate.on_event(event, FakeContext(), clients=_clients(account))

    assert created == {"PhysicalResourceId": "adopted/encryption-association", "Data": {"KeyArn": account.key_arn, "UpdateId": UPDATE_ID}}
    assert etcd.count("PUT") == 0
    polled = {**event, **created}
    assert associate.is_complete(polled, FakeContext(), clients=_clients(account, stubbed_iam()[0])) == {"IsComplete": False}
    done = associate.is_complete(polled, FakeContext(), clients=_clients(account, stubbed_iam()[0]))
    assert done["IsComplete"] is True
    assert done["Data"]["Reencrypted"].startswith("secrets: 30 listed, 30 rewritten (30 stored again")
    assert set(etcd.writes_per_object().values()) == {1} and len(etcd.writes_per_object()) == 30
    assert etcd.snapshot_data() == before and etcd.keys() == {account.key_arn}
    assert account.cluster()["encryptionConfig"][0]["provider"]["keyArn"] == account.key_arn
    account.eks.stubber.assert_no_pending_responses()


def test_update_with_the_key_already_associated_goes_straight_to_reencryption(account: Any) -> None:
    account.api.etcd.seed_secrets(4)
    account.eks.cluster().encryption_config = association.encryption_config(account.key_arn)
    event = _event(account, "Update")
    event["PhysicalResourceId"] = "adopted/encryption-association"

    created = associate.on_event(event, FakeContext(), clients=_clients(account, stubbed_iam()[0]))

    assert created["Data"]["UpdateId"] == "" and account.eks.changes() == []
    done = associate.is_complete({**event, **created}, FakeContext(), clients=_clients(account, stubbed_iam()[0]))
    assert "4 rewritten" in done["Data"]["Reencrypted"]


def test_fails_create_refused_and_nothing_changes(account: Any) -> None:
    other = account.kms.create_key()["KeyMetadata"]["Arn"]
    account.eks.cluster().encryption_config = association.encryption_config(other)
    with pytest.raises(RuntimeError) as err:
        associate.on_event(_event(account), FakeContext(), clients=_clients(account))
    assert str(err.value).startswith(f"Refused, nothing changed: KEY: cluster adopted already encrypts secrets with {other}")
    assert len(str(err.value)) <= 256
    assert account.eks.changes() == [] and account.api.etcd.count("PUT") == 0


def test_fails_create_without_cluster_wide_rights(account: Any) -> None:
    account.api.etcd.rbac = {"list secrets": False}
    with pytest.raises(RuntimeError) as err:
        associate.on_event(_event(account), FakeContext(), clients=_clients(account))
    assert str(err.value) == ("Refused, nothing changed: the handler role lacks cluster-wide list secrets. "
                              "Check its access entry (AmazonEKSEditPolicy, cluster scope).")
    assert account.eks.changes() == []


def test_fails_update_that_ended_failed(account: Any) -> None:
    expect_describe(account.eks, account.key_arn, "Failed")
    event = {**_event(account), "PhysicalResourceId": "adopted/encryption-association", "Data": {"UpdateId": UPDATE_ID}}
    with pytest.raises(RuntimeError) as err:
        associate.is_complete(event, FakeContext(), clients=_clients(account, stubbed_iam()[0]))
    assert str(err.value) == (f"Association update {UPDATE_ID} ended Failed (AccessDenied: KMS key access denied for CreateGrant). "
                              "Nothing was re-encrypted; fix the cause and deploy again.")
    assert account.api.etcd.count("PUT") == 0


def test_fails_when_a_secret_cannot_be_rewritten_and_names_it(account: Any) -> None:
    etcd = account.api.etcd
    etcd.seed_secrets(6)
    etcd.fail_put = {"team-2/secret-00005": 422}
    account.eks.cluster().encryption_config = association.encryption_config(account.key_arn)
    etcd.write_key = account.key_arn  # associated earlier: the API server now writes under the key
    event = {**_event(account), "PhysicalResourceId": "adopted/encryption-association", "Data": {"UpdateId": ""}}
    with pytest.raises(RuntimeError) as err:
        associate.is_complete(event, FakeContext(), clients=_clients(account, stubbed_iam()[0]))
    assert str(err.value).startswith("1 object(s) could not be rewritten: team-2/secret-00005. The key is associated;")
    assert len(etcd.writes_per_object()) == 5


def test_delete_never_dissociates_and_says_so(account: Any, capsys: Any) -> None:
    event = {**_event(account, "Delete"), "PhysicalResourceId": "adopted/encryption-association"}
    assert associate.on_event(event, FakeContext(), clients=_clients(account)) == {"PhysicalResourceId": "adopted/encryption-association"}
    assert associate.is_complete(event, FakeContext()) == {"IsComplete": True}
    assert account.eks.calls == [] and account.api.etcd.log == []
    record = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert record["event"] == "delete.no_dissociation"
    assert record["reason"].startswith("EKS cannot dissociate a key: the cluster keeps encrypting secrets with it.")


def test_fails_bad_kind_property(account: Any) -> None:
    with pytest.raises(ValueError) as err:
        associate.on_event(_event(account, ReencryptKinds="apps/deployments"), FakeContext(), clients=_clients(account))
    assert "kind 'apps/deployments': expected a core plural (secrets) or group/version/plural" in str(err.value)
    assert account.eks.calls == []
