"""Reading one resource as CloudFormation will see it, tolerant of tokens.

While the pack validates a synthesis (through ``Validations``), rules read each resource from the
synthesized template, so ``add_property_override`` and ``add_override`` are seen. Called directly on
a construct tree (unit tests, ``evaluate`` on an app) they render the L1's typed properties
instead, where raw overrides are invisible (jsii does not expose them). Values are resolved with
``Stack.of(node).resolve``; references to resources in another stack cannot be followed.
"""
from __future__ import annotations

import os
from contextvars import ContextVar
from typing import Any, Callable, Mapping

from aws_cdk import CfnDeletionPolicy, CfnResource, Stack, Stage

from ..contract import EPHEMERAL_METADATA_KEY

CLUSTER = "AWS::EKS::Cluster"
FARGATE_PROFILE = "AWS::EKS::FargateProfile"
KMS_KEY = "AWS::KMS::Key"
KMS_REPLICA_KEY = "AWS::KMS::ReplicaKey"
KMS_ALIAS = "AWS::KMS::Alias"
IAM_ROLE = "AWS::IAM::Role"
IAM_POLICY = "AWS::IAM::Policy"
IAM_MANAGED_POLICY = "AWS::IAM::ManagedPolicy"
IAM_ROLE_POLICY = "AWS::IAM::RolePolicy"
LOG_GROUP = "AWS::Logs::LogGroup"

#: Templates of the synthesis being validated (absolute path -> template), set by the pack's
#: ``validate`` so the rules see exactly what is deployed, ``add_property_override`` included.
SYNTHESIZED: ContextVar[Mapping[str, Mapping[str, Any]]] = ContextVar("SYNTHESIZED", default={})
#: Lookups that cannot change during one validation run, memoised for its duration: each reads the
#: construct tree through jsii round trips, and rules ask for them once per resource.
RUN_CACHE: ContextVar[dict[Any, Any] | None] = ContextVar("RUN_CACHE", default=None)


def _memoised(kind: str, key: Any, compute: Callable[[], Any]) -> Any:
    cache = RUN_CACHE.get()
    if cache is None:
        return compute()
    if (kind, key) not in cache:
        cache[(kind, key)] = compute()
    return cache[(kind, key)]


def _synthesized(node: CfnResource) -> Mapping[str, Any] | None:
    """The node's resource in the template being validated, if any."""
    templates = SYNTHESIZED.get()
    if not templates:
        return None
    return _memoised("synthesized", id(node), lambda: _synthesized_uncached(node, templates))


def _synthesized_uncached(node: CfnResource, templates: Mapping[str, Any]) -> Mapping[str, Any] | None:
    stack = Stack.of(node)
    template = templates.get(os.path.realpath(os.path.join(Stage.of(stack).outdir, stack.template_file)))
    resource = (template or {}).get("Resources", {}).get(stack.resolve(node.logical_id))
    return resource if isinstance(resource, Mapping) else None


def properties(node: CfnResource) -> dict[str, Any]:
    """The resource's properties in CloudFormation casing, resolved in its stack.

    From the synthesized template while the pack validates a synthesis; otherwise rendered from
    the L1 — resolved before rendering, as CfnResource does at synth: the L1 validators reject
    unresolved tokens (a parameter where a boolean is expected) but accept their intrinsics.
    """
    synthesized = _synthesized(node)
    if synthesized is not None:
        return dict(synthesized.get("Properties") or {})
    stack = Stack.of(node)
    rendered = node._render_properties(stack.resolve(node._cfn_properties))  # protected CfnResource API
    resolved = stack.resolve(rendered)
    return resolved if isinstance(resolved, dict) else {}


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def as_bool(value: Any) -> bool | None:
    """True/False for a known boolean (CloudFormation also accepts "true"/"false"), else None."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def referenced_logical_id(value: Any) -> str | None:
    """The logical id behind ``{"Ref": id}`` or ``{"Fn::GetAtt": [id, attr]}``."""
    if not isinstance(value, dict) or len(value) != 1:
        return None
    if isinstance(value.get("Ref"), str):
        return value["Ref"]
    get_att = value.get("Fn::GetAtt")
    if isinstance(get_att, list) and get_att and isinstance(get_att[0], str):
        return get_att[0]
    if isinstance(get_att, str):
        return get_att.split(".", 1)[0]
    return None


def all_referenced_logical_ids(value: Any) -> set[str]:
    """Every logical id referenced anywhere inside a resolved value."""
    found: set[str] = set()
    if isinstance(value, dict):
        direct = referenced_logical_id(value)
        if direct:
            found.add(direct)
        sub = value.get("Fn::Sub")
        template = sub[0] if isinstance(sub, list) and sub else sub
        if isinstance(template, str):
            for part in template.split("${")[1:]:
                found.add(part.split("}", 1)[0].split(".", 1)[0])
        for item in value.values():
            found |= all_referenced_logical_ids(item)
    elif isinstance(value, list):
        for item in value:
            found |= all_referenced_logical_ids(item)
    return found


def literal_text(value: Any) -> tuple[str, bool] | None:
    """``(text, fully_literal)`` for a string, ``Fn::Join`` or ``Fn::Sub``; None otherwise.

    Non-literal parts of a join become ``"?"`` so that ``":key/"`` or ``":alias/"`` can still be
    recognised in ``arn:${AWS::Partition}:kms:...``.
    """
    if isinstance(value, str):
        return value, True
    if isinstance(value, dict) and len(value) == 1:
        join = value.get("Fn::Join")
        if isinstance(join, list) and len(join) == 2 and isinstance(join[1], list):
            separator = join[0] if isinstance(join[0], str) else ""
            return separator.join(p if isinstance(p, str) else "?" for p in join[1]), False
        sub = value.get("Fn::Sub")
        template = sub[0] if isinstance(sub, list) and sub else sub
        if isinstance(template, str):
            return template, False
    return None


def stack_resources(node: CfnResource) -> dict[str, CfnResource]:
    """Every CfnResource of the node's own stack (not nested stacks), by logical id."""
    stack = Stack.of(node)
    return _memoised("stack-resources", id(stack), lambda: _stack_resources_uncached(stack))


def _stack_resources_uncached(stack: Stack) -> dict[str, CfnResource]:
    resources: dict[str, CfnResource] = {}
    for construct in stack.node.find_all():
        if isinstance(construct, CfnResource) and Stack.of(construct) is stack:
            resources[stack.resolve(construct.logical_id)] = construct
    return resources


def logical_id_of(node: CfnResource) -> str:
    return Stack.of(node).resolve(node.logical_id)


def is_ephemeral(node: CfnResource) -> bool:
    synthesized = _synthesized(node)
    if synthesized is not None:
        marker = (synthesized.get("Metadata") or {}).get(EPHEMERAL_METADATA_KEY)
    else:
        marker = node.get_metadata(EPHEMERAL_METADATA_KEY)
    if isinstance(marker, str):
        return marker.lower() not in ("", "false", "0", "no")
    return bool(marker)


_POLICY_NAMES = {
    CfnDeletionPolicy.RETAIN: "Retain",
    CfnDeletionPolicy.RETAIN_EXCEPT_ON_CREATE: "RetainExceptOnCreate",
    CfnDeletionPolicy.DELETE: "Delete",
    CfnDeletionPolicy.SNAPSHOT: "Snapshot",
}


def replacement_policies(node: CfnResource) -> tuple[str | None, str | None]:
    """``(DeletionPolicy, UpdateReplacePolicy)`` as CloudFormation writes them."""
    synthesized = _synthesized(node)
    if synthesized is not None:
        return synthesized.get("DeletionPolicy"), synthesized.get("UpdateReplacePolicy")
    options = node.cfn_options
    return _POLICY_NAMES.get(options.deletion_policy), _POLICY_NAMES.get(options.update_replace_policy)
