"""IAM and KMS policy documents: statements, actions (wildcards, NotAction), principals, conditions."""
from __future__ import annotations

import json
from fnmatch import fnmatchcase
from typing import Any, Iterator, Mapping

from aws_cdk import CfnResource

from .template import (
    IAM_MANAGED_POLICY,
    IAM_POLICY,
    IAM_ROLE,
    IAM_ROLE_POLICY,
    KMS_KEY,
    as_list,
    literal_text,
    properties,
    resource_type,
)

#: Resource types that carry policy documents: a key policy, IAM policies, a role's inline policies.
POLICY_CARRIERS = frozenset({KMS_KEY, IAM_POLICY, IAM_MANAGED_POLICY, IAM_ROLE_POLICY, IAM_ROLE})


def policy_statements(document: Any) -> list[dict[str, Any]]:
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            return []
    if not isinstance(document, dict):
        return []
    return [s for s in as_list(document.get("Statement")) if isinstance(s, dict)]


def _action_matches(pattern: Any, action: str) -> bool:
    return isinstance(pattern, str) and fnmatchcase(action.lower(), pattern.lower())


def covers(statement: Mapping[str, Any], action: str, effect: str = "Allow") -> bool:
    """Whether a statement of ``effect`` covers ``action`` (wildcards and NotAction understood)."""
    if statement.get("Effect") != effect:
        return False
    if "NotAction" in statement:
        return not any(_action_matches(p, action) for p in as_list(statement["NotAction"]))
    return any(_action_matches(p, action) for p in as_list(statement.get("Action")))


def allows(statement: Mapping[str, Any], action: str) -> bool:
    """Whether an Allow statement grants ``action``."""
    return covers(statement, action)


def aws_principals(statement: Mapping[str, Any]) -> list[Any]:
    principal = statement.get("Principal")
    if principal == "*":
        return ["*"]
    if isinstance(principal, dict):
        return as_list(principal.get("AWS"))
    return []


def service_principals(statement: Mapping[str, Any]) -> list[Any]:
    principal = statement.get("Principal")
    return as_list(principal.get("Service")) if isinstance(principal, dict) else []


def condition_keys(statement: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """``(operator, key)`` pairs of a statement's Condition, both lower-cased."""
    condition = statement.get("Condition")
    if not isinstance(condition, dict):
        return
    for operator, clauses in condition.items():
        if isinstance(clauses, dict):
            for key in clauses:
                yield str(operator).lower(), str(key).lower()


def is_account_root(principal: Any) -> bool:
    text = literal_text(principal)
    if text is None:
        return False
    value, literal = text
    if literal and value.isdigit() and len(value) == 12:
        return True
    return value.endswith(":root") and ":iam::" in value


def policy_documents(node: CfnResource) -> list[Any]:
    """Every policy document carried by a key, an IAM policy or a role's inline policies."""
    props = properties(node)
    kind = resource_type(node)
    if kind == KMS_KEY:
        return [props.get("KeyPolicy")]
    if kind == IAM_ROLE:
        return [p.get("PolicyDocument") for p in as_list(props.get("Policies")) if isinstance(p, dict)]
    return [props.get("PolicyDocument")]
