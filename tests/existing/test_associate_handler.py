"""The association custom resource's handler: it starts the association and returns; a later deploy completes.

CloudFormation gives a custom resource at most 3600 s, and AssociateEncryptionConfig is irreversible and
takes 45-52 min in field reports: the handler never waits for it. Deploy 1 (``Complete=false``) checks,
starts the association and returns its update id within minutes; deploy 2 (``Complete=true``) finds the
update done (DescribeUpdate, via the cluster's encryptionConfig), rewrites every Secret and reports
``ASSOCIATED`` — or fails fast, changing nothing, while the update still runs.
"""
from __future__ import annotations

import json
from typing import Any

import pytest
from existing_fakes import ALLOW_CALLER, ALLOW_ROLE, CLUSTER, UPDATE_ID, expect_describe, stubbed_iam, update_shape

from verifier.entry import association as associate
from verifier.stages import association
from verifier import kube
from verifier_fakes import FakeContext

PHYSICAL_ID = "adopted/encryption-association"
REQUEST_ID = "7f3c2f4e-0c4f-4b59-9a59-1f0d6f6c9e01"


def _event(account: Any, request_type: str = "Create", **props: str) -> dict[str, Any]:
    return {"RequestType": request_type, "RequestId": REQUEST_ID, "LogicalResourceId": "AdoptResource",
            "ResourceProperties": {"ServiceToken": "arn:aws:lambda:us-west-2:123456789012:function:framework",
                                   "ClusterName": CLUSTER, "KeyArn": account.key_arn, "ReencryptKinds": "secrets",
                                   "Complete": "false", **props}}


def _update(account: Any, **props: str) -> dict[str, Any]:
    return {**_event(account, "Update", **props), "PhysicalResourceId": PHYSICAL_ID,
            "OldResourceProperties": _event(account)["ResourceProperties"]}


def _clients(account: Any, iam: Any = None) -> tuple[association.AwsClients, Any]:
    iam = iam if iam is not None else stubbed_iam(ALLOW_CALLER, ALLOW_ROLE)[0]
    return account.aws(iam), lambda name: kube.make_token(account.sts, name)


def _in_progress(account: Any) -> None:
    """The cluster is UPDATING with our association: ListUpdates + DescribeUpdate find it."""
    account.eks.cluster().status = "UPDATING"
    account.eks.stubber.add_response("list_updates", {"updateIds": [UPDATE_ID]}, {"name": CLUSTER, "maxResults": 100})
    account.eks.stubber.add_response("describe_update", {"update": update_shape(account.key_arn, "InProgress")},
                                     {"name": CLUSTER, "updateId": UPDATE_ID})


def test_create_starts_the_association_and_returns_without_waiting(account: Any) -> None:
    account.api.etcd.seed_secrets(3)
    account.eks.stubber.add_response(
        "associate_encryption_config", {"update": update_shape(account.key_arn, "InProgress")},
        {"clusterName": CLUSTER, "encryptionConfig": association.encryption_config(account.key_arn),
         "clientRequestToken": REQUEST_ID})  # the request id: a retried Create finds the same update

    created = associate.on_event(_event(account), FakeContext(), clients=_clients(account))

    assert created["PhysicalResourceId"] == PHYSICAL_ID
    assert created["Data"]["Status"] == "ASSOCIATING" and created["Data"]["UpdateId"] == UPDATE_ID
    assert created["Data"]["KeyArn"] == account.key_arn and created["Data"]["Reencrypted"] == ""
    assert f"aws eks describe-update --name {CLUSTER} --update-id {UPDATE_ID}" in created["Data"]["Next"]
    assert account.eks.calls.count("describe_update") == 0, "never waits for the update"
    assert account.api.etcd.count("PUT") == 0
    assert not hasattr(associate, "is_complete"), "no waiter: nothing may outlive CloudFormation's 3600 s"
    account.eks.stubber.assert_no_pending_responses()


def test_a_retried_create_follows_the_running_association(account: Any) -> None:
    _in_progress(account)
    created = associate.on_event(_event(account), FakeContext(), clients=_clients(account, stubbed_iam()[0]))
    assert created["Data"]["Status"] == "ASSOCIATING" and created["Data"]["UpdateId"] == UPDATE_ID
    assert account.eks.changes() == [], "no second AssociateEncryptionConfig"


def test_fails_complete_while_the_update_runs_and_changes_nothing(account: Any) -> None:
    _in_progress(account)
    with pytest.raises(RuntimeError) as err:
        associate.on_event(_update(account, Complete="true"), FakeContext(), clients=_clients(account, stubbed_iam()[0]))
    message = str(err.value)
    assert message.startswith(f"Stage association: Association update {UPDATE_ID} is still in progress")
    assert "deploy again" in message and len(message) <= 256
    assert account.eks.changes() == [] and account.api.etcd.count("PUT") == 0


def test_complete_after_the_association_rewrites_every_secret_once(account: Any) -> None:
    etcd = account.api.etcd
    etcd.seed_secrets(30)
    before = etcd.snapshot_data()
    account.eks.cluster().encryption_config = association.encryption_config(account.key_arn)
    etcd.write_key = account.key_arn  # associated: the API server now writes under the key

    done = associate.on_event(_update(account, Complete="true"), FakeContext(), clients=_clients(account, stubbed_iam()[0]))

    assert done["PhysicalResourceId"] == PHYSICAL_ID and done["Data"]["Status"] == "ASSOCIATED"
    assert done["Data"]["Reencrypted"].startswith("secrets: 30 listed, 30 rewritten (30 stored again")
    assert set(etcd.writes_per_object().values()) == {1} and len(etcd.writes_per_object()) == 30
    assert etcd.snapshot_data() == before and etcd.keys() == {account.key_arn}
    assert account.eks.changes() == []


def test_not_complete_with_the_key_already_associated_only_reports(account: Any) -> None:
    account.api.etcd.seed_secrets(4)
    account.eks.cluster().encryption_config = association.encryption_config(account.key_arn)
    reported = associate.on_event(_update(account), FakeContext(), clients=_clients(account, stubbed_iam()[0]))
    assert reported["Data"]["Status"] == "ASSOCIATED" and reported["Data"]["UpdateId"] == ""
    assert "complete=True" in reported["Data"]["Next"]
    assert account.eks.changes() == [] and account.api.etcd.count("PUT") == 0


def test_fails_complete_before_any_association_started(account: Any) -> None:
    account.eks.stubber.add_response("list_updates", {"updateIds": []}, {"name": CLUSTER, "maxResults": 100})
    with pytest.raises(RuntimeError) as err:
        associate.on_event(_event(account, Complete="true"), FakeContext(), clients=_clients(account))
    assert str(err.value).startswith("Stage association: Refused, nothing changed: no association of")
    assert "complete=False" in str(err.value)
    assert account.eks.changes() == []


def test_a_failed_update_is_reported_when_completing(account: Any) -> None:
    """EKS ended the update Failed: the cluster is ACTIVE without the key. Completing says so and starts nothing."""
    account.eks.stubber.add_response("list_updates", {"updateIds": [UPDATE_ID]}, {"name": CLUSTER, "maxResults": 100})
    expect_describe(account.eks, account.key_arn, "Failed")
    with pytest.raises(RuntimeError) as err:
        associate.on_event(_update(account, Complete="true"), FakeContext(), clients=_clients(account))
    assert str(err.value).startswith(f"Stage association: Association update {UPDATE_ID} ended Failed (AccessDenied: KMS key access denied")
    assert account.eks.changes() == [] and account.api.etcd.count("PUT") == 0


def test_fails_create_refused_and_nothing_changes(account: Any) -> None:
    other = account.kms.create_key()["KeyMetadata"]["Arn"]
    account.eks.cluster().encryption_config = association.encryption_config(other)
    with pytest.raises(RuntimeError) as err:
        associate.on_event(_event(account), FakeContext(), clients=_clients(account))
    # Over 256 characters with the stage: the ARNs shrink to their resource part before anything is cut (fit_reason).
    assert str(err.value).startswith("Stage association: Refused, nothing changed: KEY: cluster adopted already encrypts "
                                     f"secrets with {other.split(':')[-1]}")
    assert len(str(err.value)) <= 256
    assert account.eks.changes() == [] and account.api.etcd.count("PUT") == 0


def test_fails_create_without_cluster_wide_rights(account: Any) -> None:
    account.api.etcd.rbac = {"list secrets": False}
    with pytest.raises(RuntimeError) as err:
        associate.on_event(_event(account), FakeContext(), clients=_clients(account))
    assert str(err.value) == ("Stage association: Refused, nothing changed: the handler role lacks cluster-wide list secrets. "
                              "Check its access entry (AmazonEKSEditPolicy, cluster scope).")
    assert account.eks.changes() == []


def test_fails_when_a_secret_cannot_be_rewritten_and_names_it(account: Any) -> None:
    etcd = account.api.etcd
    etcd.seed_secrets(6)
    etcd.fail_put = {"team-2/secret-00005": 422}
    account.eks.cluster().encryption_config = association.encryption_config(account.key_arn)
    etcd.write_key = account.key_arn
    with pytest.raises(RuntimeError) as err:
        associate.on_event(_update(account, Complete="true"), FakeContext(), clients=_clients(account, stubbed_iam()[0]))
    assert str(err.value).startswith("Stage association: 1 object(s) could not be rewritten: team-2/secret-00005. The key is associated;")
    assert len(etcd.writes_per_object()) == 5


def test_delete_never_dissociates_and_says_so(account: Any, capsys: Any) -> None:
    event = {**_event(account, "Delete"), "PhysicalResourceId": PHYSICAL_ID}
    assert associate.on_event(event, FakeContext(), clients=_clients(account)) == {"PhysicalResourceId": PHYSICAL_ID}
    assert account.eks.calls == [] and account.api.etcd.log == []
    record = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert record["event"] == "delete.no_dissociation"
    assert record["reason"].startswith("EKS cannot dissociate a key: the cluster keeps encrypting secrets with it.")


def test_fails_bad_kind_property(account: Any) -> None:
    with pytest.raises(ValueError) as err:
        associate.on_event(_event(account, ReencryptKinds="apps/deployments"), FakeContext(), clients=_clients(account))
    assert "kind 'apps/deployments': expected a core plural (secrets) or group/version/plural" in str(err.value)
    assert account.eks.calls == []
