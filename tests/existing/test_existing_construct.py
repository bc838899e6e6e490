"""EnvelopeEncryptionForExistingCluster on a bare cdk.Stack: what it adds, with every compliance pack clean.

Two deploys: the first starts the irreversible association and returns (no waiter: CloudFormation gives a
custom resource at most 3600 s); the second (``complete=True``) re-encrypts and verifies.
"""
from __future__ import annotations

import json
import re
from types import SimpleNamespace
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Match, Template

from eks_envelope import EnvelopeConfigError, EnvelopeEncryptionForExistingCluster, EnvelopeEncryptionForExistingClusterProps
from eks_envelope.compliance import evaluate
from stacks.compliance_packs import PACK_CLASS_PATHS, register_packs
from eks_envelope.contract import (
    ASSOCIATION_HANDLER,
    ASSOCIATION_RESOURCE_TYPE,
    VERIFICATION_RESOURCE_TYPE,
    VERIFIER_HANDLER,
    AssociationProperties,
)
from tests.helpers import bundled_template, new_app

ROLE_ARN = "arn:aws:iam::111122223333:role/eksctl/eksctl-prod-cluster-ServiceRole-ABC"
KEY_ARN = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def _adopt(stack: cdk.Stack, **props: Any) -> EnvelopeEncryptionForExistingCluster:
    vpc = ec2.Vpc.from_vpc_attributes(stack, "Vpc", vpc_id="vpc-0123456789abcdef0", availability_zones=["eu-west-1a", "eu-west-1b"],
                                      private_subnet_ids=["subnet-0aaa", "subnet-0bbb"],
                                      private_subnet_route_table_ids=["rtb-0aaa", "rtb-0bbb"])
    role = iam.Role.from_role_arn(stack, "ClusterRole", ROLE_ARN, mutable=False)
    return EnvelopeEncryptionForExistingCluster(stack, "Adopt", cluster_name="prod", cluster_role=role, vpc=vpc,
                                                cluster_security_group_id="sg-0123456789abcdef0", **props)


@pytest.fixture(scope="module")
def adopted() -> SimpleNamespace:
    """Synthesized once, with every compliance pack registered: synth raises on any unacknowledged finding."""
    app = new_app()
    register_packs(app, list(PACK_CLASS_PATHS))
    stack = cdk.Stack(app, "Adopt")
    construct = _adopt(stack, key_alias="eks/prod-secrets")
    assembly = app.synth()
    return SimpleNamespace(app=app, construct=construct, template=Template.from_json(assembly.get_stack_by_name("Adopt").template))


@pytest.fixture(scope="module")
def with_given_key() -> Template:
    app = new_app()
    register_packs(app, list(PACK_CLASS_PATHS))
    stack = cdk.Stack(app, "AdoptGivenKey")
    _adopt(stack, key=kms.Key.from_key_arn(stack, "Given", KEY_ARN), reencrypt_kinds=["secrets", "configmaps"], complete=True)
    return Template.from_json(app.synth().get_stack_by_name("AdoptGivenKey").template)


def _resources(template: Template, cfn_type: str) -> dict[str, Any]:
    return template.find_resources(cfn_type)


def test_adds_what_its_docstring_says(adopted: SimpleNamespace) -> None:
    t = adopted.template
    for cfn_type, count in {
        "AWS::KMS::Key": 2,  # secrets key + logs key
        "AWS::KMS::Alias": 1,
        "AWS::Lambda::Function": 2,  # the handler + the framework's onEvent; no verifier before complete=True
        "AWS::StepFunctions::StateMachine": 0,  # no waiter
        "AWS::EKS::AccessEntry": 1,
        "AWS::EC2::SecurityGroup": 1,
        "AWS::EC2::SecurityGroupIngress": 1,
        "Custom::EnvelopeEncryptionAssociation": 1,
        VERIFICATION_RESOURCE_TYPE: 0,
        "AWS::EKS::Cluster": 0,
    }.items():
        t.resource_count_is(cfn_type, count)
    doc = EnvelopeEncryptionForExistingCluster.__doc__
    for claim in ("1 handler Lambda", "1 framework Lambda", "no state machine", "EnvelopeEncryptionVerifier`` (2 Lambdas",
                  "Delete does\n    nothing", "AmazonEKSEditPolicy"):
        assert claim in doc


def test_completing_adds_the_verifier_after_the_association(with_given_key: Template) -> None:
    with_given_key.resource_count_is("AWS::Lambda::Function", 4)
    with_given_key.resource_count_is("AWS::EKS::AccessEntry", 2)
    (association_id,) = with_given_key.find_resources("Custom::EnvelopeEncryptionAssociation")
    with_given_key.has_resource(VERIFICATION_RESOURCE_TYPE, {"DependsOn": Match.array_with([association_id])})
    with_given_key.has_resource_properties("Custom::EnvelopeEncryptionAssociation", {"Complete": "true"})


@pytest.mark.parametrize("fixture", ["adopted", "with_given_key"])
def test_nothing_outlives_cloudformations_hour(fixture: str, request: pytest.FixtureRequest) -> None:
    """Every custom resource answers within its ServiceTimeout (at most 3600 s), and no waiter polls behind it."""
    value = request.getfixturevalue(fixture)
    template = value.template if isinstance(value, SimpleNamespace) else value
    resources = template.to_json()["Resources"]
    custom = {k: r for k, r in resources.items() if r["Type"].startswith("Custom::") or r["Type"] == "AWS::CloudFormation::CustomResource"}
    assert custom and all(0 < int(r["Properties"]["ServiceTimeout"]) <= 3600 for r in custom.values())
    assert not [r for r in resources.values() if r["Type"] == "AWS::StepFunctions::StateMachine"]
    assert all(r["Properties"]["Timeout"] <= 900 for r in resources.values() if r["Type"] == "AWS::Lambda::Function")


@pytest.mark.parametrize("fixture", ["adopted", "with_given_key"])
def test_no_plain_retain(fixture: str, request: pytest.FixtureRequest) -> None:
    """Like the default app: RetainExceptOnCreate, so a failed first deploy leaves nothing behind."""
    value = request.getfixturevalue(fixture)
    template = value.template if isinstance(value, SimpleNamespace) else value
    retained = {k: r["DeletionPolicy"] for k, r in template.to_json()["Resources"].items() if r.get("DeletionPolicy") == "Retain"}
    assert retained == {}
    for key in template.find_resources("AWS::KMS::Key").values():
        assert key["DeletionPolicy"] == "RetainExceptOnCreate"
    for group in template.find_resources("AWS::Logs::LogGroup").values():
        assert group["DeletionPolicy"] == "RetainExceptOnCreate"


def test_the_association_starts_last(adopted: SimpleNamespace) -> None:
    """Nothing of the construct can fail after the irreversible call of the same deploy."""
    resources = adopted.template.to_json()["Resources"]
    (association_id,) = [k for k, r in resources.items() if r["Type"] == "Custom::EnvelopeEncryptionAssociation"]
    depends = set(resources[association_id].get("DependsOn", []))
    others = {k for k, r in resources.items() if k != association_id and r["Type"] not in ("AWS::KMS::Key", "AWS::KMS::Alias")
              and not r["Type"].startswith("AWS::CDK")}
    # Everything else either is depended on directly or is referenced by something that is (keys via GetAtt).
    referenced = json.dumps(resources[association_id])
    assert others <= depends | {k for k in others if k in referenced}, sorted(others - depends)


def test_association_reports_status_update_id_and_next_step(adopted: SimpleNamespace) -> None:
    construct = adopted.construct
    assert all(cdk.Token.is_unresolved(v) for v in (construct.status, construct.update_id, construct.next_steps))
    adopted.template.has_resource_properties("Custom::EnvelopeEncryptionAssociation", {"Complete": "false"})


def test_association_resource_names_cluster_key_and_kinds(adopted: SimpleNamespace) -> None:
    (key_id,) = [k for k, v in _resources(adopted.template, "AWS::KMS::Key").items()
                 if v["Properties"].get("Description") == "Envelope encryption of EKS Kubernetes secrets"]
    adopted.template.has_resource("Custom::EnvelopeEncryptionAssociation", {
        "Properties": {"ClusterName": "prod", "KeyArn": {"Fn::GetAtt": [key_id, "Arn"]}, "ReencryptKinds": "secrets"},
        "DependsOn": Match.array_with([Match.string_like_regexp("AdoptAccessEntry"), Match.string_like_regexp("AdoptHandlerPolicy")]),
    })


def test_new_key_is_retained_rotated_and_lets_the_existing_cluster_role_use_it(adopted: SimpleNamespace) -> None:
    t = adopted.template
    (key_id,) = [k for k, v in _resources(t, "AWS::KMS::Key").items()
                 if v["Properties"].get("Description") == "Envelope encryption of EKS Kubernetes secrets"]
    key = _resources(t, "AWS::KMS::Key")[key_id]
    assert key["DeletionPolicy"] == "RetainExceptOnCreate" and key["UpdateReplacePolicy"] == "Retain"
    assert key["Properties"]["EnableKeyRotation"] is True
    wanted = {"kms:Encrypt", "kms:Decrypt", "kms:DescribeKey"}
    # ClusterSecretsKey.grant_cluster_role names the role in the key policy or attaches an IAM policy to it
    # (the handler branch moves it to the latter): either way the existing role may use this key.
    in_key_policy = [s for s in key["Properties"]["KeyPolicy"]["Statement"]
                     if s.get("Principal") == {"AWS": ROLE_ARN} and wanted <= set(s["Action"])]
    role_name = ROLE_ARN.rsplit("/", 1)[-1]
    in_role_policy = [s for p in _resources(t, "AWS::IAM::ManagedPolicy").values() if p["Properties"].get("Roles") == [role_name]
                      for s in p["Properties"]["PolicyDocument"]["Statement"]
                      if wanted <= set(s["Action"]) and s["Resource"] == {"Fn::GetAtt": [key_id, "Arn"]}]
    assert len(in_key_policy + in_role_policy) == 1


def test_one_handler_that_starts_and_returns(adopted: SimpleNamespace) -> None:
    t = adopted.template
    t.has_resource_properties("AWS::Lambda::Function", {"Handler": "verifier.entry.association.on_event", "Timeout": 840, "Runtime": "python3.14"})
    # no waiter (an is_complete handler): nothing may outlive CloudFormation's 3600 s
    handlers = {fn["Properties"].get("Handler") for fn in t.find_resources("AWS::Lambda::Function").values()}
    assert not [h for h in handlers if h and h.startswith("verifier.") and h != "verifier.entry.association.on_event"]


def test_handler_rights_are_scoped_to_the_cluster_and_key(adopted: SimpleNamespace) -> None:
    (policy,) = [p for p in _resources(adopted.template, "AWS::IAM::ManagedPolicy").values()
                 if any("eks:AssociateEncryptionConfig" in json.dumps(s["Action"]) for s in p["Properties"]["PolicyDocument"]["Statement"])]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    grant = next(s for s in statements if s["Action"] == "kms:CreateGrant")
    assert grant["Condition"]["StringEquals"]["kms:ViaService"] == {"Fn::Join": ["", ["eks.", {"Ref": "AWS::Region"}, ".amazonaws.com"]]}
    assert all(s["Resource"] != "*" for s in statements)
    adopted.template.has_resource_properties("AWS::EKS::AccessEntry", {
        "ClusterName": "prod",
        "AccessPolicies": [{"AccessScope": {"Type": "cluster"}, "PolicyArn": {"Fn::Join": [
            "", ["arn:", {"Ref": "AWS::Partition"}, ":eks::aws:cluster-access-policy/AmazonEKSEditPolicy"]]}}],
    })


def test_verifier_runs_after_the_association_with_the_cluster_role_and_no_pod(with_given_key: Template) -> None:
    (association_id,) = _resources(with_given_key, "Custom::EnvelopeEncryptionAssociation")
    with_given_key.has_resource(VERIFICATION_RESOURCE_TYPE, {
        "Properties": {"ClusterName": "prod", "ClusterRoleArn": ROLE_ARN, "PodCheck": "false"},
        "DependsOn": Match.array_with([association_id]),
    })
    with_given_key.has_resource_properties("AWS::EKS::AccessEntry", {
        "AccessPolicies": [Match.object_like({"AccessScope": {"Namespaces": ["default"], "Type": "namespace"}})]})


def test_compliance_packs_clean(adopted: SimpleNamespace) -> None:
    # The module fixture's synth ran every pack through Validations and raised on any finding.
    assert evaluate(adopted.app) == []


def test_given_key_is_used_as_is(with_given_key: Template) -> None:
    with_given_key.resource_count_is("AWS::KMS::Key", 1)  # the logs key only
    with_given_key.has_resource_properties("Custom::EnvelopeEncryptionAssociation",
                                           {"KeyArn": KEY_ARN, "ReencryptKinds": "secrets,configmaps"})


def test_default_app_gets_none_of_it() -> None:
    template = bundled_template()
    template.resource_count_is("Custom::EnvelopeEncryptionAssociation", 0)
    template.resource_count_is("AWS::StepFunctions::StateMachine", 0)
    assert len(template.find_resources("AWS::Lambda::Function")) <= 3


@pytest.mark.parametrize(("props", "message"), [
    ({"cluster_name": "-bad name"}, "cluster_name='-bad name': 1-100 letters"),
    ({"reencrypt_kinds": ["deployments"]}, "reencrypt_kinds=('deployments',): give one or more of secrets, configmaps"),
])
def test_fails_bad_props(props: dict[str, Any], message: str) -> None:
    stack = cdk.Stack(new_app(), "Bad")
    vpc = ec2.Vpc.from_vpc_attributes(stack, "Vpc", vpc_id="vpc-1", availability_zones=["a"], private_subnet_ids=["s-1"])
    role = iam.Role.from_role_arn(stack, "R", ROLE_ARN)
    values = {"cluster_name": "prod", "cluster_role": role, "vpc": vpc, "cluster_security_group_id": "sg-1", **props}
    with pytest.raises(EnvelopeConfigError) as err:
        EnvelopeEncryptionForExistingCluster(stack, "Adopt", **values)
    assert message in str(err.value)
    # The props object is checked alike, its problems named as the keyword arguments.
    with pytest.raises(EnvelopeConfigError) as from_object:
        EnvelopeEncryptionForExistingClusterProps(**values)
    assert from_object.value.problems == err.value.problems


def test_fails_alias_with_a_given_key() -> None:
    stack = cdk.Stack(new_app(), "Bad")
    with pytest.raises(EnvelopeConfigError) as err:
        _adopt(stack, key=kms.Key.from_key_arn(stack, "K", KEY_ARN), key_alias="eks/x")
    assert "key_alias='eks/x': leave it out when key is given: the alias belongs to a new key" in str(err.value)


def test_association_sends_the_contracts_properties(with_given_key: Template) -> None:
    (resource,) = with_given_key.find_resources(ASSOCIATION_RESOURCE_TYPE).values()
    sent = {k: v for k, v in resource["Properties"].items() if k not in ("ServiceToken", "ServiceTimeout")}
    expected = AssociationProperties(cluster_name="prod", key_arn=KEY_ARN, reencrypt_kinds=("secrets", "configmaps"), complete=True)
    assert sent == expected.to_properties()
    assert AssociationProperties.from_properties(sent) == expected


def test_both_handlers_come_from_one_builder(with_given_key: Template) -> None:
    """The association's and the verifier's Lambdas: same runtime, timeout, memory, subnets and logging."""
    functions = with_given_key.find_resources("AWS::Lambda::Function")
    handlers = [f["Properties"] for f in functions.values() if f["Properties"].get("Handler") in (ASSOCIATION_HANDLER, VERIFIER_HANDLER)]
    shared = ("Runtime", "Timeout", "MemorySize", "VpcConfig", "LoggingConfig", "Code")

    def shape(props: dict[str, Any]) -> str:
        # Each handler names its own security group and log group (logical ids); the rest is the builder's.
        return re.sub(r"Adopt(Verifier)?(\w+?)[0-9A-F]{8}\b", r"\2", json.dumps({k: props[k] for k in shared}, sort_keys=True))

    assert len(handlers) == 2 and shape(handlers[0]) == shape(handlers[1])
