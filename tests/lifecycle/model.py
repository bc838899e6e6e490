"""A small model of CloudFormation's stack lifecycle over synthesized templates (no AWS).

What it models, and the AWS documentation behind each fact, is in docs/lifecycle.md. In short:

- **Dependencies** come from ``Ref``, ``Fn::GetAtt`` (both forms), ``Fn::Sub`` (both forms),
  ``DependsOn`` and, across stacks, ``Fn::ImportValue``. Resources are created in dependency order
  and deleted in reverse.
- **Create** with a failure injected at one resource: with no durations known, every resource is
  assumed to take the same time, so what exists when the failure happens is everything that does not
  depend on the failed resource and sits no deeper in the dependency graph than it. The rollback
  deletes that in reverse order, honouring ``DeletionPolicy`` (``Retain``, ``RetainExceptOnCreate``,
  ``Snapshot``, ``Delete``).
- **Delete** of a stack, **update** and **update rollback** (``UpdateReplacePolicy`` on replacement).
- **Service rules** decide whether one deletion or creation succeeds: each is a small named function
  (``DELETE_RULES``, ``CREATE_RULES``) returning ``None`` or the reason AWS would give.
- **Handlers** of the two custom resources the product defines are modelled by what they are
  specified to do (``Custom::EnvelopeEncryptionVerification``, ``Custom::ClusterDeletionProtection``).

The model is a reading aid and a regression net, not an emulator: see docs/lifecycle.md for what it
cannot know (durations, eventual consistency, API details only an account shows).
"""
from __future__ import annotations

import copy
import functools
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

VERIFICATION_TYPE = "Custom::EnvelopeEncryptionVerification"
PROTECTION_TYPE = "Custom::ClusterDeletionProtection"
#: The handler marker of the rollback-safe verifier (docs/lifecycle.md, "Update rollback").
ROLLBACK_SAFE_PROPERTY = "RollbackSafe"
TEARDOWN_HINT = "deploy with -c deletion_protection=false, then destroy"

_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")
_SNAPSHOT_TYPES = {
    "AWS::EC2::Volume", "AWS::ElastiCache::CacheCluster", "AWS::ElastiCache::ReplicationGroup",
    "AWS::RDS::DBInstance", "AWS::RDS::DBCluster", "AWS::Redshift::Cluster", "AWS::Neptune::DBCluster",
    "AWS::DocDB::DBCluster",
}
#: Resource types whose physical name is a property: a name taken by a survivor cannot be created again.
_GLOBAL_NAMES = {
    "AWS::EKS::Cluster": "Name",
    "AWS::KMS::Alias": "AliasName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::SSM::Parameter": "Name",
}
#: Names that are unique only within one cluster.
_CLUSTER_SCOPED_NAMES = {
    "AWS::EKS::FargateProfile": "FargateProfileName",
    "AWS::EKS::Addon": "AddonName",
    "AWS::EKS::AccessEntry": "PrincipalArn",
}
#: EC2 network objects that refuse deletion while something that still exists uses them.
_NETWORK_TYPES = {
    "AWS::EC2::SecurityGroup", "AWS::EC2::Subnet", "AWS::EC2::VPC", "AWS::EC2::EIP",
    "AWS::EC2::InternetGateway", "AWS::EC2::RouteTable", "AWS::EC2::NatGateway",
}
_POLICY_TYPES = {"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"}
_PSEUDO_VALUES = {"AWS::Region": "REGION", "AWS::AccountId": "ACCOUNT", "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"}


# --------------------------------------------------------------------------- template reading
def _walk(node: Any, visit: Callable[[str, Any], bool]) -> None:
    """Visit every single-key intrinsic ``{key: arg}`` in ``node``; ``visit`` returns True when it
    has handled the intrinsic (its argument is then not walked further)."""
    if isinstance(node, list):
        for item in node:
            _walk(item, visit)
    elif isinstance(node, dict):
        if len(node) == 1:
            (key, arg), = node.items()
            if visit(key, arg):
                return
        for item in node.values():
            _walk(item, visit)


def references(value: Any) -> set[str]:
    """Logical ids (and pseudo parameters) that ``value`` refers to through Ref, GetAtt or Sub."""
    found: set[str] = set()

    def visit(key: str, arg: Any) -> bool:
        if key == "Ref" and isinstance(arg, str):
            found.add(arg)
        elif key == "Fn::GetAtt":
            found.add(arg[0] if isinstance(arg, list) else str(arg).split(".", 1)[0])
            if isinstance(arg, list):
                _walk(arg[1:], visit)
        elif key == "Fn::Sub":
            text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1] if len(arg) > 1 else {})
            for name in _SUB_VARIABLE.findall(text):
                name = name.split(".", 1)[0].strip()
                if name not in variables:
                    found.add(name)
            _walk(variables, visit)
        else:
            return False
        return True

    _walk(value, visit)
    return found


def imports(value: Any) -> set[str]:
    """Export names ``value`` imports with ``Fn::ImportValue`` (only names that resolve to text)."""
    found: set[str] = set()

    def visit(key: str, arg: Any) -> bool:
        if key != "Fn::ImportValue":
            return False
        name = resolve_text(arg, stack_name="")
        if name is not None:
            found.add(name)
        return True

    _walk(value, visit)
    return found


def resolve_text(value: Any, *, stack_name: str) -> str | None:
    """A literal value as text, or ``None`` when it depends on a resource (a generated name)."""
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, dict) or len(value) != 1:
        return None
    (key, arg), = value.items()
    if key == "Ref" and arg == "AWS::StackName":
        return stack_name
    if key == "Ref" and arg in _PSEUDO_VALUES:
        return _PSEUDO_VALUES[arg]
    if key == "Fn::Join" and isinstance(arg, list) and len(arg) == 2:
        parts = [resolve_text(part, stack_name=stack_name) for part in arg[1]]
        return None if None in parts else str(arg[0]).join(parts)  # type: ignore[arg-type]
    if key == "Fn::Sub" and isinstance(arg, str):
        pseudo = {**_PSEUDO_VALUES, "AWS::StackName": stack_name}
        names = [name.strip() for name in _SUB_VARIABLE.findall(arg)]
        if all(name in pseudo for name in names):
            return _SUB_VARIABLE.sub(lambda m: pseudo[m.group(1).strip()], arg)
    return None


@dataclass(frozen=True)
class Resource:
    logical_id: str
    type: str
    properties: dict[str, Any]
    deletion_policy: str
    update_replace_policy: str
    #: Everything this resource waits for (DependsOn and property references within the stack).
    depends_on: frozenset[str]
    #: What it uses at run time: property references only (DependsOn orders, it does not use).
    uses: frozenset[str]
    imports: frozenset[str]

    @property
    def is_custom(self) -> bool:
        return self.type.startswith("Custom::") or self.type == "AWS::CloudFormation::CustomResource"


class Template:
    """One stack's synthesized template, read for the lifecycle model."""

    def __init__(self, stack_name: str, template: dict[str, Any], *, termination_protection: bool = False) -> None:
        self.stack_name = stack_name
        self.raw = template
        self.termination_protection = termination_protection
        raw_resources: dict[str, Any] = template.get("Resources", {})
        names = set(raw_resources)
        self.resources: dict[str, Resource] = {}
        for logical_id, body in raw_resources.items():
            props = body.get("Properties", {}) or {}
            explicit = body.get("DependsOn", [])
            explicit = [explicit] if isinstance(explicit, str) else list(explicit)
            uses = frozenset(ref for ref in references(props) if ref in names)
            self.resources[logical_id] = Resource(
                logical_id=logical_id,
                type=body["Type"],
                properties=props,
                deletion_policy=body.get("DeletionPolicy", _default_deletion_policy(body)),
                update_replace_policy=body.get("UpdateReplacePolicy", "Delete"),
                depends_on=uses | frozenset(d for d in explicit if d in names),
                uses=uses,
                imports=frozenset(imports(props)),
            )
        #: export name -> logical ids its value refers to.
        self.exports: dict[str, frozenset[str]] = {}
        for output in template.get("Outputs", {}).values():
            export = output.get("Export")
            if export:
                name = resolve_text(export.get("Name"), stack_name=stack_name)
                if name is not None:
                    self.exports[name] = frozenset(r for r in references(output.get("Value")) if r in names)

    @functools.cached_property
    def order(self) -> list[str]:
        """Creation order: dependencies first, ties broken by logical id (deterministic)."""
        remaining = {lid: set(r.depends_on) for lid, r in self.resources.items()}
        order: list[str] = []
        while remaining:
            ready = sorted(lid for lid, deps in remaining.items() if not deps)
            if not ready:
                raise ValueError(f"circular dependency among {sorted(remaining)}")
            for lid in ready:
                order.append(lid)
                del remaining[lid]
            for deps in remaining.values():
                deps.difference_update(ready)
        return order

    @functools.cached_property
    def _ancestors(self) -> dict[str, frozenset[str]]:
        result: dict[str, frozenset[str]] = {}
        for lid in self.order:
            deps = self.resources[lid].depends_on
            result[lid] = frozenset(deps.union(*(result[d] for d in deps)))
        return result

    def ancestors(self, logical_id: str) -> frozenset[str]:
        """Everything ``logical_id`` waits for, transitively."""
        return self._ancestors[logical_id]

    @functools.cached_property
    def depth(self) -> dict[str, int]:
        """Longest dependency chain below each resource (its start time with unit durations)."""
        depth: dict[str, int] = {}
        for lid in self.order:
            deps = self.resources[lid].depends_on
            depth[lid] = 1 + max((depth[d] for d in deps), default=-1)
        return depth

    def of_type(self, cfn_type: str) -> list[Resource]:
        return [r for r in self.resources.values() if r.type == cfn_type]

    def with_changes(self, changes: Callable[[dict[str, Any]], None]) -> "Template":
        """A copy of this template with ``changes`` applied to its JSON (for update scenarios)."""
        raw = copy.deepcopy(self.raw)
        changes(raw)
        return Template(self.stack_name, raw, termination_protection=self.termination_protection)


def _default_deletion_policy(body: dict[str, Any]) -> str:
    # The documented exception: RDS clusters, and instances outside a cluster, default to Snapshot.
    if body["Type"] == "AWS::RDS::DBCluster" or (
        body["Type"] == "AWS::RDS::DBInstance" and "DBClusterIdentifier" not in body.get("Properties", {})
    ):
        return "Snapshot"
    return "Delete"


# --------------------------------------------------------------------------- world state
@dataclass(eq=False)
class Thing:
    """One physical resource in the account; it may outlive its stack (retained, pending deletion)."""

    stack: str
    logical_id: str
    type: str
    properties: dict[str, Any]
    deletion_policy: str
    update_replace_policy: str
    uses: set["Thing"] = field(default_factory=set)
    #: The stack operation that created it (RetainExceptOnCreate keys on this).
    created_by: int = 0
    in_stack: bool = True
    #: Service-side state: cluster "status"/"protected", key "pending_deletion".
    state: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.stack}/{self.logical_id} ({self.type})"

    @property
    def pending_deletion(self) -> bool:
        return bool(self.state.get("pending_deletion"))


@dataclass
class Stack:
    name: str
    template: Template
    status: str
    things: dict[str, Thing]
    termination_protection: bool


@dataclass
class Outcome:
    """The result of one stack operation."""

    operation: str
    stack: str
    status: str
    reasons: list[str] = field(default_factory=list)
    deleted: list[Thing] = field(default_factory=list)
    retained: list[Thing] = field(default_factory=list)
    snapshots: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status in {"CREATE_COMPLETE", "UPDATE_COMPLETE", "DELETE_COMPLETE"}


class World:
    """An account and region: stacks, and every physical resource, also those outside any stack."""

    def __init__(self) -> None:
        self.stacks: dict[str, Stack] = {}
        self.things: list[Thing] = []
        #: External causes in force (e.g. "verification": the key was disabled by hand).
        self.faults: set[str] = set()
        self._operation = 0

    # ---- queries
    def live(self) -> list[Thing]:
        return list(self.things)

    def survivors(self) -> list[Thing]:
        """Physical resources no stack owns any more (retained, or keys pending deletion)."""
        return [t for t in self.things if not t.in_stack]

    def users_of(self, thing: Thing) -> list[Thing]:
        return [t for t in self.things if thing in t.uses and t is not thing]

    def broken(self) -> list[str]:
        """Existing resources that use something deleted (or a key pending deletion)."""
        problems = []
        for t in self.things:
            if t.pending_deletion:
                continue
            for used in sorted(t.uses, key=lambda u: u.label):
                if used not in self.things:
                    kind = "its IAM role" if used.type == "AWS::IAM::Role" else "a deleted resource"
                    problems.append(f"{t.label} is broken: it uses {kind} {used.label}")
                elif used.pending_deletion:
                    problems.append(f"{t.label} is broken: it uses {used.label}, pending deletion")
        return problems

    def _next_operation(self) -> int:
        self._operation += 1
        return self._operation

    # ---- operations
    def create(self, template: Template, *, fail_at: str | None = None) -> Outcome:
        """CreateStack; ``fail_at`` injects a failure at that resource. Rolls back on any failure."""
        name = template.stack_name
        if name in self.stacks:
            raise ValueError(f"stack {name} exists ({self.stacks[name].status}); use deploy()")
        op = self._next_operation()
        stack = Stack(name, template, "CREATE_IN_PROGRESS", {}, template.termination_protection)
        self.stacks[name] = stack
        outcome = Outcome("create", name, "CREATE_COMPLETE")
        failed: str | None = None
        for lid in template.order:
            reason = f"injected failure at {lid}" if lid == fail_at else self._create_refusal(stack, lid)
            if reason:
                failed = lid
                outcome.reasons.append(f"CREATE_FAILED {lid}: {reason}")
                break
        if failed is None:
            for lid in template.order:
                self._materialise(stack, lid, op)
            stack.status = "CREATE_COMPLETE"
            return outcome
        # With unit durations, whatever does not wait for the failed resource and starts no later
        # than it exists when the failure is reported; everything later is never started.
        cutoff = template.depth[failed]
        for lid in template.order:
            if lid != failed and failed not in template.ancestors(lid) and template.depth[lid] <= cutoff:
                if self._create_refusal(stack, lid) is None:
                    self._materialise(stack, lid, op)
        resource = template.resources[failed]
        if resource.is_custom:
            # CloudFormation still sends Delete for a custom resource whose Create failed.
            self._materialise(stack, failed, op, create_failed=True)
        outcome.operation = "create+rollback"
        self._delete_things(stack, outcome, rollback_of=op)
        stack.status = "ROLLBACK_FAILED" if stack.things else "ROLLBACK_COMPLETE"
        outcome.status = stack.status
        return outcome

    def delete(self, stack_name: str) -> Outcome:
        """DeleteStack."""
        stack = self.stacks[stack_name]
        outcome = Outcome("delete", stack_name, "DELETE_COMPLETE")
        if stack.termination_protection:
            outcome.status = stack.status
            outcome.reasons.append(
                f"Stack [{stack_name}] cannot be deleted while TerminationProtection is enabled"
            )
            return outcome
        importers = [
            other.name for other in self.stacks.values()
            if other is not stack and other.status not in {"DELETE_COMPLETE"}
            and any(r.imports & set(stack.template.exports) for r in other.template.resources.values())
            and other.things
        ]
        if importers:
            outcome.status = stack.status
            outcome.reasons.append(f"exports of {stack_name} are in use by {', '.join(sorted(importers))}")
            return outcome
        self._delete_things(stack, outcome, rollback_of=None)
        stack.status = "DELETE_FAILED" if stack.things else "DELETE_COMPLETE"
        outcome.status = stack.status
        if not stack.things:
            del self.stacks[stack_name]
        return outcome

    def deploy(self, template: Template, **kwargs: Any) -> Outcome:
        """What ``cdk deploy`` does: create, re-create a stack whose creation failed, or update."""
        existing = self.stacks.get(template.stack_name)
        if existing is None:
            return self.create(template, **kwargs)
        if existing.status == "ROLLBACK_COMPLETE":
            # The CDK CLI deletes a stack whose creation failed before creating it again.
            gone = self.delete(template.stack_name)
            if not gone.ok:
                return gone
            return self.create(template, **kwargs)
        return self.update(template, **kwargs)

    def make_deploy(self, template: Template, **kwargs: Any) -> Outcome:
        """What ``make deploy`` does: lift the termination protection of a stack that a failed first
        deploy left in ROLLBACK_COMPLETE (it holds nothing; the CLI turned protection on before it
        executed the change set), then ``cdk deploy`` (eks_envelope.workstation.release_failed_stacks)."""
        existing = self.stacks.get(template.stack_name)
        if existing is not None and existing.status == "ROLLBACK_COMPLETE":
            existing.termination_protection = False
        return self.deploy(template, **kwargs)

    def update(self, template: Template, *, fail_at: str | None = None, replace: Iterable[str] = ()) -> Outcome:
        """UpdateStack to ``template``; ``replace`` names resources whose change requires replacement."""
        name = template.stack_name
        stack = self.stacks[name]
        outcome = Outcome("update", name, "UPDATE_COMPLETE")
        if stack.status not in {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE"}:
            outcome.status = stack.status
            outcome.reasons.append(f"Stack {name} is in {stack.status} state and can not be updated")
            return outcome
        op = self._next_operation()
        old_template, replace = stack.template, set(replace)
        old_props = {lid: t.properties for lid, t in stack.things.items()}
        done: list[tuple[str, str, Thing | None]] = []  # (kind, logical id, replaced thing)
        stack.template = template
        failed_reason = None
        for lid in template.order:
            resource = template.resources[lid]
            if lid not in stack.things:
                kind = "create"
            elif lid in replace:
                kind = "replace"
            elif resource.properties != old_props[lid]:
                kind = "update"
            else:
                continue
            failed_reason = f"injected failure at {lid}" if lid == fail_at else None
            if failed_reason is None and kind in {"create", "replace"}:
                if kind == "replace" and self._fixed_name(stack, lid) is not None:
                    failed_reason = (
                        "CloudFormation cannot update a stack when a custom-named resource requires replacing"
                    )
                else:
                    failed_reason = self._create_refusal(stack, lid, replacing=kind == "replace")
            if failed_reason is None and kind == "update":
                failed_reason = self._run_update_handler(stack.things[lid], resource.properties, old_props[lid])
            if failed_reason:
                outcome.reasons.append(f"UPDATE_FAILED {lid}: {failed_reason}")
                if kind == "update":
                    # The resource that failed its update is rolled back too: its provider gets an
                    # Update back to the old properties.
                    done.append((kind, lid, None))
                break
            if kind == "create":
                self._materialise(stack, lid, op)
                done.append((kind, lid, None))
            elif kind == "replace":
                old = stack.things.pop(lid)
                self._materialise(stack, lid, op)
                done.append((kind, lid, old))
            else:
                thing = stack.things[lid]
                self._apply_update(thing, resource.properties)
                done.append((kind, lid, None))
        if failed_reason is None:
            for lid, thing in stack.things.items():  # policies follow the template without an update
                if lid in template.resources:
                    thing.deletion_policy = template.resources[lid].deletion_policy
                    thing.update_replace_policy = template.resources[lid].update_replace_policy
            stack.termination_protection = template.termination_protection
            self._cleanup_after_update(stack, old_template, done, outcome)
            stack.status = "UPDATE_COMPLETE"  # a failed cleanup does not fail an update
            return outcome
        outcome.operation = "update+rollback"
        stack.template = old_template
        rollback_failed = False
        for kind, lid, old in reversed(done):
            if kind == "update":
                thing = stack.things[lid]
                current = template.resources[lid].properties
                reason = self._run_update_handler(thing, old_props[lid], current, rollback=True)
                if reason:
                    outcome.reasons.append(f"UPDATE_ROLLBACK_FAILED {lid}: {reason}")
                    rollback_failed = True
                    break
                self._apply_update(thing, old_props[lid])
            elif kind == "replace":
                new = stack.things.pop(lid)
                self._forget(new, outcome)
                stack.things[lid] = old  # type: ignore[assignment]
        if not rollback_failed:
            created = {lid for kind, lid, _ in done if kind == "create"}
            doomed = {lid: stack.things[lid] for lid in created}
            self._delete_things(stack, outcome, rollback_of=op, only=doomed, template=template)
            rollback_failed = any(lid in stack.things for lid in created)
        stack.status = "UPDATE_ROLLBACK_FAILED" if rollback_failed else "UPDATE_ROLLBACK_COMPLETE"
        outcome.status = stack.status
        return outcome

    # ---- internals
    def _materialise(self, stack: Stack, lid: str, op: int, *, create_failed: bool = False) -> Thing:
        resource = stack.template.resources[lid]
        thing = Thing(
            stack=stack.name, logical_id=lid, type=resource.type, properties=resource.properties,
            deletion_policy=resource.deletion_policy, update_replace_policy=resource.update_replace_policy,
            uses={stack.things[u] for u in resource.uses if u in stack.things} | self._imported(resource),
            created_by=op,
        )
        thing.state["name_key"] = self._fixed_name(stack, lid)
        stack.things[lid] = thing
        self.things.append(thing)
        if create_failed:
            thing.state["create_failed"] = True
        else:
            self._on_created(thing)
        return thing

    def _imported(self, resource: Resource) -> set[Thing]:
        found: set[Thing] = set()
        for other in self.stacks.values():
            for export in resource.imports & set(other.template.exports):
                found |= {other.things[lid] for lid in other.template.exports[export] if lid in other.things}
        return found

    def _on_created(self, thing: Thing) -> None:
        if thing.type == "AWS::EKS::Cluster":
            thing.state.update(status="ACTIVE", protected=_is_true(thing.properties.get("DeletionProtection")))
        elif thing.type == "AWS::KMS::Key":
            thing.state.update(key_state="Enabled")
        elif thing.type == PROTECTION_TYPE:
            cluster = self._target_cluster(thing)
            if cluster is not None:
                cluster.state["protected"] = _is_true(thing.properties.get("Protect"))

    def _apply_update(self, thing: Thing, properties: dict[str, Any]) -> None:
        thing.properties = properties
        self._on_created(thing)

    def _run_update_handler(
        self, thing: Thing, new: dict[str, Any], old: dict[str, Any], *, rollback: bool = False
    ) -> str | None:
        """What the resource's provider answers to an Update (``None`` = success)."""
        if thing.type != VERIFICATION_TYPE:
            return None
        # The handler code running during an update rollback is the newest deployed one: the
        # verifier function rolls back after the resources that depend on it.
        code_is_rollback_safe = _rollback_safe(old if rollback else new)
        if code_is_rollback_safe and rollback:
            return None  # the stack is UPDATE_ROLLBACK_IN_PROGRESS: the handler answers without re-verifying
        if "verification" in self.faults:
            return "verification failed: key is Disabled (an external cause still in force)"
        return None

    def _target_cluster(self, thing: Thing) -> Thing | None:
        for used in thing.uses:
            if used.type == "AWS::EKS::Cluster":
                return used
        name = resolve_text(thing.properties.get("ClusterName"), stack_name=thing.stack)
        for other in self.things:
            if other.type == "AWS::EKS::Cluster" and self._name_of(other) == name:
                return other
        return None

    def _forget(self, thing: Thing, outcome: Outcome) -> None:
        if thing.type == "AWS::KMS::Key":
            thing.state["pending_deletion"] = True
            thing.in_stack = False
        else:
            self.things.remove(thing)
        outcome.deleted.append(thing)

    def _delete_things(
        self, stack: Stack, outcome: Outcome, *, rollback_of: int | None,
        only: dict[str, Thing] | None = None, template: Template | None = None,
    ) -> None:
        """Delete (or retain) the stack's things in reverse dependency order."""
        template = template or stack.template
        targets = dict(only if only is not None else stack.things)
        order = [lid for lid in template.order if lid in targets] + sorted(set(targets) - set(template.order))
        for lid in reversed(order):
            thing = targets[lid]
            blocked = [
                other for olid, other in stack.things.items()
                if olid in targets and olid != lid and lid in _depends(template, olid)
            ]
            if blocked:
                outcome.reasons.append(
                    f"{thing.label} not deleted: {', '.join(sorted(b.logical_id for b in blocked))} still exist(s)"
                )
                continue
            policy = thing.deletion_policy
            if policy == "RetainExceptOnCreate":
                policy = "Delete" if rollback_of is not None and thing.created_by == rollback_of else "Retain"
            if policy == "Retain":
                stack.things.pop(lid)
                thing.in_stack = False
                outcome.retained.append(thing)
                continue
            reason = self._delete_refusal(stack, template, thing)
            if reason:
                outcome.reasons.append(f"DELETE_FAILED {lid}: {reason}")
                continue
            if policy == "Snapshot" and thing.type in _SNAPSHOT_TYPES:
                outcome.snapshots.append(f"snapshot of {thing.label}")
            stack.things.pop(lid)
            self._on_deleted(thing)
            self._forget(thing, outcome)

    def _on_deleted(self, thing: Thing) -> None:
        if thing.type == PROTECTION_TYPE and not thing.state.get("create_failed"):
            cluster = self._target_cluster(thing)
            if cluster is not None:
                cluster.state["protected"] = False

    def _cleanup_after_update(self, stack: Stack, old_template: Template, done: list, outcome: Outcome) -> None:
        for kind, lid, old in done:
            if kind == "replace" and old is not None:
                if old.update_replace_policy == "Retain":
                    old.in_stack = False
                    outcome.retained.append(old)
                else:
                    if old.update_replace_policy == "Snapshot" and old.type in _SNAPSHOT_TYPES:
                        outcome.snapshots.append(f"snapshot of {old.label}")
                    self._forget(old, outcome)
        removed = {lid: t for lid, t in stack.things.items() if lid not in stack.template.resources}
        if removed:
            self._delete_things(stack, outcome, rollback_of=None, only=removed, template=old_template)

    def _create_refusal(self, stack: Stack, lid: str, *, replacing: bool = False) -> str | None:
        for rule in CREATE_RULES:
            reason = rule(self, stack, lid)
            if reason:
                return f"{rule.__name__}: {reason}"
        return None

    def _delete_refusal(self, stack: Stack, template: Template, thing: Thing) -> str | None:
        for rule in DELETE_RULES:
            reason = rule(self, stack, template, thing)
            if reason:
                return f"{rule.__name__}: {reason}"
        return None

    def _name_of(self, thing: Thing) -> str | None:
        prop = _GLOBAL_NAMES.get(thing.type)
        return resolve_text(thing.properties.get(prop), stack_name=thing.stack) if prop else None

    def _fixed_name(self, stack: Stack, lid: str) -> tuple[str, str] | None:
        resource = stack.template.resources[lid]
        if resource.type in _GLOBAL_NAMES:
            name = resolve_text(resource.properties.get(_GLOBAL_NAMES[resource.type]), stack_name=stack.name)
            return (resource.type, name) if name is not None else None
        if resource.type in _CLUSTER_SCOPED_NAMES:
            name = resolve_text(resource.properties.get(_CLUSTER_SCOPED_NAMES[resource.type]), stack_name=stack.name)
            cluster_ref = resource.properties.get("ClusterName")
            cluster = resolve_text(cluster_ref, stack_name=stack.name)
            if cluster is None and isinstance(cluster_ref, dict) and cluster_ref.get("Ref") in stack.template.resources:
                cluster_resource = stack.template.resources[cluster_ref["Ref"]]
                cluster = resolve_text(cluster_resource.properties.get("Name"), stack_name=stack.name)
            if name is not None and cluster is not None:
                return (resource.type, f"{cluster}/{name}")
        return None



def _depends(template: Template, lid: str) -> frozenset[str]:
    return template.resources[lid].depends_on if lid in template.resources else frozenset()


def _is_true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _rollback_safe(properties: dict[str, Any]) -> bool:
    return _is_true(properties.get(ROLLBACK_SAFE_PROPERTY))


# --------------------------------------------------------------------------- service rules
def fixed_name_is_free(world: World, stack: Stack, lid: str) -> str | None:
    """Custom names are unique: a survivor (or another stack's resource) holding the name fails creation."""
    key = world._fixed_name(stack, lid)
    if key is None:
        return None
    for other in world.things:
        if not other.pending_deletion and other.state.get("name_key") == key:
            where = "retained outside any stack" if not other.in_stack else f"in stack {other.stack}"
            return f"{key[1]} already exists ({other.logical_id}, {where})"
    return None


def imported_exports_exist(world: World, stack: Stack, lid: str) -> str | None:
    """Fn::ImportValue resolves only an export of a stack that exists in the region."""
    wanted = stack.template.resources[lid].imports
    available = {name for s in world.stacks.values() if s is not stack for name in s.template.exports}
    missing = sorted(wanted - available)
    return f"No export named {', '.join(missing)} found" if missing else None


def eks_refuses_deleting_a_protected_active_cluster(world: World, stack: Stack, template: Template, thing: Thing) -> str | None:
    """EKS deletion protection: an ACTIVE protected cluster cannot be deleted (CREATING/FAILED/DELETING can)."""
    if thing.type == "AWS::EKS::Cluster" and thing.state.get("protected") and thing.state.get("status") == "ACTIVE":
        return f"InvalidRequestException: cluster {world._name_of(thing)} has deletion protection enabled"
    return None


def network_object_in_use(world: World, stack: Stack, template: Template, thing: Thing) -> str | None:
    """A security group, subnet, VPC (…) cannot be deleted while a resource that still exists uses it."""
    if thing.type not in _NETWORK_TYPES:
        return None
    users = world.users_of(thing)
    if users:
        return "DependencyViolation: still used by " + ", ".join(sorted(u.label for u in users))
    return None


def custom_resource_delete_reaches_its_handler(world: World, stack: Stack, template: Template, thing: Thing) -> str | None:
    """A custom resource's Delete needs its service token function and what lets it be invoked.

    With parallel deletion, anything the custom resource does not (transitively) depend on may be
    gone before its Delete runs: the model counts that as a delete that may not reach the handler.
    """
    if not template.resources.get(thing.logical_id) or not template.resources[thing.logical_id].is_custom:
        return None
    needed = delivery_chain(template, thing.logical_id, create_failed=bool(thing.state.get("create_failed")))
    ancestors = template.ancestors(thing.logical_id)
    gone = sorted(lid for lid in needed if lid not in stack.things)
    racing = sorted(lid for lid in needed if lid not in ancestors)
    if gone:
        return f"Delete cannot reach its handler: {', '.join(gone)} already deleted"
    if racing:
        return (
            "Delete may not reach its handler: it does not depend on "
            + ", ".join(racing) + ", which CloudFormation may delete first"
        )
    return _custom_handler_delete(world, thing)


def _custom_handler_delete(world: World, thing: Thing) -> str | None:
    if thing.state.get("create_failed"):
        return None  # the provider framework answers Delete after a failed Create without the handler
    if thing.type == PROTECTION_TYPE and _is_true(thing.properties.get("Protect")):
        cluster = world._target_cluster(thing)
        name = world._name_of(cluster) if cluster else thing.properties.get("ClusterName")
        return f"deletion protection is on for cluster {name}: to remove it, {TEARDOWN_HINT}"
    return None


def delivery_chain(template: Template, logical_id: str, *, create_failed: bool = False) -> set[str]:
    """What a custom resource's Delete needs to reach its handler, as logical ids in ``template``.

    The service token function and its role; for the CDK provider framework also the user handler
    functions it invokes (their ARNs are in its environment) and their roles; the IAM policies
    attached to those roles and Lambda permissions on those functions. After a failed Create the
    framework answers without the handler: then only the service token function and its role count.
    """
    resources = template.resources
    token = references(resources[logical_id].properties.get("ServiceToken"))
    functions = {f for f in token if f in resources and resources[f].type == "AWS::Lambda::Function"}
    pending = list(functions)
    while pending and not create_failed:
        env = resources[pending.pop()].properties.get("Environment", {})
        for ref in references(env):
            if ref in resources and resources[ref].type == "AWS::Lambda::Function" and ref not in functions:
                functions.add(ref)
                pending.append(ref)
    roles = {
        r for f in functions for r in references(resources[f].properties.get("Role"))
        if r in resources and resources[r].type == "AWS::IAM::Role"
    }
    chain = functions | roles
    if create_failed:
        return chain
    for lid, resource in resources.items():
        if resource.type in _POLICY_TYPES and references(resource.properties.get("Roles", [])) & roles:
            chain.add(lid)
        if resource.type == "AWS::Lambda::Permission" and references(resource.properties.get("FunctionName")) & functions:
            chain.add(lid)
    for role in roles:
        for ref in references(resources[role].properties.get("ManagedPolicyArns", [])):
            if ref in resources:
                chain.add(ref)
    return chain


CREATE_RULES: list[Callable[[World, Stack, str], str | None]] = [fixed_name_is_free, imported_exports_exist]
DELETE_RULES: list[Callable[[World, Stack, Template, Thing], str | None]] = [
    custom_resource_delete_reaches_its_handler,
    eks_refuses_deleting_a_protected_active_cluster,
    network_object_in_use,
]
