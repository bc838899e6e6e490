"""The lifecycle model itself, on small hand-written templates: it can fail, and it can pass.

``today()`` has the shape of the default template before issue 9 (plain ``Retain``, a protected
cluster, a verifier whose Delete races its policies); ``fixed()`` has the mechanism issue 9 builds.
"""
from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.lifecycle import scenarios
from tests.lifecycle.model import (
    TEARDOWN_HINT, Template, World, delivery_chain, eks_refuses_deleting_a_protected_active_cluster,
    imports, references,
)


def _res(cfn_type: str, props: dict[str, Any] | None = None, **attrs: Any) -> dict[str, Any]:
    return {"Type": cfn_type, "Properties": props or {}, **attrs}


def _getatt(lid: str, attr: str = "Arn") -> dict[str, Any]:
    return {"Fn::GetAtt": [lid, attr]}


def _mini() -> dict[str, dict[str, Any]]:
    """A cluster, its network, keys, log group and a provider-framework verifier."""
    return {
        "Vpc": _res("AWS::EC2::VPC"),
        "Subnet": _res("AWS::EC2::Subnet", {"VpcId": {"Ref": "Vpc"}}),
        "ClusterSg": _res("AWS::EC2::SecurityGroup", {"VpcId": {"Ref": "Vpc"}}),
        "VerifierSg": _res("AWS::EC2::SecurityGroup", {"VpcId": {"Ref": "Vpc"}}),
        "Ingress": _res("AWS::EC2::SecurityGroupIngress", {
            "GroupId": _getatt("ClusterSg", "GroupId"), "SourceSecurityGroupId": _getatt("VerifierSg", "GroupId")}),
        "ClusterRole": _res("AWS::IAM::Role"),
        "Key": _res("AWS::KMS::Key"),
        "LogsKey": _res("AWS::KMS::Key"),
        "Alias": _res("AWS::KMS::Alias", {"AliasName": "alias/demo-secrets", "TargetKeyId": _getatt("Key")}),
        "Logs": _res("AWS::Logs::LogGroup", {"LogGroupName": "/aws/eks/demo/cluster", "KmsKeyId": _getatt("LogsKey")}),
        "Cluster": _res("AWS::EKS::Cluster", {
            "Name": "demo", "RoleArn": _getatt("ClusterRole"),
            "EncryptionConfig": [{"Provider": {"KeyArn": _getatt("Key")}, "Resources": ["secrets"]}],
            "ResourcesVpcConfig": {"SubnetIds": [{"Ref": "Subnet"}], "SecurityGroupIds": [_getatt("ClusterSg", "GroupId")]},
        }, DependsOn=["Logs"]),
        "HandlerRole": _res("AWS::IAM::Role"),
        "HandlerPolicy": _res("AWS::IAM::ManagedPolicy", {"Roles": [{"Ref": "HandlerRole"}]}),
        "Handler": _res("AWS::Lambda::Function", {
            "Role": _getatt("HandlerRole"),
            "VpcConfig": {"SubnetIds": [{"Ref": "Subnet"}], "SecurityGroupIds": [_getatt("VerifierSg", "GroupId")]}}),
        "ProviderRole": _res("AWS::IAM::Role"),
        "ProviderPolicy": _res("AWS::IAM::ManagedPolicy", {
            "Roles": [{"Ref": "ProviderRole"}], "PolicyDocument": {"Statement": [{"Resource": _getatt("Handler")}]}}),
        "Provider": _res("AWS::Lambda::Function", {
            "Role": _getatt("ProviderRole"), "Environment": {"Variables": {"USER_ON_EVENT_FUNCTION_ARN": _getatt("Handler")}}}),
        "Verification": _res("Custom::EnvelopeEncryptionVerification", {
            "ServiceToken": _getatt("Provider"), "ClusterName": {"Ref": "Cluster"}, "KeyArn": _getatt("Key")},
            DependsOn=["Ingress"]),
    }


def today(name: str = "Demo") -> Template:
    resources = _mini()
    for lid in ("Key", "LogsKey", "Alias", "Logs", "Cluster", "Ingress", "ClusterSg"):
        resources[lid].update(DeletionPolicy="Retain", UpdateReplacePolicy="Retain")
    resources["Cluster"]["Properties"]["DeletionProtection"] = True
    return Template(name, {"Resources": resources}, termination_protection=False)


def fixed(name: str = "Demo", *, protect: bool = True, logs_policy: str = "RetainExceptOnCreate") -> Template:
    resources = _mini()
    for lid in ("Key", "LogsKey"):
        resources[lid].update(DeletionPolicy="RetainExceptOnCreate", UpdateReplacePolicy="Retain")
    resources["Logs"].update(DeletionPolicy=logs_policy, UpdateReplacePolicy=logs_policy)
    verification = resources["Verification"]
    verification["Properties"]["RollbackSafe"] = "true"
    verification["DependsOn"] += ["HandlerPolicy", "ProviderPolicy", "HandlerRole"]
    resources["Protection"] = _res("Custom::ClusterDeletionProtection", {
        "ServiceToken": _getatt("Provider"), "ClusterName": {"Ref": "Cluster"}, "Protect": "true" if protect else "false",
    }, DependsOn=["Verification"])
    return Template(name, {"Resources": resources})


def teardown_variant(name: str = "Demo") -> Template:
    return fixed(name, protect=False, logs_policy="Delete")


# ---- reading templates
def test_references_cover_ref_getatt_and_both_sub_forms() -> None:
    value = [
        {"Ref": "A"}, {"Fn::GetAtt": ["B", "Arn"]}, {"Fn::GetAtt": "C.Arn"},
        {"Fn::Sub": "arn:${AWS::Partition}:x:${D}:${E.Arn}:${!Literal}"},
        {"Fn::Sub": ["${F}-${Local}", {"Local": {"Ref": "G"}}]},
    ]
    assert references(value) - {"AWS::Partition"} == {"A", "B", "C", "D", "E", "F", "G"}


def test_imports_and_depends_on_forms() -> None:
    assert imports({"KeyArn": {"Fn::ImportValue": "Shared:KeyArn"}}) == {"Shared:KeyArn"}
    template = Template("S", {"Resources": {
        "A": _res("AWS::SNS::Topic"), "B": _res("AWS::SNS::Topic", DependsOn="A"),
        "C": _res("AWS::SNS::Topic", {"T": {"Fn::Sub": "${B}"}}, DependsOn=["A"]),
    }})
    assert template.order == ["A", "B", "C"]
    assert template.ancestors("C") == {"A", "B"}
    assert template.resources["C"].uses == {"B"}  # DependsOn orders, it does not use


def test_delivery_chain_follows_the_provider_framework_to_its_handler() -> None:
    template = fixed()
    assert delivery_chain(template, "Verification") == {
        "Provider", "ProviderRole", "ProviderPolicy", "Handler", "HandlerRole", "HandlerPolicy"}
    assert delivery_chain(template, "Verification", create_failed=True) == {"Provider", "ProviderRole"}


# ---- service rules
@pytest.mark.parametrize("status, protected, refused", [
    ("ACTIVE", True, True), ("ACTIVE", False, False), ("CREATING", True, False), ("FAILED", True, False),
])
def test_eks_refuses_only_an_active_protected_cluster(status: str, protected: bool, refused: bool) -> None:
    world = World()
    world.create(fixed())
    cluster = world.stacks["Demo"].things["Cluster"]
    cluster.state.update(status=status, protected=protected)
    reason = eks_refuses_deleting_a_protected_active_cluster(world, world.stacks["Demo"], fixed(), cluster)
    assert bool(reason) is refused


# ---- today's shape fails
def test_fails_rollback_of_todays_shape_at_the_verifier() -> None:
    world = World()
    outcome = world.create(today(), fail_at="Verification")
    assert outcome.status == "ROLLBACK_FAILED"
    text = "\n".join(outcome.reasons)
    assert "VerifierSg: network_object_in_use: DependencyViolation: still used by Demo/Ingress" in text
    assert "Subnet: network_object_in_use: DependencyViolation" in text and "Demo/Cluster" in text
    survivors = scenarios.describe(world)
    assert "Demo/Cluster (AWS::EKS::Cluster) [kept]" in survivors
    assert any("Demo/Cluster (AWS::EKS::Cluster) is broken: it uses its IAM role Demo/ClusterRole" in b for b in world.broken())
    assert world.deploy(today()).status == "ROLLBACK_FAILED"  # a stack that failed its rollback can't be updated


def test_fails_redeploy_of_todays_shape_on_retained_names() -> None:
    world = World()
    world.create(today(), fail_at="Ingress")
    world.stacks.clear()  # the failed stack deleted by hand: only its retained resources are left
    again = world.create(today())
    assert again.status in {"ROLLBACK_COMPLETE", "ROLLBACK_FAILED"}
    assert "alias/demo-secrets already exists" in "\n".join(again.reasons) or \
        "/aws/eks/demo/cluster already exists" in "\n".join(again.reasons)


def test_fails_delete_of_todays_shape_on_the_handler_race() -> None:
    world = scenarios.deployed([today()])
    outcome = world.delete("Demo")
    assert outcome.status == "DELETE_FAILED"
    assert "Delete may not reach its handler: it does not depend on HandlerPolicy, ProviderPolicy" in outcome.reasons[0]


def test_fails_update_rollback_of_todays_handler_on_an_external_cause() -> None:
    status, reasons = scenarios.verification_update_rollback([today()])
    assert status == "UPDATE_ROLLBACK_FAILED"
    assert reasons[-1].startswith("UPDATE_ROLLBACK_FAILED Verification: verification failed")


# ---- the fixed mechanism passes
def test_fixed_shape_rolls_back_cleanly_at_every_resource() -> None:
    rows = scenarios.failed_first_create([fixed()])
    assert len(rows) == len(fixed().resources)
    assert [r.failed_at for r in rows if not r.clean] == []
    at_verifier = next(r for r in rows if r.failed_at == "Verification")
    assert at_verifier.survivors == ["Demo/Key (AWS::KMS::Key) [pending deletion]", "Demo/LogsKey (AWS::KMS::Key) [pending deletion]"]
    assert at_verifier.redeploy_status == "CREATE_COMPLETE"


def test_fixed_shape_refuses_delete_while_protected_with_the_teardown_hint() -> None:
    removal = scenarios.plain_delete([fixed()])
    assert removal.status == "DELETE_FAILED"
    assert TEARDOWN_HINT in removal.reasons[0] and removal.reasons[0].startswith("DELETE_FAILED Protection")
    assert removal.cluster["status"] == "ACTIVE" and removal.cluster["protected"] is True


def test_a_refused_delete_leaves_a_stack_that_cannot_take_the_teardown_deploy() -> None:
    world = scenarios.deployed([fixed()])
    assert world.delete("Demo").status == "DELETE_FAILED"
    blocked = world.deploy(teardown_variant())
    assert blocked.reasons == ["Stack Demo is in DELETE_FAILED state and can not be updated"]


def test_fixed_shape_teardown_path_keeps_only_the_keys() -> None:
    removal = scenarios.teardown([fixed()], [teardown_variant()])
    assert removal.status == "DELETE_COMPLETE", removal.reasons
    assert removal.survivors == ["Demo/Key (AWS::KMS::Key) [kept]", "Demo/LogsKey (AWS::KMS::Key) [kept]"]
    assert removal.broken == [] and removal.redeploy_status == "CREATE_COMPLETE"


def test_fixed_shape_update_rollback_does_not_reverify() -> None:
    assert scenarios.verification_update_rollback([fixed()])[0] == "UPDATE_ROLLBACK_COMPLETE"


# ---- CloudFormation semantics
def test_retain_except_on_create_deletes_on_rollback_and_keeps_on_stack_delete() -> None:
    world = World()
    world.create(fixed(), fail_at="Verification")
    assert {t.logical_id for t in world.survivors() if t.pending_deletion} == {"Key", "LogsKey"}
    world = scenarios.deployed([teardown_variant()])
    world.delete("Demo")
    assert {t.logical_id: t.pending_deletion for t in world.survivors()} == {"Key": False, "LogsKey": False}


def test_snapshot_policy_deletes_after_a_snapshot_and_is_the_rds_default() -> None:
    template = Template("S", {"Resources": {
        "Volume": _res("AWS::EC2::Volume", DeletionPolicy="Snapshot"), "Db": _res("AWS::RDS::DBInstance")}})
    assert template.resources["Db"].deletion_policy == "Snapshot"
    world = scenarios.deployed([template])
    outcome = world.delete("S")
    assert outcome.status == "DELETE_COMPLETE"
    assert sorted(outcome.snapshots) == ["snapshot of S/Db (AWS::RDS::DBInstance)", "snapshot of S/Volume (AWS::EC2::Volume)"]


def test_termination_protection_refuses_delete_and_the_cli_redeploy_after_a_failed_create() -> None:
    protected = Template("Demo", fixed().raw, termination_protection=True)
    world = World()
    assert world.create(protected, fail_at="Verification").status == "ROLLBACK_COMPLETE"
    redeploy = world.deploy(protected)
    assert redeploy.status == "ROLLBACK_COMPLETE"
    assert "cannot be deleted while TerminationProtection is enabled" in redeploy.reasons[0]


def test_update_replace_policy_and_custom_named_replacement() -> None:
    world = scenarios.deployed([fixed()])
    outcome = world.update(fixed(), replace={"Cluster"})
    assert outcome.status == "UPDATE_ROLLBACK_COMPLETE"
    assert "custom-named resource requires replacing" in outcome.reasons[0]
    outcome = world.update(fixed(), replace={"LogsKey"})
    assert outcome.status == "UPDATE_COMPLETE"
    assert [t.logical_id for t in outcome.retained] == ["LogsKey"]  # UpdateReplacePolicy Retain keeps the old key


def test_cross_stack_exports_block_the_exporter_and_missing_imports_fail() -> None:
    exporter = Template("Shared", {"Resources": {"Key": _res("AWS::KMS::Key")}, "Outputs": {
        "KeyArn": {"Value": _getatt("Key"), "Export": {"Name": "Shared:KeyArn"}}}})
    importer = Template("Team", {"Resources": {"Alias": _res("AWS::KMS::Alias", {
        "AliasName": "alias/team", "TargetKeyId": {"Fn::ImportValue": "Shared:KeyArn"}})}})
    world = World()
    assert "No export named Shared:KeyArn" in world.create(importer).reasons[0]
    world = scenarios.deployed([exporter, importer])
    assert "in use by Team" in world.delete("Shared").reasons[0]
    assert world.delete("Team").status == "DELETE_COMPLETE"
    assert world.delete("Shared").status == "DELETE_COMPLETE"


def test_a_kept_resource_using_a_deleted_one_is_reported_broken() -> None:
    raw = copy.deepcopy(fixed().raw)
    raw["Resources"]["Handler"]["DeletionPolicy"] = "Retain"
    world = scenarios.deployed([Template("Demo", raw)])
    world.stacks["Demo"].things["Protection"].properties = {**world.stacks["Demo"].things["Protection"].properties, "Protect": "false"}
    outcome = world.delete("Demo")
    assert "DependencyViolation" in "\n".join(outcome.reasons)  # the kept function still sits in the subnet
    assert any("Demo/Handler (AWS::Lambda::Function) is broken: it uses its IAM role Demo/HandlerRole" in b for b in world.broken())
