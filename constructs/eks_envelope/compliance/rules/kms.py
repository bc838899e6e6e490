"""KMS rules: the key policy (wildcard principals, principals of the stack, key locks) and retention."""
from __future__ import annotations

from typing import Any, Mapping

from aws_cdk import CfnResource
from cdk_nag import NagRuleCompliance

from ...contract import EPHEMERAL_METADATA_KEY
from ..policy import aws_principals, covers, is_account_root, policy_statements
from ..rule import COMPLIANT, NON_COMPLIANT, NOT_APPLICABLE, Rule
from ..template import (
    IAM_ROLE,
    KMS_KEY,
    all_referenced_logical_ids,
    as_list,
    is_ephemeral,
    one_run,
    properties,
    replacement_policies,
    resource_type,
    stack_resources,
)


@one_run
def key_policy_no_wildcard_principal(node: CfnResource) -> NagRuleCompliance:
    """KMS1: no Allow statement in the key policy with Principal ``*`` or ``{"AWS": "*"}``."""
    if resource_type(node) != KMS_KEY:
        return NOT_APPLICABLE
    for statement in policy_statements(properties(node).get("KeyPolicy")):
        if statement.get("Effect") == "Allow" and "*" in aws_principals(statement):
            return NON_COMPLIANT
    return COMPLIANT


@one_run
def key_policy_names_no_role_of_the_stack(node: CfnResource) -> NagRuleCompliance:
    """KMS3: no key-policy principal is an IAM role (or user) created in the same stack.

    KMS refuses a key policy whose principals it cannot see (CreateKey/PutKeyPolicy: "principals
    must exist and be visible"), and a role created seconds earlier in the same deploy may not be
    yet: the deploy fails intermittently. Grant such a role through its own IAM policy, relying on
    the account-root statement. Deny statements are not checked.
    """
    if resource_type(node) != KMS_KEY:
        return NOT_APPLICABLE
    principals_of_stack = set(stack_resources(node, (IAM_ROLE, "AWS::IAM::User")))
    for statement in policy_statements(properties(node).get("KeyPolicy")):
        if statement.get("Effect") != "Allow":
            continue
        for principal in aws_principals(statement):
            if all_referenced_logical_ids(principal) & principals_of_stack:
                return NON_COMPLIANT
    return COMPLIANT


@one_run
def key_retained(node: CfnResource) -> NagRuleCompliance:
    """KMS2: DeletionPolicy and UpdateReplacePolicy Retain; NOT_APPLICABLE on an ephemeral key."""
    if resource_type(node) != KMS_KEY or is_ephemeral(node):
        return NOT_APPLICABLE
    deletion, update_replace = replacement_policies(node)
    retained = deletion in ("Retain", "RetainExceptOnCreate") and update_replace == "Retain"
    return COMPLIANT if retained else NON_COMPLIANT


#: Actions whose blanket denial could lock everyone out of the key (see key.py's key lock).
_LOCKABLE_KEY_ACTIONS = ("kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:PutKeyPolicy")
_EXEMPTING_OPERATORS = ("arnnotlike", "arnnotequals", "stringnotlike", "stringnotequals")


def _exempts_named_principals(statement: Mapping[str, Any]) -> bool:
    """Whether a Deny keeps a way in: a negated aws:PrincipalArn condition naming at least one principal."""
    condition = statement.get("Condition")
    if not isinstance(condition, dict):
        return False
    for operator, clauses in condition.items():
        if str(operator).lower() not in _EXEMPTING_OPERATORS or not isinstance(clauses, dict):
            continue
        for key, values in clauses.items():
            if str(key).lower() == "aws:principalarn" and any(v not in ("", "*") for v in as_list(values)):
                return True
    return False


@one_run
def key_lock_keeps_a_way_in(node: CfnResource) -> NagRuleCompliance:
    """KMS4: a key lock exempts named principals and keeps the account-root statement; N/A without a lock."""
    if resource_type(node) != KMS_KEY:
        return NOT_APPLICABLE
    statements = policy_statements(properties(node).get("KeyPolicy"))
    locks = [
        s for s in statements
        if "*" in aws_principals(s) and any(covers(s, a, "Deny") for a in _LOCKABLE_KEY_ACTIONS)
    ]
    if not locks:
        return NOT_APPLICABLE
    root_kept = any(
        s.get("Effect") == "Allow" and any(is_account_root(p) for p in aws_principals(s)) for s in statements
    )
    return COMPLIANT if root_kept and all(_exempts_named_principals(s) for s in locks) else NON_COMPLIANT


RULES: tuple[Rule, ...] = (
    Rule(
        "KMS1",
        key_policy_no_wildcard_principal,
        frozenset({KMS_KEY}),
        "The KMS key policy allows a wildcard principal ('*').",
        "A '*' principal opens the key to every AWS account, conditions or not; name principals explicitly "
        "(the account root, administrators, the cluster role).",
    ),
    Rule(
        "KMS2",
        key_retained,
        frozenset({KMS_KEY}),
        "The KMS key is not retained on stack deletion or replacement (DeletionPolicy/UpdateReplacePolicy Retain).",
        "Deleting the key makes everything encrypted under it unrecoverable. Not applicable to resources marked "
        f"ephemeral (metadata '{EPHEMERAL_METADATA_KEY}').",
    ),
    Rule(
        "KMS3",
        key_policy_names_no_role_of_the_stack,
        frozenset({KMS_KEY}),
        "The KMS key policy names an IAM role or user created in the same stack.",
        "KMS refuses key policies whose principals it cannot see yet, and a role created seconds earlier may not "
        "be visible: the deploy fails intermittently. Grant the role through its own IAM policy; the key policy's "
        "account-root statement delegates to IAM.",
    ),
    Rule(
        "KMS4",
        key_lock_keeps_a_way_in,
        frozenset({KMS_KEY}),
        "The KMS key policy denies ScheduleKeyDeletion, DisableKey or PutKeyPolicy to everyone without exempting "
        "named principals, or without the account-root statement.",
        "A blanket Deny on these actions can lock every principal, the account root included, out of the key for good. "
        "Exempt named break-glass roles with a negated aws:PrincipalArn condition (ArnNotLike) and keep the "
        "account-root Allow statement so IAM can still govern the key.",
    ),
)
