"""AWS Config guardrails: every EKS cluster of an account, or of an organization, on an approved key.

Why not one rule per cluster (what ``MonitoringOptions.config_rule`` used to add): ``EKS_SECRETS_ENCRYPTED``
and ``EKS_CLUSTER_SECRETS_ENCRYPTED`` are **periodic** managed rules (AWS Config developer guide), and AWS
Config rejects a ``Scope`` on a periodic rule (``InvalidParameterValueException``; cloud-custodian#10008,
quoting AWS Support). Without a scope a rule judges every EKS cluster of the account against its
``kmsKeyArns``: the list of approved keys is an account (or organization) decision, not one cluster's.
docs/guardrail.md tells what these rules prove and what only the verifier and ``eks-envelope audit`` prove.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar, Sequence

from aws_cdk import Aws, CfnCondition, Fn, Stack, Token
from aws_cdk import aws_config as config
from constructs import Construct

from .props import Props, props_from, typed_props
from .validation import Problems, parse_kms_arn

#: The managed rule that checks the key against kmsKeyArns where AWS Config offers it.
CLUSTER_RULE = "EKS_CLUSTER_SECRETS_ENCRYPTED"
#: The older managed rule, offered in every region.
SECRETS_RULE = "EKS_SECRETS_ENCRYPTED"
#: Pick per region: ``CLUSTER_RULE`` where offered, else ``SECRETS_RULE``.
AUTO = "auto"
RULE_CHOICES = (AUTO, CLUSTER_RULE, SECRETS_RULE)
#: Regions where AWS Config does not offer EKS_CLUSTER_SECRETS_ENCRYPTED (developer guide page
#: "eks-cluster-secrets-encrypted", read 2026-12-02: all supported regions except China (Beijing), Asia
#: Pacific (Thailand), Asia Pacific (Malaysia), Mexico (Central), Asia Pacific (Taipei), Canada West
#: (Calgary), China (Ningxia)). Re-check on every release; a region missing here gets CLUSTER_RULE.
CLUSTER_RULE_NOT_OFFERED = (
    "cn-north-1", "ap-southeast-7", "ap-southeast-5", "mx-central-1", "ap-east-2", "ca-west-1", "cn-northwest-1",
)
#: The periods AWS Config accepts for a periodic rule (MaximumExecutionFrequency).
FREQUENCIES = ("One_Hour", "Three_Hours", "Six_Hours", "Twelve_Hours", "TwentyFour_Hours")
DEFAULT_FREQUENCY = "TwentyFour_Hours"
#: InputParameters limits: PutConfigRule 1024 characters, PutOrganizationConfigRule 2048.
_MAX_INPUT = {"account": 1024, "organization": 2048}
ORG_RULE_NAME = "eks-envelope-secrets-on-approved-keys"


def check_guardrail(problems: Problems, key_arns: Sequence[str], rule: str, frequency: str, *, level: str) -> None:
    """Every problem with a guardrail's props: approved key ARNs (no alias), rule choice, period, size."""
    # Its type (a list, not a bare string) is checked by the constructors' typed props before this runs.
    if not key_arns:
        problems.add("key_arns", list(key_arns),
                     "give the approved key ARNs as a list, at least one "
                     "(e.g. ['arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab'])")
    else:
        for arn in key_arns:
            parts = parse_kms_arn(arn) if isinstance(arn, str) and not Token.is_unresolved(arn) else None
            if not isinstance(arn, str) or (not Token.is_unresolved(arn) and (parts is None or parts["kind"] != "key")):
                problems.add("key_arns", arn, "give a KMS key ARN (arn:<partition>:kms:<region>:<account>:key/<id>); "
                                              "an alias ARN is not what a cluster's encryptionConfig names")
        if len(set(key_arns)) != len(list(key_arns)):
            problems.add("key_arns", list(key_arns), "list each key once")
        literal = [a for a in key_arns if isinstance(a, str) and not Token.is_unresolved(a)]
        size = len(json.dumps({"kmsKeyArns": ",".join(literal)}))
        if size > _MAX_INPUT[level]:
            problems.add("key_arns", f"{len(literal)} ARNs", f"the rule's input parameters are {size} characters; AWS "
                         f"Config takes {_MAX_INPUT[level]}: split the approved keys over rules per region")
    if rule not in RULE_CHOICES:
        problems.add("rule", rule, f"use one of {', '.join(RULE_CHOICES)}")
    if frequency not in FREQUENCIES:
        problems.add("maximum_execution_frequency", frequency, f"use one of {', '.join(FREQUENCIES)}")


def rule_identifier(scope: Construct, rule: str) -> str:
    """The managed rule identifier for ``rule`` in the stack's region: a literal, or a deploy-time choice.

    ``auto`` in an environment-agnostic stack becomes ``Fn::If`` on a condition over
    :data:`CLUSTER_RULE_NOT_OFFERED`, created once per stack.
    """
    if rule != AUTO:
        return rule
    region = Stack.of(scope).region
    if not Token.is_unresolved(region):
        return SECRETS_RULE if region in CLUSTER_RULE_NOT_OFFERED else CLUSTER_RULE
    stack = Stack.of(scope)
    condition = stack.node.try_find_child("EksClusterSecretsRuleNotOffered")
    if condition is None:
        condition = CfnCondition(stack, "EksClusterSecretsRuleNotOffered", expression=Fn.condition_or(
            *(Fn.condition_equals(Aws.REGION, r) for r in CLUSTER_RULE_NOT_OFFERED)))
    return Token.as_string(Fn.condition_if(condition.logical_id, SECRETS_RULE, CLUSTER_RULE))


def _description(level: str) -> str:
    return (f"eks-envelope guardrail: every EKS cluster of this {level} encrypts its Kubernetes API data with one of the "
            "approved customer managed keys (kmsKeyArns). Periodic, so unscoped: it judges every cluster.")


@typed_props
@dataclass(frozen=True)
class SecretsEncryptionGuardrailProps(Props):
    """The props of :class:`SecretsEncryptionGuardrail`, as one frozen object."""

    #: the approved KMS key ARNs (kmsKeyArns); a cluster on any other key, on none, or on the
    #: AWS-owned default key is NON_COMPLIANT.
    key_arns: Sequence[str]
    #: ``EKS_CLUSTER_SECRETS_ENCRYPTED``, ``EKS_SECRETS_ENCRYPTED``, or ``auto``: the first where AWS
    #: Config offers it, else the second (chosen at deploy time in an environment-agnostic stack).
    #: :default: "auto"
    rule: str = AUTO
    #: how often AWS Config evaluates. :default: "TwentyFour_Hours"
    maximum_execution_frequency: str = DEFAULT_FREQUENCY
    #: Where the rule lives, which bounds its input parameters (_MAX_INPUT).
    level: ClassVar[str] = "account"

    def check(self, problems: Problems) -> None:
        check_guardrail(problems, self.key_arns, self.rule, self.maximum_execution_frequency, level=self.level)


@typed_props
@dataclass(frozen=True)
class OrganizationSecretsEncryptionGuardrailProps(SecretsEncryptionGuardrailProps):
    """The props of :class:`OrganizationSecretsEncryptionGuardrail`: the account guardrail's, for the whole
    organization (``key_arns``: its approved keys), plus the accounts left out and the rule's name."""

    #: 12-digit account ids the rule is not deployed to. :default: - none
    excluded_accounts: Sequence[str] = ()
    #: the organization rule's name (1-64 characters, unique in the organization).
    #: :default: "eks-envelope-secrets-on-approved-keys"
    rule_name: str = ORG_RULE_NAME
    level: ClassVar[str] = "organization"

    def check(self, problems: Problems) -> None:
        super().check(problems)
        for account in self.excluded_accounts:
            if not (isinstance(account, str) and account.isdigit() and len(account) == 12):
                problems.add("excluded_accounts", account, "give 12-digit AWS account ids")
        rule_name = self.rule_name
        if not (isinstance(rule_name, str) and 1 <= len(rule_name) <= 64 and rule_name.strip()):
            problems.add("rule_name", rule_name, "give 1-64 characters, unique among the organization's Config rules")


@typed_props
class SecretsEncryptionGuardrail(Construct):
    """An account-level AWS Config rule: every EKS cluster of this account and region on an approved key.

    Periodic and unscoped (AWS Config refuses a scope on a periodic rule), so it judges every cluster of
    the account: list every key your clusters may use. Needs a configuration recorder that records
    ``AWS::EKS::Cluster``.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, props: SecretsEncryptionGuardrailProps | None = None, **kwargs: Any
    ) -> None:
        """
        :param props: a SecretsEncryptionGuardrailProps, or its fields as keyword arguments (not both).
        """
        super().__init__(scope, construct_id)
        props = props_from(SecretsEncryptionGuardrailProps, props, kwargs, owner=self)
        props.validate()
        #: The approved key ARNs.
        self.key_arns = tuple(props.key_arns)
        #: The ``AWS::Config::ConfigRule``.
        self.rule = config.CfnConfigRule(
            self,
            "Resource",
            source=config.CfnConfigRule.SourceProperty(owner="AWS", source_identifier=rule_identifier(self, props.rule)),
            input_parameters={"kmsKeyArns": ",".join(self.key_arns)},
            maximum_execution_frequency=props.maximum_execution_frequency,
            description=_description("account"),
        )


@typed_props
class OrganizationSecretsEncryptionGuardrail(Construct):
    """An AWS Config organization rule: every EKS cluster of every member account (this region) on an approved key.

    Deploy it in the organization's management account or a delegated administrator for AWS Config
    (``organizations:EnableAWSServiceAccess`` for ``config-multiaccountsetup.amazonaws.com``); each member
    account needs a configuration recorder. Periodic, so unscoped, like :class:`SecretsEncryptionGuardrail`,
    whose rule choice it shares.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *,
        props: OrganizationSecretsEncryptionGuardrailProps | None = None, **kwargs: Any,
    ) -> None:
        """
        :param props: an OrganizationSecretsEncryptionGuardrailProps, or its fields as keyword arguments (not both).
        """
        super().__init__(scope, construct_id)
        props = props_from(OrganizationSecretsEncryptionGuardrailProps, props, kwargs, owner=self)
        props.validate()
        #: The approved key ARNs.
        self.key_arns = tuple(props.key_arns)
        #: The ``AWS::Config::OrganizationConfigRule``.
        self.rule = config.CfnOrganizationConfigRule(
            self,
            "Resource",
            organization_config_rule_name=props.rule_name,
            organization_managed_rule_metadata=config.CfnOrganizationConfigRule.OrganizationManagedRuleMetadataProperty(
                rule_identifier=rule_identifier(self, props.rule),
                input_parameters=json.dumps({"kmsKeyArns": ",".join(self.key_arns)}),
                maximum_execution_frequency=props.maximum_execution_frequency,
                description=_description("organization"),
            ),
            excluded_accounts=list(props.excluded_accounts) or None,
        )
