"""Bad input fails at synth time with one error naming field, value and fix, for every problem."""
from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms

from eks_envelope import EnvelopeConfigError, EnvelopeEncryptedCluster
from stacks.settings import settings_from_context
from tests.helpers import new_app

KEY_ARN = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def build(**props: Any) -> None:
    stack = cdk.Stack(new_app(), "S", env=cdk.Environment(account="123456789012", region="eu-west-1"))
    if "key_arn" in props:
        props["key"] = kms.Key.from_key_arn(stack, "Key", props.pop("key_arn"))
    EnvelopeEncryptedCluster(stack, "Cluster", **props)


@pytest.mark.parametrize(
    ("props", "expected"),
    [
        pytest.param({"kubernetes_version": "v1.36"}, r"kubernetes_version='v1.36': write it as '1.36'", id="version-slip"),
        pytest.param({"kubernetes_version": "1.36.2"}, r"kubernetes_version='1.36.2': write it as '1.36'", id="version-with-patch"),
        pytest.param({"kubernetes_version": "latest"}, r"kubernetes_version='latest': a Kubernetes minor version like '1\.\d+'", id="version-word"),
        pytest.param({"kubernetes_version": "1.27"}, r"kubernetes_version='1.27': use 1.28 or newer", id="version-before-envelope-default"),
        pytest.param({"fargate_namespaces": ["Serverless_Apps"]}, r"fargate_namespaces='Serverless_Apps': a namespace is 1-63 lowercase", id="invalid-namespace"),
        pytest.param({"fargate_namespaces": ["a", "b", "c", "d"]}, r"give at most 3 namespaces", id="too-many-namespaces"),
        pytest.param({"fargate_namespaces": ["apps", "apps"]}, r"fargate_namespaces=\['apps'\]: list each namespace once", id="duplicate-namespaces"),
        pytest.param({"fargate_namespaces": []}, r"give at least one namespace", id="no-namespace"),
        pytest.param({"fargate_namespaces": ["kube-system"]}, r"kube-system is always selected", id="kube-system-listed"),
        pytest.param({"key_arn": "arn:aws:kms:eu-west-1:123456789012:alias/eks"}, r"key='arn:aws:kms:eu-west-1:123456789012:alias/eks': an alias can be re-pointed", id="alias-arn-as-key"),
        pytest.param({"key_arn": KEY_ARN.replace("eu-west-1", "us-east-1")}, r"EKS needs a key in the cluster's region eu-west-1", id="key-in-another-region"),
        pytest.param({"public_access_cidrs": ["10.0.0.300/8"]}, r"public_access_cidrs='10.0.0.300/8': use a CIDR block", id="malformed-cidr"),
        pytest.param({"public_access_cidrs": ["10.0.0.1/8"]}, r"public_access_cidrs='10.0.0.1/8': host bits must be zero: did you mean '10.0.0.0/8'\?", id="cidr-host-bits"),
        pytest.param({"public_access_cidrs": ["0.0.0.0/0"]}, r"public_access_cidrs='0.0.0.0/0': this opens the Kubernetes API.*allow_public_endpoint_from_anywhere=True", id="anywhere-without-opt-in"),
        pytest.param({"max_azs": 0}, r"max_azs=0: give a whole number from 2 to 6", id="zero-azs"),
        pytest.param({"nat_gateways": -1}, r"nat_gateways=-1: give a whole number from 0 to 2", id="negative-nat"),
        pytest.param({"nat_gateways": 0}, r"nat_gateways=0: without NAT the canary pod's image public.ecr.aws/\S+ cannot be pulled", id="no-nat-with-public-canary-image"),
        pytest.param({"admin_principal_arns": ["arn:aws:iam::1234:role/x"]}, r"admin_principal_arns='arn:aws:iam::1234:role/x': use an IAM role or user ARN", id="malformed-admin-arn"),
        pytest.param({"admin_principal_arns": ["arn:aws:sts::123456789012:assumed-role/Admin/me"]}, r"not an assumed-role session ARN", id="session-arn-as-admin"),
        pytest.param({"cluster_name": "-bad name"}, r"cluster_name='-bad name'", id="invalid-cluster-name"),
        pytest.param({"cluster_name": "team_a"}, r"cluster_name='team_a'.*CloudFormation refuses '_'.*'team-a'", id="underscore-in-cluster-name"),
        pytest.param({"support_type": "LTS"}, r"support_type='LTS': use one of .*STANDARD", id="unknown-support-type"),
        pytest.param({"availability_zones": ["eu-west-1a"]}, r"availability_zones=\['eu-west-1a'\]: give 2 to 6 distinct", id="one-az"),
        pytest.param({"availability_zones": ["euw1-az1", "eu-west-1b"]}, r"availability_zones='euw1-az1': that is an AZ ID", id="az-id-instead-of-name"),
        pytest.param({"availability_zones": ["eu-west-1a", "west"]}, r"availability_zones='west': not an availability zone name", id="not-an-az"),
        pytest.param({"key_arn": KEY_ARN, "key_alias": "mine"}, r"these shape a new key", id="alias-with-own-key"),
    ],
)
def test_fails_on_bad_prop(props: dict[str, Any], expected: str) -> None:
    with pytest.raises(EnvelopeConfigError, match=expected):
        build(**props)


def test_no_nat_accepted_without_the_verifier() -> None:
    build(nat_gateways=0, verify=False)


def test_availability_zones_choose_the_vpcs_zones() -> None:
    stack = cdk.Stack(new_app(), "S", env=cdk.Environment(account="123456789012", region="us-east-1"))
    EnvelopeEncryptedCluster(stack, "Cluster", availability_zones=["us-east-1b", "us-east-1c"])
    subnets = cdk.assertions.Template.from_stack(stack).find_resources("AWS::EC2::Subnet")
    assert sorted({s["Properties"]["AvailabilityZone"] for s in subnets.values()}) == ["us-east-1b", "us-east-1c"]


def test_anywhere_accepted_with_explicit_opt_in() -> None:
    build(public_access_cidrs=["0.0.0.0/0"], allow_public_endpoint_from_anywhere=True)


def test_five_selectors_allow_four_namespaces_without_the_pod_check() -> None:
    from eks_envelope import VerifierOptions

    build(fargate_namespaces=["a", "b", "c", "d"], verifier_options=VerifierOptions(pod_check=False))


def test_fails_with_every_problem_in_one_error() -> None:
    with pytest.raises(EnvelopeConfigError) as raised:
        build(kubernetes_version="2.0", max_azs=0, fargate_namespaces=["BAD"], public_access_cidrs=["nope"])
    fields = [p.field for p in raised.value.problems]
    assert fields == ["kubernetes_version", "fargate_namespaces", "public_access_cidrs", "max_azs"]
    assert str(raised.value).startswith("4 invalid setting(s):")


def test_imported_vpc_skips_new_vpc_checks() -> None:
    stack = cdk.Stack(new_app(), "S", env=cdk.Environment(account="123456789012", region="eu-west-1"))
    vpc = ec2.Vpc.from_vpc_attributes(
        stack, "Vpc", vpc_id="vpc-1", availability_zones=["eu-west-1a", "eu-west-1b"],
        private_subnet_ids=["subnet-1", "subnet-2"], public_subnet_ids=["subnet-3", "subnet-4"],
    )
    EnvelopeEncryptedCluster(stack, "Cluster", vpc=vpc, max_azs=0, nat_gateways=-1)


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        pytest.param({"kubernetes_verison": "1.35"}, r"-c kubernetes_verison=1.35: not a setting of this app; did you mean -c kubernetes_version=1.35\?", id="unknown-context-key"),
        pytest.param({"nat_gateways": "two"}, r"-c nat_gateways=two: use a whole number", id="non-numeric-nat"),
        pytest.param({"ephemeral": "yes"}, r"-c ephemeral=yes: use true or false", id="non-boolean"),
        pytest.param({"env_name": "PR_42"}, r"-c env_name=PR_42: 1-24 lowercase", id="bad-env-name"),
        pytest.param({"compliance_packs": "AwsSolution"}, r"did you mean 'AwsSolutions'", id="unknown-pack"),
        pytest.param({"fargate_namespaces": 7}, r"-c fargate_namespaces=7: use a list of strings", id="namespaces-not-a-list"),
    ],
)
def test_fails_on_bad_context(context: dict[str, Any], expected: str) -> None:
    with pytest.raises(EnvelopeConfigError, match=expected):
        settings_from_context(context)


def test_context_from_the_command_line_is_parsed() -> None:
    settings = settings_from_context(
        {"fargate_namespaces": "serverless, apps", "nat_gateways": "0", "ephemeral": "true", "env_name": "pr-42",
         "@aws-cdk/core:newStyleStackSynthesis": True, "aws:cdk:enable-path-metadata": True}
    )
    assert settings.fargate_namespaces == ("serverless", "apps")
    assert settings.nat_gateways == 0 and settings.ephemeral is True
    assert settings.stack_name == "EksEnvelope-pr-42" and settings.cluster_name == "eks-envelope-pr-42"


def test_fails_on_bad_context_through_the_app() -> None:
    from app import build_app

    with pytest.raises(EnvelopeConfigError, match=r"-c fargate_namespaces=Bad: .*\n.*-c nat_gateways=-2: "):
        build_app(new_app(fargate_namespaces=["Bad"], nat_gateways=-2))


def test_fails_with_context_and_construct_problems_in_one_error() -> None:
    from app import build_app

    with pytest.raises(EnvelopeConfigError) as raised:
        build_app(new_app(nat_gateway=2, max_azs="two", fargate_namespaces=["Bad_NS"], public_access_cidrs=["0.0.0.0/0"]))
    fields = sorted(p.field for p in raised.value.problems)
    assert fields == ["fargate_namespaces", "max_azs", "nat_gateway", "public_access_cidrs"]


# --- ClusterProps: one frozen object, validated as a whole -----------------------------------------------

def test_cluster_props_collect_every_problem_when_made() -> None:
    from eks_envelope import ClusterProps

    with pytest.raises(EnvelopeConfigError) as raised:
        ClusterProps(kubernetes_version="2.0", max_azs=0, fargate_namespaces=["BAD"], public_access_cidrs=["nope"],
                     key_lock_break_glass_arns=["arn:aws:iam::123456789012:role/BreakGlass"])
    assert [p.field for p in raised.value.problems] == [
        "kubernetes_version", "fargate_namespaces", "public_access_cidrs", "max_azs", "key_lock_break_glass_arns"]
    # The same problems, worded the same, as through the construct's keyword arguments.
    with pytest.raises(EnvelopeConfigError) as through_kwargs:
        build(kubernetes_version="2.0", max_azs=0, fargate_namespaces=["BAD"], public_access_cidrs=["nope"],
              key_lock_break_glass_arns=["arn:aws:iam::123456789012:role/BreakGlass"])
    assert str(through_kwargs.value) == str(raised.value)


def test_fails_on_props_and_keyword_arguments_together() -> None:
    from eks_envelope import ClusterProps

    stack = cdk.Stack(new_app(), "S")
    with pytest.raises(EnvelopeConfigError) as raised:
        EnvelopeEncryptedCluster(stack, "Cluster", props=ClusterProps(), verify=False, ephemeral=True)
    (problem,) = raised.value.problems
    assert problem.field == "props" and problem.value == "ClusterProps(...) and ephemeral, verify"
    assert problem.fix.startswith("give either props=ClusterProps(...) or keyword arguments, not both")


def test_cluster_props_are_frozen_and_hold_no_list() -> None:
    import dataclasses

    from eks_envelope import ClusterProps

    props = ClusterProps(fargate_namespaces=["apps"], admin_principal_arns=["arn:aws:iam::123456789012:role/Admin"])
    with pytest.raises(dataclasses.FrozenInstanceError):
        props.verify = False  # type: ignore[misc]
    assert props.fargate_namespaces == ("apps",) and hash(props) == hash(ClusterProps(fargate_namespaces=("apps",),
                                                                                       admin_principal_arns=["arn:aws:iam::123456789012:role/Admin"]))
    assert dataclasses.replace(props, verify=False).verify is False and props.verify is True


def test_fails_on_a_props_object_of_the_wrong_type_or_a_misspelt_prop() -> None:
    from eks_envelope import ClusterProps

    stack = cdk.Stack(new_app(), "S")
    with pytest.raises(EnvelopeConfigError, match=r"props=\{'verify': False\}: give an eks_envelope.ClusterProps"):
        EnvelopeEncryptedCluster(stack, "Typed", props={"verify": False})
    with pytest.raises(EnvelopeConfigError, match=r"ClusterProps.ephemeral='yes': give True or False"):
        ClusterProps(ephemeral="yes")
    with pytest.raises(TypeError, match=r"EnvelopeEncryptedCluster\(\) got an unexpected keyword argument 'verifiy'; did you mean 'verify'\?"):
        EnvelopeEncryptedCluster(stack, "Misspelt", verifiy=False)


def test_a_props_object_made_elsewhere_is_checked_again_in_its_stack() -> None:
    """Only the stack knows its region: a key from another region passes ClusterProps and fails the construct."""
    from eks_envelope import ClusterProps

    stack = cdk.Stack(new_app(), "S", env=cdk.Environment(account="123456789012", region="eu-west-1"))
    props = ClusterProps(key=kms.Key.from_key_arn(stack, "Key", KEY_ARN.replace("eu-west-1", "us-east-1")))
    with pytest.raises(EnvelopeConfigError, match=r"EKS needs a key in the cluster's region eu-west-1"):
        EnvelopeEncryptedCluster(stack, "Cluster", props=props)
