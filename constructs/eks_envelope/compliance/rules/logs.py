"""CloudWatch Logs rules."""
from __future__ import annotations

from aws_cdk import CfnResource
from cdk_nag import NagRuleCompliance

from ..rule import COMPLIANT, NON_COMPLIANT, NOT_APPLICABLE, Rule
from ..template import LOG_GROUP, one_run, properties, resource_type


@one_run
def log_group_encrypted_with_retention(node: CfnResource) -> NagRuleCompliance:
    """CWL1: the log group has a KmsKeyId and a RetentionInDays."""
    if resource_type(node) != LOG_GROUP:
        return NOT_APPLICABLE
    props = properties(node)
    has_both = props.get("KmsKeyId") is not None and props.get("RetentionInDays") is not None
    return COMPLIANT if has_both else NON_COMPLIANT


RULES: tuple[Rule, ...] = (
    Rule(
        "CWL1",
        log_group_encrypted_with_retention,
        frozenset({LOG_GROUP}),
        "The CloudWatch log group is not encrypted with a KMS key or has no retention period.",
        "Control-plane and verifier logs carry cluster metadata; encrypt them with KMS and expire them.",
    ),
)
