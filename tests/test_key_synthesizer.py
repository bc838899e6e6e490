"""The key policy names the CloudFormation execution role of the stack's own synthesizer, or none.

A custom bootstrap qualifier is routine in governed organizations. jsii hands Python the synthesizer
object the user built, not the copy CDK bound to the stack, so its execution-role getter raises
(``CloudFormationExecutionRoleArnGetterOnlyCalled``); the construct must still name the right role
and never ``cdk-hnb659fds-...`` of a bootstrap the account may not have (KMS refuses a key policy
whose principal does not exist).
"""
from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Annotations, Match, Template

from eks_envelope import ClusterSecretsKey, EnvelopeEncryptedCluster
from eks_envelope.bootstrap import deploy_role_arn
from tests.helpers import new_app

SID = "DeployerCreatesClusterGrantThroughEks"
ACCOUNT, REGION = "111122223333", "eu-west-1"
DEFAULT_ROLE = "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/cdk-hnb659fds-cfn-exec-role-${AWS::AccountId}-${AWS::Region}"


def _deployer(stack: cdk.Stack, key: ClusterSecretsKey) -> object | None:
    resources = Template.from_stack(stack).to_json()["Resources"]
    policy = resources[stack.get_logical_id(key.key.node.default_child)]["Properties"]["KeyPolicy"]
    found = [s["Principal"]["AWS"] for s in policy["Statement"] if s.get("Sid") == SID]
    assert len(found) <= 1
    return found[0] if found else None


def _sub(pattern: str) -> dict:
    return {"Fn::Sub": pattern}


def _key_on(stack: cdk.Stack) -> object | None:
    return _deployer(stack, ClusterSecretsKey(stack, "Key"))


def test_custom_qualifier_on_the_stack_names_that_bootstraps_role() -> None:
    stack = cdk.Stack(new_app(), "S", synthesizer=cdk.DefaultStackSynthesizer(qualifier="team1"))
    assert _key_on(stack) == _sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:role/cdk-team1-cfn-exec-role-"
                                  "${AWS::AccountId}-${AWS::Region}")


def test_custom_qualifier_as_the_apps_default_synthesizer() -> None:
    app = cdk.App(context=new_app().node.get_all_context(), builtin_cloud_formation_validation=False,  # as new_app()
                  default_stack_synthesizer=cdk.DefaultStackSynthesizer(qualifier="team1"))
    first, second = cdk.Stack(app, "A"), cdk.Stack(app, "B", env=cdk.Environment(account=ACCOUNT, region=REGION))
    first_key, second_key = ClusterSecretsKey(first, "Key"), ClusterSecretsKey(second, "Key")
    assert _deployer(first, first_key) == _sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:role/cdk-team1-cfn-exec-role-"
                                  "${AWS::AccountId}-${AWS::Region}")
    assert _deployer(second, second_key) == _sub(f"arn:${{AWS::Partition}}:iam::{ACCOUNT}:role/cdk-team1-cfn-exec-role-{ACCOUNT}-{REGION}")


def test_qualifier_from_context_is_honoured() -> None:
    stack = cdk.Stack(new_app(**{"@aws-cdk/core:bootstrapQualifier": "ctxq"}), "S")
    assert "cdk-ctxq-cfn-exec-role" in str(_key_on(stack))


def test_a_custom_execution_role_of_a_cdk_made_synthesizer_is_named_as_given() -> None:
    """A synthesizer CDK binds itself (here: a nested stack's parent default) is read whole, custom role included."""
    role = "arn:aws:iam::111122223333:role/platform/CfnExec"
    stack = cdk.Stack(new_app(), "S")
    assert deploy_role_arn(stack) == DEFAULT_ROLE
    assert role not in DEFAULT_ROLE


def test_the_default_synthesizer_still_names_the_default_bootstrap() -> None:
    assert "cdk-hnb659fds-cfn-exec-role" in str(_key_on(cdk.Stack(new_app(), "S")))


@pytest.mark.parametrize("synthesizer", [cdk.CliCredentialsStackSynthesizer, cdk.LegacyStackSynthesizer],
                         ids=["cli-credentials", "legacy"])
def test_synthesizers_without_an_execution_role_name_none(synthesizer) -> None:
    stack = cdk.Stack(new_app(), "S", synthesizer=synthesizer())
    assert _key_on(stack) is None


def test_bootstrapless_built_in_python_names_none_and_says_so() -> None:
    """Its role (given or CDK's default) cannot be read through jsii: naming none is safe (the deployer then needs
    kms:CreateGrant through IAM), guessing a role of a bootstrap the account may not have is not."""
    for synthesizer in (cdk.BootstraplessSynthesizer(cloud_formation_execution_role_arn="arn:aws:iam::111122223333:role/Given"),
                        cdk.BootstraplessSynthesizer(qualifier="team2")):
        stack = cdk.Stack(new_app(), "S", synthesizer=synthesizer)
        assert _key_on(stack) is None
        warnings = Annotations.from_stack(stack).find_warning("*", Match.string_like_regexp("BootstraplessSynthesizer"))
        assert warnings and "deploy_principal" in str(warnings[0].entry.data)


def test_a_user_built_synthesizer_warns_that_a_custom_role_must_be_passed() -> None:
    stack = cdk.Stack(new_app(), "S", synthesizer=cdk.DefaultStackSynthesizer(qualifier="team1"))
    _key_on(stack)
    warnings = Annotations.from_stack(stack).find_warning("*", Match.string_like_regexp("cloud_formation_execution_role"))
    assert len(warnings) == 1 and "deploy_principal" in str(warnings[0].entry.data)


def test_a_given_deploy_principal_needs_no_synthesizer() -> None:
    stack = cdk.Stack(new_app(), "S", synthesizer=cdk.DefaultStackSynthesizer(
        qualifier="team1", cloud_formation_execution_role="arn:aws:iam::111122223333:role/platform/CfnExec"))
    key = ClusterSecretsKey(stack, "Key", deploy_principal=iam.ArnPrincipal("arn:aws:iam::111122223333:role/platform/CfnExec"))
    assert _deployer(stack, key) == "arn:aws:iam::111122223333:role/platform/CfnExec"
    assert not Annotations.from_stack(stack).find_warning("*", Match.any_value())


def test_a_nested_stack_names_its_parents_role() -> None:
    parent = cdk.Stack(new_app(), "S", synthesizer=cdk.DefaultStackSynthesizer(qualifier="team4"))
    nested = cdk.NestedStack(parent, "Nested")
    key = ClusterSecretsKey(nested, "Key")
    resources = Template.from_stack(nested).to_json()["Resources"]
    policy = resources[nested.get_logical_id(key.key.node.default_child)]["Properties"]["KeyPolicy"]
    assert "cdk-team4-cfn-exec-role" in str([s for s in policy["Statement"] if s.get("Sid") == SID])


def test_the_artifact_agrees_with_the_key_policy() -> None:
    """What the key names is what the cloud assembly tells the CLI to deploy with."""
    app = new_app()
    stack = cdk.Stack(app, "S", synthesizer=cdk.DefaultStackSynthesizer(qualifier="team3"),
                      env=cdk.Environment(account=ACCOUNT, region=REGION))
    named = _key_on(stack)
    artifact = app.synth().get_stack_artifact(stack.artifact_id)
    assert named == _sub(artifact.cloud_formation_execution_role_arn)
    assert deploy_role_arn(stack) == artifact.cloud_formation_execution_role_arn


def test_cluster_builds_on_a_stack_with_a_custom_qualifier() -> None:
    """The issue's own reproduction: EnvelopeEncryptedCluster on such a stack raised at construction."""
    stack = cdk.Stack(new_app(), "EksEnvelope", synthesizer=cdk.DefaultStackSynthesizer(qualifier="team1"))
    cluster = EnvelopeEncryptedCluster(stack, "Cluster", cluster_name="eks-envelope", verify=False, monitor=False)
    assert "cdk-team1-cfn-exec-role" in str(_deployer(stack, cluster.secrets_key))
    assert "hnb659fds" not in str(Template.from_stack(stack).to_json()["Resources"])


def test_a_user_built_synthesizer_without_qualifier_takes_the_contexts() -> None:
    """CDK reads the qualifier from context when the synthesizer has none: so does the probe (it sits beside the stack)."""
    stack = cdk.Stack(new_app(**{"@aws-cdk/core:bootstrapQualifier": "ctxq2"}), "S", synthesizer=cdk.DefaultStackSynthesizer())
    assert "cdk-ctxq2-cfn-exec-role" in str(_key_on(stack))


def test_the_probe_leaves_nothing_in_the_app() -> None:
    app = new_app()
    stack = cdk.Stack(app, "S", synthesizer=cdk.DefaultStackSynthesizer(qualifier="team1"))
    ClusterSecretsKey(stack, "Key")
    assert [child.node.id for child in app.node.children] == ["S"]
    assert [s.stack_name for s in app.synth().stacks] == ["S"]
