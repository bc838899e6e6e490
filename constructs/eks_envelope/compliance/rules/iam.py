"""IAM rules: statements in key policies and IAM policies that would break EKS."""
from __future__ import annotations

from aws_cdk import CfnResource
from cdk_nag import NagRuleCompliance

from ..policy import POLICY_CARRIERS, allows, condition_keys, policy_documents, policy_statements
from ..rule import COMPLIANT, NON_COMPLIANT, NOT_APPLICABLE, Rule
from ..template import one_run, resource_type


@one_run
def create_grant_without_grant_is_for_aws_resource(node: CfnResource) -> NagRuleCompliance:
    """IAM1: no statement allowing kms:CreateGrant carries a kms:GrantIsForAWSResource condition.

    Checked in key policies, AWS::IAM::Policy / ManagedPolicy / RolePolicy and role inline policies.
    """
    if resource_type(node) not in POLICY_CARRIERS:
        return NOT_APPLICABLE
    for document in policy_documents(node):
        for statement in policy_statements(document):
            if allows(statement, "kms:CreateGrant") and any(
                key == "kms:grantisforawsresource" for _, key in condition_keys(statement)
            ):
                return NON_COMPLIANT
    return COMPLIANT


RULES: tuple[Rule, ...] = (
    Rule(
        "IAM1",
        create_grant_without_grant_is_for_aws_resource,
        POLICY_CARRIERS,
        "A statement allowing kms:CreateGrant is conditioned on kms:GrantIsForAWSResource.",
        "EKS documents kms:GrantIsForAWSResource as unsupported for CreateCluster: the grant request is made by the "
        "caller, so the condition denies it and cluster creation fails.",
    ),
)
