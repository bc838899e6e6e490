"""The cluster's secrets key as the template names it, and the IAM statements of its cluster role."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Mapping

from aws_cdk import CfnResource

from .policy import policy_statements
from .template import (
    IAM_MANAGED_POLICY,
    IAM_POLICY,
    IAM_ROLE_POLICY,
    KMS_ALIAS,
    KMS_KEY,
    KMS_REPLICA_KEY,
    as_list,
    literal_text,
    properties,
    referenced_logical_id,
    resource_type,
    stack_resources,
)


#: The resource types :func:`secrets_key` follows a reference to.
KEY_TYPES = frozenset({KMS_KEY, KMS_REPLICA_KEY, KMS_ALIAS})
#: The resource types that can carry a role's identity policies besides the role itself.
IDENTITY_POLICY_TYPES = frozenset({IAM_POLICY, IAM_MANAGED_POLICY, IAM_ROLE_POLICY})


@dataclass(frozen=True)
class KeyReference:
    """What ``EncryptionConfig[secrets].Provider.KeyArn`` points at.

    kind: ``absent`` (no secrets encryption), ``stack-key`` (an AWS::KMS::Key of this stack),
    ``external-key`` (a literal key ARN, a replica key), ``alias``, ``invalid`` (a literal that is
    neither a key ARN nor an alias), ``unknown`` (a token the rule cannot follow).
    key: the AWS::KMS::Key in this stack when known (also behind an alias of this stack).
    """

    kind: str
    key: CfnResource | None = None


def secrets_key(cluster: CfnResource, resources: Mapping[str, CfnResource] | None = None) -> KeyReference:
    key_arn = None
    for entry in as_list(properties(cluster).get("EncryptionConfig")):
        if not isinstance(entry, dict):
            continue
        # Resources is deprecated (EKS user guide FAQ; botocore since 2025-03): omitted or empty, it
        # defaults to ["secrets"] and no longer decides what is encrypted (all API data is).
        named = as_list(entry.get("Resources"))
        if not named or "secrets" in named:
            provider = entry.get("Provider")
            key_arn = provider.get("KeyArn") if isinstance(provider, dict) else None
            if key_arn is not None:
                break
    if key_arn is None:
        return KeyReference("absent")

    logical_id = referenced_logical_id(key_arn)
    if logical_id is not None:
        resources = stack_resources(cluster, KEY_TYPES) if resources is None else resources
        target = resources.get(logical_id)
        kind = resource_type(target) if target is not None else None
        if kind == KMS_KEY:
            return KeyReference("stack-key", target)
        if kind == KMS_REPLICA_KEY:
            return KeyReference("external-key")
        if kind == KMS_ALIAS:
            aliased = resources.get(referenced_logical_id(properties(target).get("TargetKeyId")) or "")
            if aliased is not None and resource_type(aliased) == KMS_KEY:
                return KeyReference("alias", aliased)
            return KeyReference("alias")
        return KeyReference("unknown")  # a parameter, another stack's output, ...

    text = literal_text(key_arn)
    if text is None:
        return KeyReference("unknown")  # Fn::ImportValue, Fn::Select, ...
    value, literal = text
    if value.startswith("alias/") or ":alias/" in value:
        return KeyReference("alias")
    if ":key/" in value:
        return KeyReference("external-key")
    return KeyReference("invalid" if literal else "unknown")


def role_identity_statements(
    role_id: str, role: CfnResource, resources: Mapping[str, CfnResource]
) -> Iterator[dict[str, Any]]:
    role_props = properties(role)
    for policy in as_list(role_props.get("Policies")):
        if isinstance(policy, dict):
            yield from policy_statements(policy.get("PolicyDocument"))
    attached = {referenced_logical_id(arn) for arn in as_list(role_props.get("ManagedPolicyArns"))}
    for logical_id, resource in resources.items():
        kind = resource_type(resource)
        if kind not in IDENTITY_POLICY_TYPES:
            continue
        props = properties(resource)
        roles = {referenced_logical_id(r) for r in as_list(props.get("Roles"))}
        roles.add(referenced_logical_id(props.get("RoleName")))
        if role_id in roles or (kind == IAM_MANAGED_POLICY and logical_id in attached):
            yield from policy_statements(props.get("PolicyDocument"))


def covers_key(statement: Mapping[str, Any], key_id: str) -> bool:
    for resource in as_list(statement.get("Resource")):
        if resource == "*" or referenced_logical_id(resource) == key_id:
            return True
        text = literal_text(resource)
        if text is not None and text[0].endswith(":key/*"):
            return True
    return False
