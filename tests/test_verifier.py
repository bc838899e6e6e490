"""EnvelopeEncryptionVerifier and ClusterDeletionProtection on bare stacks (issue 23 items 2, 3 and 5).

The verifier takes the cluster's name, role ARN, VPC and security groups (no ``eks.Cluster``); ``cluster=``
still works, deprecated, and builds the same template. What it sends is the contract's
``VerificationProperties``; its props object is validated as a whole. One app, synthesized once.
"""
from __future__ import annotations

import ast
import dataclasses
import inspect
import json
import re
import typing
import warnings
from types import SimpleNamespace
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Annotations, Match, Template

from eks_envelope import (
    ClusterDeletionProtection,
    ClusterDeletionProtectionProps,
    EnvelopeConfigError,
    EnvelopeEncryptionForExistingCluster,
    EnvelopeEncryptionForExistingClusterProps,
    EnvelopeEncryptionVerifier,
    EnvelopeEncryptionVerifierProps,
    VerifierOptions,
)
from eks_envelope.contract import (
    DELETION_PROTECTION_RESOURCE_TYPE,
    VERIFICATION_RESOURCE_TYPE,
    ProtectionProperties,
    VerificationProperties,
)
from eks_envelope.props import prop_hints
from tests.helpers import REPO, new_app
from tests.test_layering import undocumented_attributes

ROLE_ARN = "arn:aws:iam::111122223333:role/eks/prod-cluster"
KEY_ARN = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
TOKEN_ARN = "arn:aws:lambda:eu-west-1:111122223333:function:verifier"
OPTIONS = VerifierOptions(cloudtrail_check=True, reserved_concurrency=2)
#: Written by CloudFormation's custom resource, not by the contract.
FRAMEWORK_KEYS = {"ServiceToken", "ServiceTimeout"}


def _inputs(stack: cdk.Stack) -> SimpleNamespace:
    vpc = ec2.Vpc.from_vpc_attributes(stack, "Vpc", vpc_id="vpc-0123456789abcdef0", availability_zones=["eu-west-1a", "eu-west-1b"],
                                      private_subnet_ids=["subnet-0aaa", "subnet-0bbb"])
    imported = eks.Cluster.from_cluster_attributes(stack, "Imported", cluster_name="prod", vpc=vpc,
                                                   cluster_security_group_id="sg-0123456789abcdef0")
    return SimpleNamespace(vpc=vpc, imported=imported, key=kms.Key.from_key_arn(stack, "Key", KEY_ARN))


def _by_name(stack: cdk.Stack) -> dict[str, Any]:
    given = _inputs(stack)
    return dict(cluster_name="prod", cluster_role_arn=ROLE_ARN, vpc=given.vpc, key=given.key, options=OPTIONS,
                cluster_security_groups=given.imported.connections.security_groups)


@pytest.fixture(scope="module")
def built() -> SimpleNamespace:
    app = new_app()
    stack = cdk.Stack(app, "ByName")
    by_name = EnvelopeEncryptionVerifier(stack, "Verifier", **_by_name(stack))
    stack = cdk.Stack(app, "FromProps")
    from_props = EnvelopeEncryptionVerifier(stack, "Verifier", props=EnvelopeEncryptionVerifierProps(**_by_name(stack)))
    stack = cdk.Stack(app, "Deprecated")
    given = _inputs(stack)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        EnvelopeEncryptionVerifier(stack, "Verifier", cluster=given.imported, cluster_role_arn=ROLE_ARN, key=given.key, options=OPTIONS)
    for name, deprecated in (("BuiltArguments", False), ("BuiltDeprecated", True)):
        stack = cdk.Stack(app, name)
        given = _inputs(stack)
        cluster = eks.Cluster(stack, "Cluster", version=eks.KubernetesVersion.V1_34, vpc=given.vpc,
                              default_capacity_type=eks.DefaultCapacityType.NODEGROUP, default_capacity=0,
                              endpoint_access=eks.EndpointAccess.PRIVATE,
                              vpc_subnets=[ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)])
        wiring = dict(cluster=cluster) if deprecated else dict(
            cluster_name=cluster.cluster_name, cluster_arn=cluster.cluster_arn, cluster_role_arn=cluster.role.role_arn,
            vpc=cluster.vpc, cluster_security_groups=cluster.connections.security_groups, wait_for=[cluster])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            EnvelopeEncryptionVerifier(stack, "Verifier", key=given.key, options=OPTIONS, **wiring)
    stack = cdk.Stack(app, "Protection")
    protection = ClusterDeletionProtection(stack, "DeletionProtection", cluster_name="prod", service_token=TOKEN_ARN, protect=True)
    assembly = app.synth()
    templates = {s.stack_name: s.template for s in assembly.stacks}
    return SimpleNamespace(app=app, by_name=by_name, from_props=from_props, protection=protection, caught=caught,
                           templates=templates, assembly=assembly)


def _resources(built: SimpleNamespace, stack: str) -> str:
    """The stack's resources (CDK's analytics aside) as text, with its own name taken out of paths and ids."""
    resources = {k: v for k, v in built.templates[stack]["Resources"].items() if v["Type"] != "AWS::CDK::Metadata"}
    text = json.dumps(resources, sort_keys=True).replace(stack, "<stack>")
    # The ingress rule's id names its peer by the peer's app-wide unique id (stack name and path hash).
    text = re.sub(r"<stack>VerifierSecurityGroup[0-9A-F]{8}", "<peer>", text)
    return re.sub(r"from<peer>443[0-9A-F]{8}", "from<peer>443", text)


def _sent(template: dict[str, Any], cfn_type: str) -> dict[str, Any]:
    (resource,) = [r for r in template["Resources"].values() if r["Type"] == cfn_type]
    return {k: v for k, v in resource["Properties"].items() if k not in FRAMEWORK_KEYS}


def test_sends_the_contracts_verification_properties(built: SimpleNamespace) -> None:
    sent = _sent(built.templates["ByName"], VERIFICATION_RESOURCE_TYPE)
    assert sent == built.by_name.properties == built.by_name.verification_properties.to_properties()
    assert VerificationProperties.from_properties(sent) == built.by_name.verification_properties
    assert built.by_name.verification_properties == VerificationProperties(
        cluster_name="prod", key_arn=KEY_ARN, cluster_role_arn=ROLE_ARN, cloudtrail_check=True)


def test_reaches_the_api_through_the_given_security_groups_first(built: SimpleNamespace) -> None:
    template = Template.from_json(built.templates["ByName"])
    (ingress_id,) = template.find_resources("AWS::EC2::SecurityGroupIngress", {"Properties": {
        "GroupId": "sg-0123456789abcdef0", "FromPort": 443, "ToPort": 443,
        "SourceSecurityGroupId": {"Fn::GetAtt": [Match.string_like_regexp("^VerifierSecurityGroup"), "GroupId"]}}})
    template.has_resource(VERIFICATION_RESOURCE_TYPE, {"DependsOn": Match.array_with([ingress_id])})


def test_cluster_arn_is_formatted_from_the_name_by_default(built: SimpleNamespace) -> None:
    policy = json.dumps(Template.from_json(built.templates["ByName"]).find_resources("AWS::IAM::ManagedPolicy"))
    assert ":cluster/prod" in policy


def test_a_props_object_builds_what_the_keyword_arguments_build(built: SimpleNamespace) -> None:
    assert _resources(built, "FromProps") == _resources(built, "ByName")
    assert (built.from_props.props.cluster_name, built.from_props.props.options) == ("prod", OPTIONS)
    assert isinstance(built.by_name.props, EnvelopeEncryptionVerifierProps)


def test_deprecated_cluster_argument_warns_and_builds_the_same_template(built: SimpleNamespace) -> None:
    (warning,) = [w for w in built.caught if issubclass(w.category, DeprecationWarning)]
    message = str(warning.message)
    assert message.startswith("EnvelopeEncryptionVerifier(cluster=...) is deprecated: give cluster_name, cluster_role_arn, "
                              "vpc and cluster_security_groups instead")
    assert warning.filename == __file__  # points at the caller, not at the library
    Annotations.from_stack(built.app.node.find_child("Deprecated")).has_warning("/Deprecated/Verifier", Match.string_like_regexp("cluster=\\.\\.\\.\\) is deprecated"))
    assert _resources(built, "Deprecated") == _resources(built, "ByName")


def test_deprecated_cluster_argument_with_an_eks_cluster_builds_what_its_attributes_build(built: SimpleNamespace) -> None:
    """What cluster.py did before (cluster=self.cluster) and does now (the attributes) give one template."""
    arguments, deprecated = (Template.from_json(built.templates[n]) for n in ("BuiltArguments", "BuiltDeprecated"))
    assert _resources(built, "BuiltDeprecated") == _resources(built, "BuiltArguments")
    (cluster_id,) = arguments.find_resources("AWS::EKS::Cluster")
    arguments.has_resource_properties(VERIFICATION_RESOURCE_TYPE, {"ClusterRoleArn": {"Fn::GetAtt": [Match.string_like_regexp("ClusterRole"), "Arn"]},
                                                                   "ClusterName": {"Ref": cluster_id}})
    assert len(deprecated.to_json()["Resources"]) == len(arguments.to_json()["Resources"])


def test_fails_a_deprecated_imported_cluster_without_the_role() -> None:
    stack = cdk.Stack(new_app(), "S")
    given = _inputs(stack)
    with pytest.warns(DeprecationWarning), pytest.raises(EnvelopeConfigError) as err:
        EnvelopeEncryptionVerifier(stack, "Verifier", cluster=given.imported, key=given.key)
    assert [p.field for p in err.value.problems] == ["cluster_role_arn"]
    assert "give the cluster role's ARN" in str(err.value)


def test_fails_naming_every_missing_prop_at_once() -> None:
    stack = cdk.Stack(new_app(), "S")
    with pytest.raises(EnvelopeConfigError) as err:
        EnvelopeEncryptionVerifier(stack, "Verifier", key=kms.Key.from_key_arn(stack, "Key", KEY_ARN))
    assert [p.field for p in err.value.problems] == ["cluster_name", "cluster_role_arn", "vpc", "cluster_security_groups"]


def test_fails_bad_props_validated_as_a_whole() -> None:
    stack = cdk.Stack(new_app(), "S")
    given = _inputs(stack)
    with pytest.raises(EnvelopeConfigError) as err:
        EnvelopeEncryptionVerifierProps(cluster_name="team_a", cluster_role_arn="arn:aws:sts::111122223333:assumed-role/x/y",
                                        key=given.key, vpc=given.vpc, cluster_security_groups=[])
    assert [p.field for p in err.value.problems] == ["cluster_name", "cluster_role_arn", "cluster_security_groups"]
    assert "CloudFormation refuses '_'" in str(err.value) and "not an assumed-role session ARN" in str(err.value)
    # The keyword arguments go through the same check, named the same way.
    with pytest.raises(EnvelopeConfigError) as by_keyword:
        EnvelopeEncryptionVerifier(stack, "Verifier", cluster_name="team_a", cluster_role_arn="arn:aws:sts::111122223333:assumed-role/x/y",
                                   key=given.key, vpc=given.vpc, cluster_security_groups=[])
    assert by_keyword.value.problems == err.value.problems


def test_a_props_object_is_frozen_all_the_way_down(built: SimpleNamespace) -> None:
    props = built.by_name.props
    assert isinstance(props.cluster_security_groups, tuple) and isinstance(props.wait_for, tuple)
    with pytest.raises(dataclasses.FrozenInstanceError):
        props.cluster_name = "other"  # type: ignore[misc]


def test_deletion_protection_sends_the_contracts_properties(built: SimpleNamespace) -> None:
    sent = _sent(built.templates["Protection"], DELETION_PROTECTION_RESOURCE_TYPE)
    assert ProtectionProperties.from_properties(sent) == ProtectionProperties(cluster_name="prod", protect=True)
    assert sent == ProtectionProperties("prod", True).to_properties()
    assert built.protection.props == ClusterDeletionProtectionProps(cluster_name="prod", service_token=TOKEN_ARN, protect=True)


def test_fails_deletion_protection_without_a_service_token() -> None:
    with pytest.raises(EnvelopeConfigError) as err:
        ClusterDeletionProtectionProps(cluster_name="-prod", service_token=" ", protect=False)
    assert [p.field for p in err.value.problems] == ["cluster_name", "service_token"]
    with pytest.raises(EnvelopeConfigError) as by_keyword:
        ClusterDeletionProtection(cdk.Stack(new_app(), "S"), "DeletionProtection", cluster_name="-prod", service_token=" ", protect=False)
    assert by_keyword.value.problems == err.value.problems


#: Each public construct of these modules and its props object; the verifier's deprecated ``cluster`` is no field.
PAIRS = [(EnvelopeEncryptionVerifier, EnvelopeEncryptionVerifierProps, {"cluster"}),
         (ClusterDeletionProtection, ClusterDeletionProtectionProps, set()),
         (EnvelopeEncryptionForExistingCluster, EnvelopeEncryptionForExistingClusterProps, set())]


@pytest.mark.parametrize(("construct", "props", "deprecated"), PAIRS, ids=lambda v: getattr(v, "__name__", ""))
def test_the_props_object_mirrors_the_keyword_arguments(construct: type, props: type, deprecated: set[str]) -> None:
    """Same names, types and defaults: one API in two forms, and one default per prop."""
    parameters = {n: p for n, p in inspect.signature(construct.__init__).parameters.items()
                  if n not in ("self", "scope", "construct_id", "props", *deprecated)}
    fields = {f.name: f for f in dataclasses.fields(props)}
    assert list(parameters) == list(fields)
    hints = typing.get_type_hints(props)
    arguments = prop_hints(construct)
    assert typing.get_type_hints(inspect.unwrap(construct.__init__))["props"] == typing.Optional[props]
    for name, field in fields.items():
        default = field.default_factory() if field.default_factory is not dataclasses.MISSING else field.default
        expected = inspect.Parameter.empty if default is dataclasses.MISSING else default
        assert (arguments[name], parameters[name].kind, parameters[name].default) == (
            hints[name], inspect.Parameter.KEYWORD_ONLY, expected), name
    # Nothing else builds the construct from its props object: props= is the one way.
    assert not hasattr(construct, "from_props")


def test_fails_an_unknown_keyword_argument_naming_the_prop_meant() -> None:
    stack = cdk.Stack(new_app(), "S")
    with pytest.raises(TypeError, match=r"EnvelopeEncryptionVerifier\(\) got an unexpected keyword argument 'cluster_names'; "
                                        r"did you mean 'cluster_name'\?"):
        EnvelopeEncryptionVerifier(stack, "Verifier", cluster_names="prod", **{k: v for k, v in _by_name(stack).items() if k != "cluster_name"})


def test_fails_the_deprecated_cluster_argument_with_a_props_object() -> None:
    stack = cdk.Stack(new_app(), "S")
    props = EnvelopeEncryptionVerifierProps(**_by_name(stack))
    with pytest.warns(DeprecationWarning), pytest.raises(EnvelopeConfigError) as err:
        EnvelopeEncryptionVerifier(stack, "Verifier", props=props, cluster=_inputs(cdk.Stack(stack.node.root, "Other")).imported)
    assert [p.field for p in err.value.problems] == ["cluster"]
    assert "give either props=EnvelopeEncryptionVerifierProps(...) or the deprecated cluster=, not both" in str(err.value)


def test_the_deprecated_cluster_argument_is_typed_like_a_prop() -> None:
    stack = cdk.Stack(new_app(), "S")
    with pytest.raises(EnvelopeConfigError) as err:
        EnvelopeEncryptionVerifier(stack, "Verifier", cluster="prod", key=_inputs(stack).key)
    assert [str(p) for p in err.value.problems] == [
        "cluster='prod': give an aws_eks_v2.ICluster; for an ARN or name use aws_eks_v2.Cluster.from_cluster_attributes(scope, id, ...)"]


def test_only_the_builder_makes_lambdas_providers_and_custom_resources() -> None:
    """One way to build a custom resource's backend (custom_resource.py): no construct builds its own."""
    library = REPO / "constructs" / "eks_envelope"
    makers = {"Function", "Provider", "CustomResource", "SingletonFunction"}
    found = []
    for module in sorted(library.rglob("*.py")):
        if module.name == "custom_resource.py":
            continue
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.Call):
                name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                if name in makers:
                    found.append(f"{module.relative_to(library)}:{node.lineno} {name}")
    assert found == []


def test_every_attribute_of_the_builder_is_documented() -> None:
    assert undocumented_attributes(REPO / "constructs" / "eks_envelope" / "custom_resource.py") == []
