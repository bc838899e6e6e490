"""Reading one resource as CloudFormation will see it, tolerant of tokens.

While the pack validates a synthesis (through ``Validations``), rules read each resource from the
synthesized template, so ``add_property_override`` and ``add_override`` are seen. Called directly on
a construct tree (unit tests, ``evaluate`` on an app) they render the L1's typed properties
instead, where raw overrides are invisible (jsii does not expose them). Values are resolved with
the stack's ``resolve``; references to resources in another stack cannot be followed.
"""
from __future__ import annotations

import functools
import os
from contextvars import ContextVar
from typing import Any, Callable, Collection, Mapping, Sequence, TypeVar

from aws_cdk import CfnDeletionPolicy, CfnResource, Stack, Stage
from constructs import IConstruct

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

_T = TypeVar("_T")

#: Templates of the synthesis being validated (absolute path -> template), set by the pack's
#: ``validate`` so the rules see exactly what is deployed, ``add_property_override`` included.
SYNTHESIZED: ContextVar[Mapping[str, Mapping[str, Any]]] = ContextVar("SYNTHESIZED", default={})
#: Lookups that cannot change during one validation run, memoised for its duration: each reads the
#: construct tree through jsii round trips, and rules ask for them once per resource.
RUN_CACHE: ContextVar[dict[Any, Any] | None] = ContextVar("RUN_CACHE", default=None)
#: Each resource's CloudFormation type by kernel reference: it never changes, and every rule asks.
_RESOURCE_TYPES: dict[str, str] = {}
#: The type every resource of a generated L1 class has (its ``CFN_RESOURCE_TYPE_NAME``), by jsii
#: class name; None for classes that take the type as an argument (``CfnResource`` itself).
_L1_TYPES: dict[str, str | None] = {}


def kernel_ref(construct: Any) -> str:
    """The construct's reference in the jsii kernel: one per object, where Python may hold several proxies."""
    return construct.__jsii_ref__.ref


def resource_type(node: CfnResource) -> str:
    """``node.cfn_resource_type``, asked of the kernel once per L1 class, or once per resource of any other class.

    A generated L1 (``CfnKey``) always passes its class's ``CFN_RESOURCE_TYPE_NAME`` as its type.
    """
    ref = kernel_ref(node)
    kind = _RESOURCE_TYPES.get(ref)
    if kind is None:
        jsii_class = ref.rpartition("@")[0]
        if jsii_class not in _L1_TYPES:
            _L1_TYPES[jsii_class] = _l1_type(type(node), jsii_class)
        kind = _RESOURCE_TYPES[ref] = _L1_TYPES[jsii_class] or node.cfn_resource_type
    return kind


def _l1_type(python_class: type, jsii_class: str) -> str | None:
    for cls in python_class.__mro__:
        if vars(cls).get("__jsii_type__") == jsii_class:
            return cls.CFN_RESOURCE_TYPE_NAME if "CFN_RESOURCE_TYPE_NAME" in vars(cls) else None
    return None


def memoised(kind: str, key: Any, compute: Callable[[], Any]) -> Any:
    cache = RUN_CACHE.get()
    if cache is None:
        return compute()
    if (kind, key) not in cache:
        cache[(kind, key)] = compute()
    return cache[(kind, key)]


def one_run(check: Callable[[CfnResource], _T]) -> Callable[[CfnResource], _T]:
    """A rule called on its own (not by the pack) memoises its lookups for the length of the call."""

    @functools.wraps(check)
    def run(node: CfnResource) -> _T:
        if RUN_CACHE.get() is not None:
            return check(node)
        token = RUN_CACHE.set({})
        try:
            return check(node)
        finally:
            RUN_CACHE.reset(token)

    return run


def note_stacks(scope: IConstruct, constructs: Sequence[IConstruct]) -> None:
    """Tell the run which stack owns each resource of ``constructs`` (``scope``'s walk, in pre-order).

    Saves a ``Stack.of`` per resource. Below an app, a stage or a stack with no stack inside another,
    a resource's stack is the last stack before it in the walk (a subtree follows its root); else
    each stack is walked, and the innermost stack (the shortest walk) owns its resources.
    """
    cache = RUN_CACHE.get()
    stacks = [construct for construct in constructs if isinstance(construct, Stack)]
    if cache is None or not stacks:
        return
    if isinstance(scope, (Stage, Stack)) and not _any_stack_inside_another(stacks):
        owned: dict[str, list[CfnResource]] = {kernel_ref(stack): [] for stack in stacks}
        current: Stack | None = None
        for construct in constructs:
            if isinstance(construct, Stack):
                current = construct
            elif isinstance(construct, CfnResource) and current is not None:
                cache[("stack", kernel_ref(construct))] = current
                owned[kernel_ref(current)].append(construct)
        for stack in stacks:
            cache[("own-resources", kernel_ref(stack))] = owned[kernel_ref(stack)]
        return
    walks = [(stack, _members(stack)) for stack in stacks]
    for stack, members in sorted(walks, key=lambda walk: -len(walk[1])):
        for construct in members:
            if isinstance(construct, CfnResource):
                cache[("stack", kernel_ref(construct))] = stack


def _any_stack_inside_another(stacks: Sequence[Stack]) -> bool:
    if len(stacks) == 1:
        return False
    paths = [stack.node.path for stack in stacks]
    return any(inner != outer and (outer == "" or inner.startswith(f"{outer}/")) for inner in paths for outer in paths)


def prefetch_logical_ids(resources: Sequence[CfnResource]) -> None:
    """While a synthesis is validated, every resource read from it needs its logical id: one resolve per stack."""
    if not SYNTHESIZED.get() or RUN_CACHE.get() is None:
        return
    try:
        _prefetch_logical_ids(resources)
    except Exception:  # noqa: BLE001 - a rule that needs the id meets the error again, and reports it as cdk-nag does
        pass


def _prefetch_logical_ids(resources: Sequence[CfnResource]) -> None:
    by_stack: dict[str, tuple[Stack, list[CfnResource]]] = {}
    for resource in resources:
        stack = stack_of(resource)
        by_stack.setdefault(kernel_ref(stack), (stack, []))[1].append(resource)
    for stack, members in by_stack.values():
        logical_ids(stack, members)


def _members(stack: Stack) -> list[IConstruct]:
    return memoised("members", kernel_ref(stack), stack.node.find_all)


def stack_of(node: IConstruct) -> Stack:
    return memoised("stack", kernel_ref(node), lambda: Stack.of(node))


def _synthesized(node: CfnResource) -> Mapping[str, Any] | None:
    """The node's resource in the template being validated, if any."""
    templates = SYNTHESIZED.get()
    if not templates:
        return None
    return memoised("synthesized", kernel_ref(node), lambda: _synthesized_uncached(node, templates))


def _synthesized_uncached(node: CfnResource, templates: Mapping[str, Any]) -> Mapping[str, Any] | None:
    stack = stack_of(node)
    template = memoised("template", kernel_ref(stack), lambda: templates.get(
        os.path.realpath(os.path.join(Stage.of(stack).outdir, stack.template_file))))
    resource = (template or {}).get("Resources", {}).get(logical_id_of(node))
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
    return dict(memoised("rendered", kernel_ref(node), lambda: _rendered(node)))


def _rendered(node: CfnResource) -> dict[str, Any]:
    stack = stack_of(node)
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


def stack_resources(node: CfnResource, types: Collection[str] | None = None) -> dict[str, CfnResource]:
    """Every CfnResource of the node's own stack (not nested stacks), or only those of ``types``, by logical id.

    Naming the types a rule needs saves a logical id (a round trip) per other resource of the stack.
    """
    stack = stack_of(node)
    chosen = [c for c in _own_resources(stack) if types is None or resource_type(c) in types]
    return dict(zip(logical_ids(stack, chosen), chosen))


def logical_id_of(node: CfnResource) -> str:
    return logical_ids(stack_of(node), [node])[0]


def logical_ids(stack: Stack, resources: Sequence[CfnResource]) -> list[str]:
    """The resources' logical ids in ``stack``, resolved in one round trip for those the run does not know yet."""
    cache = RUN_CACHE.get()
    known: dict[Any, str] = {} if cache is None else cache
    missing = {kernel_ref(r): r for r in resources if ("logical-id", kernel_ref(r)) not in known}
    if missing:
        resolved = stack.resolve([r.logical_id for r in missing.values()])
        for ref, logical_id in zip(missing, resolved):
            known[("logical-id", ref)] = logical_id
    return [known[("logical-id", kernel_ref(r))] for r in resources]


def _own_resources(stack: Stack) -> list[CfnResource]:
    return memoised("own-resources", kernel_ref(stack), lambda: _own_resources_uncached(stack))


def _own_resources_uncached(stack: Stack) -> list[CfnResource]:
    members = _members(stack)
    nested = {
        kernel_ref(construct)
        for inner in members
        if isinstance(inner, Stack) and kernel_ref(inner) != kernel_ref(stack)
        for construct in _members(inner)
    }
    return [c for c in members if isinstance(c, CfnResource) and kernel_ref(c) not in nested]


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
