"""Typed props (issue 20): every prop of every public construct is checked for type before its value.

One mechanism (``props.typed_props``, a class decorator reading the constructor's annotations)
serves every public class; the tests below hold the class, not a list: a public class added later
without the decorator, or a prop whose annotation the checker cannot read, fails here.
"""
from __future__ import annotations

import dataclasses
import inspect
import re
import typing
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

import eks_envelope
from eks_envelope import EnvelopeConfigError, EnvelopeEncryptedCluster, MonitoringOptions, VerifierOptions
from eks_envelope.props import Props, flattened_props, prop_hints, props_from, type_problems, typed_props
from eks_envelope.validation import Problems, check_cidrs, check_cluster_name
from stacks.settings import settings_from_context
from tests.helpers import new_app

ACCOUNT = "123456789012"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/Platform"
KEY_ARN = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"

#: Public classes (from eks_envelope's exports) with a constructor that takes props.
PUBLIC_CLASSES = sorted(
    (name for name in eks_envelope.__all__ if inspect.isclass(getattr(eks_envelope, name, None))
     and not issubclass(getattr(eks_envelope, name), Exception)),
)
#: Values tried for a prop, in order; the first of the wrong type for the prop's annotation is used.
WRONG_VALUES: tuple[Any, ...] = ("false", 1.35, "203.0.113.0/24", 60, object())


@pytest.fixture(scope="module")
def stack() -> cdk.Stack:
    return cdk.Stack(new_app(), "S", env=cdk.Environment(account=ACCOUNT, region="eu-west-1"))


@pytest.fixture(scope="module")
def required(stack: cdk.Stack) -> dict[str, dict[str, Any]]:
    """Well-typed values of each public class's required props (the type check runs before any is used)."""
    vpc = ec2.Vpc.from_vpc_attributes(stack, "Vpc", vpc_id="vpc-1", availability_zones=["eu-west-1a", "eu-west-1b"],
                                      private_subnet_ids=["subnet-1", "subnet-2"])
    key = kms.Key.from_key_arn(stack, "Key", KEY_ARN)
    required = {
        "EnvelopeEncryptionVerifier": {"cluster_name": "prod", "cluster_role_arn": ROLE_ARN, "vpc": vpc, "key": key,
                                       "cluster_security_groups": [ec2.SecurityGroup.from_security_group_id(stack, "Sg", "sg-1")]},
        "EnvelopeEncryptionMonitoring": {"cluster_name": "prod", "cluster_role_arn": ROLE_ARN, "key": key},
        "MonitoringProps": {"cluster_name": "prod", "cluster_role_arn": ROLE_ARN, "key": key},
        "EnvelopeEncryptionForExistingCluster": {
            "cluster_name": "prod", "cluster_role": iam.Role.from_role_arn(stack, "Role", ROLE_ARN), "vpc": vpc,
            "cluster_security_group_id": "sg-1",
        },
        "ClusterDeletionProtection": {"cluster_name": "prod", "service_token": "arn:aws:lambda:eu-west-1:1:function:x", "protect": True},
        "SecretsEncryptionGuardrail": {"key_arns": [KEY_ARN]},
        "OrganizationSecretsEncryptionGuardrail": {"key_arns": [KEY_ARN]},
        "SecretsEncryptionGuardrailProps": {"key_arns": [KEY_ARN]},
        "OrganizationSecretsEncryptionGuardrailProps": {"key_arns": [KEY_ARN]},
    }
    # A construct's props object takes the construct's required props.
    for name in ("EnvelopeEncryptionVerifier", "EnvelopeEncryptionForExistingCluster", "ClusterDeletionProtection"):
        required[f"{name}Props"] = required[name]
    return required


def _props(cls: type) -> dict[str, inspect.Parameter]:
    return {n: p for n, p in inspect.signature(cls.__init__).parameters.items() if n not in ("self", "scope", "construct_id")}


def _construct(cls: type, stack: cdk.Stack, props: dict[str, Any]) -> Any:
    if "scope" in inspect.signature(cls.__init__).parameters:
        if "construct_id" in inspect.signature(cls.__init__).parameters:
            return cls(stack, f"Probe{id(props)}", **props)
        return cls(stack, **props)
    return cls(**props)


def _wrong_value(hint: Any) -> Any:
    return next(v for v in WRONG_VALUES if type_problems(v, hint))


def test_every_public_class_is_listed() -> None:
    assert {"EnvelopeEncryptedCluster", "ClusterSecretsKey", "EnvelopeEncryptionVerifier", "VerifierOptions",
            "MonitoringOptions", "EnvelopeEncryptionMonitoring", "EnvelopeEncryptionForExistingCluster",
            "ClusterDeletionProtection", "EnvelopeEncryptionChecks", "ClusterProps", "ClusterSecretsKeyProps",
            "MonitoringProps", "SecretsEncryptionGuardrailProps", "OrganizationSecretsEncryptionGuardrailProps",
            } <= set(PUBLIC_CLASSES)


@pytest.mark.parametrize("name", PUBLIC_CLASSES)
def test_every_prop_of_every_public_class_is_typed_and_refuses_a_wrong_type(name: str, stack: cdk.Stack, required: dict) -> None:
    cls = getattr(eks_envelope, name)
    hints = prop_hints(cls)
    props = _props(cls)
    assert props, f"{name} takes no props"
    unreadable = [p for p in props if p not in hints or not any(type_problems(v, hints[p]) for v in WRONG_VALUES)]
    assert unreadable == [], f"{name}: props the type check cannot hold: {unreadable}"
    owner = f"{name}." if hasattr(cls, "__dataclass_fields__") else ""
    for prop in props:
        wrong = _wrong_value(hints[prop])
        with pytest.raises(EnvelopeConfigError) as raised:
            _construct(cls, stack, {**required.get(name, {}), prop: wrong})
        assert [p.field for p in raised.value.problems] == [f"{owner}{prop}"], str(raised.value)
        assert raised.value.problems[0].value is wrong and raised.value.problems[0].fix.startswith(("give", "pass"))


@pytest.mark.parametrize(
    ("props", "expected"),
    [
        pytest.param({"ephemeral": "false"}, r"ephemeral='false': give True or False, not the string 'false'", id="string-false"),
        pytest.param({"verify": "no"}, r"verify='no': give True or False, not the string 'no'", id="string-no"),
        pytest.param({"deletion_protection": 0}, r"deletion_protection=0: give True or False", id="number-for-bool"),
        pytest.param({"kubernetes_version": 1.35}, r"kubernetes_version=1.35: pass a string like '1.35'", id="float-version"),
        pytest.param({"nat_gateways": True}, r"nat_gateways=True: give a whole number, not True or False", id="bool-for-int"),
        pytest.param({"max_azs": "3"}, r"max_azs='3': give the number 3, not the string '3'", id="string-for-int"),
        pytest.param({"key": KEY_ARN}, r"key='arn:aws:kms:.*': give an aws_kms.IKey; for an ARN or name use aws_kms.Key.from_key_arn", id="arn-for-key"),
        pytest.param({"alarm_topic": "arn:aws:sns:eu-west-1:123456789012:oncall"}, r"use aws_sns.Topic.from_topic_arn", id="arn-for-topic"),
        pytest.param({"vpc": "vpc-0abc"}, r"vpc='vpc-0abc': give an aws_ec2.IVpc", id="id-for-vpc"),
        pytest.param({"log_retention": 7}, r"log_retention=7: give an aws_logs.RetentionDays", id="days-for-retention"),
        pytest.param({"admin_principal_arns": [ROLE_ARN, 42]}, r"admin_principal_arns\[1\]=42", id="bad-list-item"),
        pytest.param({"verifier_options": {"pod_check": False}}, r"verifier_options=\{'pod_check': False\}: give an eks_envelope.VerifierOptions", id="dict-for-options"),
    ],
)
def test_fails_on_a_prop_of_the_wrong_type(props: dict[str, Any], expected: str, stack: cdk.Stack) -> None:
    with pytest.raises(EnvelopeConfigError, match=expected):
        EnvelopeEncryptedCluster(stack, f"Typed{len(props)}", **props)


def test_fails_on_a_string_for_a_list_with_one_problem_not_one_per_character(stack: cdk.Stack) -> None:
    with pytest.raises(EnvelopeConfigError) as raised:
        EnvelopeEncryptedCluster(stack, "CidrString", public_access_cidrs="203.0.113.0/24")
    assert [str(p) for p in raised.value.problems] == [
        "public_access_cidrs='203.0.113.0/24': pass a list, e.g. ['203.0.113.0/24'], not a bare string "
        "(read one character at a time)"
    ]


def test_fails_on_every_wrong_type_at_once_before_any_value_check(stack: cdk.Stack) -> None:
    with pytest.raises(EnvelopeConfigError) as raised:
        EnvelopeEncryptedCluster(stack, "AllWrong", ephemeral="false", verify="no", kubernetes_version=1.35,
                                 cluster_name="My_Cluster!")
    # The value check of cluster_name waits until the types are right.
    assert sorted(p.field for p in raised.value.problems) == ["ephemeral", "kubernetes_version", "verify"]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        pytest.param(lambda: VerifierOptions(pod_check="false"), r"VerifierOptions.pod_check='false': give True or False", id="verifier-bool"),
        pytest.param(lambda: VerifierOptions(reserved_concurrency=2.0), r"VerifierOptions.reserved_concurrency=2.0: give a whole number: 2", id="verifier-int"),
        pytest.param(lambda: VerifierOptions(reserved_concurrency=0), r"VerifierOptions.reserved_concurrency=0: give at least 1", id="verifier-no-concurrency"),
        pytest.param(lambda: MonitoringOptions(schedule=60), r"MonitoringOptions.schedule=60: give an aws_cdk.Duration, e.g. Duration.minutes\(60\)", id="monitoring-duration"),
        pytest.param(lambda: MonitoringOptions(config_rule="true"), r"MonitoringOptions.config_rule='true'", id="monitoring-bool"),
    ],
)
def test_fails_on_options_of_the_wrong_type(options: Any, expected: str) -> None:
    with pytest.raises(EnvelopeConfigError, match=expected):
        options()


def test_imported_resources_and_tokens_pass_the_type_check(stack: cdk.Stack) -> None:
    """jsii proxies (imported key, VPC, topic, role) implement their interfaces; tokens stand for their type."""
    vpc = ec2.Vpc.from_vpc_attributes(stack, "TokVpc", vpc_id="vpc-1", availability_zones=["eu-west-1a", "eu-west-1b"],
                                      private_subnet_ids=["subnet-1", "subnet-2"])
    hints = {
        "key": (kms.IKey, kms.Key.from_key_arn(stack, "TokKey", KEY_ARN)),
        "vpc": (ec2.IVpc, vpc),
        "topic": (sns.ITopic, sns.Topic.from_topic_arn(stack, "TokTopic", "arn:aws:sns:eu-west-1:123456789012:t")),
        "role": (iam.IRole, iam.Role.from_role_arn(stack, "TokRole", ROLE_ARN)),
        "principal": (iam.IPrincipal, iam.ArnPrincipal(ROLE_ARN)),
        "name": (str, cdk.Token.as_string(cdk.Aws.STACK_NAME)),
        "count": (int, cdk.Token.as_number(cdk.Aws.ACCOUNT_ID)),
        "cidrs": (typing.Sequence[str], [cdk.Fn.import_value("Cidr")]),
    }
    assert {name: type_problems(value, hint) for name, (hint, value) in hints.items()} == {name: [] for name in hints}
    # ...and a proxy of another interface does not.
    assert type_problems(vpc, kms.IKey) != []


@pytest.mark.parametrize("name", ["My_Cluster!", "team_a", "--edge--", "über-cluster", "a_" * 60, "9 lives"])
def test_fails_on_an_invalid_cluster_name_with_a_suggestion_that_is_itself_valid(name: str) -> None:
    problems = Problems()
    check_cluster_name(problems, "cluster_name", name)
    (problem,) = problems.items
    suggestion = re.search(r"try '([^']*)'$", problem.fix)
    assert suggestion, problem.fix
    again = Problems()
    check_cluster_name(again, "cluster_name", suggestion[1])
    assert again.items == [], f"suggested {suggestion[1]!r} is refused too"


@pytest.mark.parametrize(
    ("cidr", "expected"),
    [
        pytest.param("10.0.0.0/33", "prefix length /33 is out of range: IPv4 prefixes are /0 to /32", id="prefix-too-long"),
        pytest.param("2001:db8::/129", "prefix length /129 is out of range: IPv6 prefixes are /0 to /128", id="ipv6-prefix"),
        pytest.param("10.0.0.0/x", "the prefix length after '/' is a number from 0 to 32, e.g. '10.0.0.0/32'", id="prefix-not-a-number"),
        pytest.param("1.2.3.4", "a single address needs its prefix length: give '1.2.3.4/32'", id="bare-address"),
        pytest.param("10.0.0.1/24", "host bits must be zero: did you mean '10.0.0.0/24'?", id="host-bits"),
        pytest.param("10.0.0.300/8", "use a CIDR block like '203.0.113.0/24' ('10.0.0.300' is not an IP address)", id="not-an-address"),
    ],
)
def test_fails_on_a_bad_cidr_with_its_own_reason(cidr: str, expected: str) -> None:
    problems = Problems()
    check_cidrs(problems, "public_access_cidrs", [cidr], allow_anywhere=False)
    assert [p.fix for p in problems.items] == [expected]


def test_valid_cidrs_pass() -> None:
    problems = Problems()
    check_cidrs(problems, "public_access_cidrs", ["203.0.113.0/24", "198.51.100.7/32", "2001:db8::/32"], allow_anywhere=False)
    assert problems.items == []


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        pytest.param({"allow_public_endpoint_from_anywhere": "no"}, r"-c allow_public_endpoint_from_anywhere=no: use true, false, or the reason", id="no-is-not-a-reason"),
        pytest.param({"verify": "0"}, r"-c verify=0: use true or false", id="zero-for-bool"),
        pytest.param({"config_rule": 1}, r"-c config_rule=1: use true or false", id="json-number-for-bool"),
        pytest.param({"kubernetes_version": 1.3}, r"-c kubernetes_version=1.3: use a string: write it in quotes in cdk.json, e.g. \"1.3\"", id="json-number-for-version"),
    ],
)
def test_fails_on_context_of_the_wrong_type(context: dict[str, Any], expected: str) -> None:
    with pytest.raises(EnvelopeConfigError, match=expected):
        settings_from_context(context)


def test_context_true_and_false_stay_readable_as_text() -> None:
    settings = settings_from_context({"ephemeral": "true", "verify": "False", "allow_public_endpoint_from_anywhere": " TRUE "})
    assert (settings.ephemeral, settings.verify, settings.allow_public_endpoint_from_anywhere) == (True, False, True)


# --- one props mechanism for every public construct (issue 23 item 2) -------------------------------------------

def test_every_public_construct_takes_its_props_one_way() -> None:
    """Each exported construct takes ``props=`` (a ``props.Props``) or its fields as keyword arguments, and
    every exported props class is the props of one of them: no second mechanism (``from_props``, a dataclass
    not derived from Props, an explicit keyword list) can come back unnoticed."""
    exported = {name: getattr(eks_envelope, name) for name in eks_envelope._EXPORTS}
    constructs = {n: c for n, c in exported.items() if inspect.isclass(c) and issubclass(c, Construct)}
    props_classes = {n: c for n, c in exported.items() if inspect.isclass(c) and n.endswith("Props")}
    assert {"EnvelopeEncryptionVerifier", "ClusterDeletionProtection", "EnvelopeEncryptionForExistingCluster",
            "EnvelopeEncryptedCluster", "ClusterSecretsKey", "EnvelopeEncryptionMonitoring"} <= set(constructs)
    taken = {}
    for name, construct in constructs.items():
        parameters = inspect.signature(inspect.unwrap(construct.__init__)).parameters
        assert "props" in parameters and any(p.kind is p.VAR_KEYWORD for p in parameters.values()), name
        props_class = flattened_props(construct)
        assert props_class is not None and issubclass(props_class, Props), name
        assert not hasattr(construct, "from_props"), name
        taken[name] = props_class
    assert [n for n, c in props_classes.items() if not issubclass(c, Props)] == []
    assert set(props_classes.values()) == set(taken.values())


@typed_props
@dataclasses.dataclass(frozen=True)
class _ToyProps(Props):
    name: str
    tags: typing.Sequence[str] = dataclasses.field(default_factory=lambda: ("a",))
    enabled: bool = True


@typed_props
class _Toy:
    """A construct shape with a keyword argument that is no prop, like the verifier's deprecated ``cluster=``."""

    def __init__(self, scope: Any, construct_id: str, *, props: _ToyProps | None = None, legacy: int | None = None,
                 **kwargs: Any) -> None:
        kwargs = {"name": f"legacy-{legacy}", **kwargs} if legacy is not None else kwargs
        self.props = props_from(_ToyProps, props, kwargs, owner=self, missing_fixes={"name": "give a name or legacy"})
        self.legacy = legacy


def test_an_argument_that_is_no_prop_is_shown_and_typed_beside_the_props_fields() -> None:
    parameters = inspect.signature(_Toy.__init__).parameters
    assert list(parameters) == ["self", "scope", "construct_id", "props", "legacy", "name", "tags", "enabled"]
    # A field with a default factory shows its value, not "required".
    assert (parameters["name"].default, parameters["tags"].default) == (inspect.Parameter.empty, ("a",))
    assert prop_hints(_Toy)["legacy"] == int | None
    with pytest.raises(EnvelopeConfigError) as raised:
        _Toy(None, "T", legacy="3", enabled="no")
    assert sorted(p.field for p in raised.value.problems) == ["enabled", "legacy"]
    assert _Toy(None, "T", legacy=3).props == _ToyProps(name="legacy-3")
    assert _Toy(None, "T", name="x").props.tags == ("a",)


def test_a_required_prop_another_argument_could_give_is_a_problem_with_its_fix() -> None:
    with pytest.raises(EnvelopeConfigError) as raised:
        _Toy(None, "T", enabled=False)
    assert [str(p) for p in raised.value.problems] == ["name=None: give a name or legacy"]
    # An unknown keyword argument is still Python's TypeError, naming the prop meant, before anything is missing.
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'nmae'; did you mean 'name'\?"):
        _Toy(None, "T", nmae="x")


def test_an_argument_that_hides_a_field_is_refused_when_the_class_is_defined() -> None:
    with pytest.raises(TypeError, match=r"_ToyProps has the field\(s\) name: the constructor takes them through \*\*kwargs"):
        @typed_props
        class _Hiding:
            def __init__(self, scope: Any, construct_id: str, *, props: _ToyProps | None = None, name: str = "",
                         **kwargs: Any) -> None:
                pass
