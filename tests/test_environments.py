"""Isolated environments through context: `-c env_name=pr-42 -c ephemeral=true` versus the default.

Ephemeral environments must be named apart from production and leave nothing behind on destroy;
the default (production) posture must keep the key, protect the cluster and protect the stack.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from tests.helpers import bundled_template, new_app, synth_bundled_app

EPHEMERAL = {"env_name": "pr-42", "ephemeral": "true"}
ENV_TAG = "eks-envelope:environment"
OWNER_TAG = "eks-envelope:owner"
#: DeletionPolicy/UpdateReplacePolicy values that leave a resource behind after `cdk destroy`.
KEEPING_POLICIES = {"Retain", "RetainExceptOnCreate", "Snapshot"}


def resources(template: Template) -> dict[str, dict[str, Any]]:
    return template.to_json()["Resources"]


def of_type(template: Template, cfn_type: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in resources(template).items() if v["Type"] == cfn_type}


def tags_of(resource: dict[str, Any]) -> dict[str, Any]:
    tags = resource.get("Properties", {}).get("Tags", [])
    if isinstance(tags, dict):  # AWS::EKS::* and some others use a map, most use a list
        return tags
    return {t["Key"]: t["Value"] for t in tags}


def stack_artifact(**context: str) -> Any:
    (stack,) = synth_bundled_app(**context).stacks
    return stack


def manifest_stack_properties(**context: str) -> dict[str, Any]:
    """The stack's properties as the CLI reads them from the cloud assembly's manifest.json."""
    assembly = synth_bundled_app(**context)
    manifest = json.loads((Path(assembly.directory) / "manifest.json").read_text())
    (stack_name,) = [s.stack_name for s in assembly.stacks]
    return manifest["artifacts"][stack_name]["properties"]


@pytest.fixture(scope="module")
def ephemeral() -> Template:
    return bundled_template(**EPHEMERAL)


@pytest.fixture(scope="module")
def production() -> Template:
    return bundled_template()


# --- names and tags -------------------------------------------------------------------------------

def test_ephemeral_stack_is_named_after_the_environment() -> None:
    assert stack_artifact(**EPHEMERAL).stack_name == "EksEnvelope-pr-42"


def test_ephemeral_cluster_and_alias_carry_the_environment_name(ephemeral: Template) -> None:
    ephemeral.has_resource_properties("AWS::EKS::Cluster", {"Name": "eks-envelope-pr-42"})
    ephemeral.has_resource_properties("AWS::KMS::Alias", {"AliasName": "alias/eks-envelope-pr-42-secrets"})
    ephemeral.has_resource_properties("AWS::Logs::LogGroup", {"LogGroupName": "/aws/eks/eks-envelope-pr-42/cluster"})


def test_ephemeral_fargate_trust_is_scoped_to_the_environments_cluster(ephemeral: Template) -> None:
    ephemeral.has_resource_properties(
        "AWS::IAM::Role",
        {"AssumeRolePolicyDocument": {"Statement": [Match.object_like({
            "Principal": {"Service": "eks-fargate-pods.amazonaws.com"},
            "Condition": {"ArnLike": {"aws:SourceArn": {"Fn::Join": ["", Match.array_with([
                Match.string_like_regexp(r":fargateprofile/eks-envelope-pr-42/\*$")])]}}},
        })]}},
    )


def is_cdk_internal_provider(resource: dict[str, Any]) -> bool:
    """CDK's singleton CustomResourceProvider (e.g. the VPC's default-SG restriction) writes raw
    properties that the Tags aspect does not reach; only stack-level tags would tag it."""
    return "/Custom::" in resource.get("Metadata", {}).get("aws:cdk:path", "")


@pytest.mark.parametrize("cfn_type", ["AWS::EKS::Cluster", "AWS::KMS::Key", "AWS::EC2::VPC", "AWS::Logs::LogGroup", "AWS::IAM::Role", "AWS::Lambda::Function"])
def test_ephemeral_resources_are_tagged_with_the_environment(ephemeral: Template, cfn_type: str) -> None:
    found = {k: r for k, r in of_type(ephemeral, cfn_type).items() if not is_cdk_internal_provider(r)}
    assert found, f"no {cfn_type} in the template"
    for logical_id, resource in found.items():
        assert tags_of(resource).get(ENV_TAG) == "pr-42", f"{logical_id} lacks tag {ENV_TAG}=pr-42"
        assert OWNER_TAG not in tags_of(resource), f"{logical_id} has an owner tag nobody asked for"


def test_stack_tags_carry_the_environment_to_every_resource() -> None:
    assert stack_artifact(**EPHEMERAL).tags.get(ENV_TAG) == "pr-42"


def test_owner_context_tags_every_taggable_resource() -> None:
    template = bundled_template(**EPHEMERAL, owner="team-payments")
    tagged = {k: tags_of(r) for k, r in resources(template).items() if "Tags" in r.get("Properties", {})}
    assert len(tagged) > 20
    missing = sorted(k for k, tags in tagged.items() if tags.get(OWNER_TAG) != "team-payments")
    assert not missing, f"without {OWNER_TAG}: {missing}"


def test_default_has_no_environment_suffix_or_tag(production: Template) -> None:
    assert stack_artifact().stack_name == "EksEnvelope"
    production.has_resource_properties("AWS::EKS::Cluster", {"Name": "eks-envelope"})
    assert all(ENV_TAG not in tags_of(r) for r in resources(production).values())


# --- ephemeral: cheap and leaves nothing behind ------------------------------------------------------

def test_ephemeral_keys_are_deleted_after_seven_days(ephemeral: Template) -> None:
    keys = of_type(ephemeral, "AWS::KMS::Key")
    assert len(keys) == 2, "the secrets key and the logs key"
    for logical_id, key in keys.items():
        assert key["Properties"]["PendingWindowInDays"] == 7, logical_id
        assert key["DeletionPolicy"] == "Delete", logical_id
        assert key["UpdateReplacePolicy"] == "Delete", logical_id
        assert key["Properties"]["EnableKeyRotation"] is True, logical_id


def test_ephemeral_cluster_has_no_deletion_protection(ephemeral: Template) -> None:
    cluster = next(iter(of_type(ephemeral, "AWS::EKS::Cluster").values()))
    assert cluster["Properties"].get("DeletionProtection") in (None, False)
    assert not of_type(ephemeral, "Custom::ClusterDeletionProtection")


def test_ephemeral_network_has_at_most_one_nat_gateway(ephemeral: Template) -> None:
    assert len(of_type(ephemeral, "AWS::EC2::NatGateway")) <= 1


def test_ephemeral_log_groups_keep_logs_one_week_at_most(ephemeral: Template) -> None:
    groups = of_type(ephemeral, "AWS::Logs::LogGroup")
    assert len(groups) >= 4, "control plane, flow logs, verifier, provider"
    for logical_id, group in groups.items():
        assert 0 < group["Properties"]["RetentionInDays"] <= 7, logical_id


def test_ephemeral_stack_has_no_termination_protection() -> None:
    assert stack_artifact(**EPHEMERAL).termination_protection is False
    assert manifest_stack_properties(**EPHEMERAL)["terminationProtection"] is False


def test_ephemeral_template_retains_nothing(ephemeral: Template) -> None:
    kept = {
        logical_id: {p: r[p] for p in ("DeletionPolicy", "UpdateReplacePolicy") if r.get(p) in KEEPING_POLICIES}
        for logical_id, r in resources(ephemeral).items()
    }
    kept = {k: v for k, v in kept.items() if v}
    assert not kept, f"resources left behind by `cdk destroy`: {kept}"
    # The stateful resources state Delete explicitly (an absent policy would also delete, but
    # explicit is what a reviewer can check, and what the CloudFormation default may not stay).
    for cfn_type in ("AWS::KMS::Key", "AWS::Logs::LogGroup", "AWS::EKS::Cluster"):
        for logical_id, resource in of_type(ephemeral, cfn_type).items():
            assert resource.get("DeletionPolicy") == "Delete", f"{logical_id} ({cfn_type})"


def test_ephemeral_template_has_no_retain_anywhere(ephemeral: Template) -> None:
    """Belt and braces: no Retain/Snapshot in any form, e.g. in a nested property or custom resource."""
    text = json.dumps(ephemeral.to_json())
    for policy in KEEPING_POLICIES:
        assert f'"{policy}"' not in text


def test_ephemeral_control_value_is_really_checked() -> None:
    """The retain check above can fail: the production template trips it."""
    text = json.dumps(bundled_template().to_json())
    assert '"Retain"' in text


# --- production (default) posture --------------------------------------------------------------------

def test_default_keys_are_retained_with_a_thirty_day_window(production: Template) -> None:
    keys = of_type(production, "AWS::KMS::Key")
    assert len(keys) == 2
    for logical_id, key in keys.items():
        # Kept on stack delete, removed when the deploy that created them rolls back.
        assert key["DeletionPolicy"] == "RetainExceptOnCreate", logical_id
        assert key["UpdateReplacePolicy"] == "Retain", logical_id
        assert key["Properties"]["PendingWindowInDays"] == 30, logical_id


def test_default_cluster_has_deletion_protection(production: Template) -> None:
    production.has_resource_properties("Custom::ClusterDeletionProtection", {"Protect": "true"})
    # Protection, not a Retain policy, guards the cluster: a kept cluster would wedge a rollback.
    (cluster,) = of_type(production, "AWS::EKS::Cluster").values()
    assert cluster.get("DeletionPolicy", "Delete") == "Delete"


def test_default_log_groups_are_retained_for_a_year(production: Template) -> None:
    for logical_id, group in of_type(production, "AWS::Logs::LogGroup").items():
        assert group["DeletionPolicy"] == "RetainExceptOnCreate", logical_id
        assert group["Properties"]["RetentionInDays"] == 365, logical_id


def test_no_resource_keeps_a_plain_retain_policy(production: Template, ephemeral: Template, teardown: Template) -> None:
    # CloudFormation keeps plain Retain resources when it rolls back a failed first deploy.
    for template in (production, ephemeral, teardown):
        for logical_id, resource in resources(template).items():
            assert resource.get("DeletionPolicy") != "Retain", logical_id


# --- the deliberate production teardown: -c deletion_protection=false ----------------------------

@pytest.fixture(scope="module")
def teardown() -> Template:
    return bundled_template(deletion_protection="false")


def test_teardown_turns_protection_off_without_removing_its_owner(teardown: Template) -> None:
    # The resource stays (Protect false): removing it would send a Delete with the old Protect true.
    teardown.has_resource_properties("Custom::ClusterDeletionProtection", {"Protect": "false"})


def test_teardown_makes_log_groups_deletable_and_keeps_only_the_keys(teardown: Template) -> None:
    for logical_id, resource in resources(teardown).items():
        kept = resource.get("DeletionPolicy") in KEEPING_POLICIES
        assert kept == (resource["Type"] == "AWS::KMS::Key"), logical_id


def test_teardown_turns_stack_termination_protection_off() -> None:
    assert stack_artifact(deletion_protection="false").termination_protection is False


def test_default_stack_has_termination_protection() -> None:
    assert stack_artifact().termination_protection is True
    assert manifest_stack_properties()["terminationProtection"] is True


# --- invalid names ---------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "env_name",
    ["PR-42", "pr_42", "42-pr", "pr-", "a-very-long-environment-name-x", "pr 42"],
)
def test_fails_on_invalid_env_name_through_the_app(env_name: str) -> None:
    from app import build_app

    with pytest.raises(ValueError, match=r"-c env_name=.*1-24 lowercase letters, digits or '-'.*e\.g\. pr-42"):
        build_app(new_app(env_name=env_name, ephemeral="true"))
