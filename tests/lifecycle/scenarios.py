"""Lifecycle scenarios over one configuration's templates (a list of stacks, deployed in order).

Each function runs one scenario of issue 9 in the model (model.py) and returns what happened, so the
outcome tests assert on it and ``python -m tests.lifecycle.table`` prints the lifecycle table.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from tests.lifecycle.model import PROTECTION_TYPE, VERIFICATION_TYPE, Template, World, delivery_chain

#: What may remain after any rollback or teardown: the keys (kept, or pending deletion).
ALLOWED_SURVIVOR_TYPES = {"AWS::KMS::Key"}


def describe(world: World) -> list[str]:
    """Survivors as short text: ``Stack/LogicalId (Type) [pending deletion]``."""
    return sorted(t.label + (" [pending deletion]" if t.pending_deletion else " [kept]") for t in world.survivors())


def deployed(templates: list[Template]) -> World:
    world = World()
    for template in templates:
        outcome = world.create(template)
        assert outcome.ok, f"{template.stack_name} does not deploy in the model: {outcome.reasons}"
    return world


@dataclass
class FailedCreate:
    """A first deploy that fails at one resource, and what a redeploy then meets."""

    stack: str
    failed_at: str
    resource_type: str
    status: str
    reasons: list[str]
    survivors: list[str]
    disallowed: list[str]
    broken: list[str]
    #: `make deploy` again: termination protection of the ROLLBACK_COMPLETE stack lifted, then the CLI
    #: deletes that stack and creates it.
    redeploy_status: str
    redeploy_reasons: list[str]
    #: The same names created again once the failed stack is gone (termination protection lifted by hand).
    names_status: str
    names_reasons: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return (
            self.status == "ROLLBACK_COMPLETE" and not self.disallowed and not self.broken
            and self.names_status == "CREATE_COMPLETE"
        )


def failed_first_create(templates: list[Template]) -> list[FailedCreate]:
    """Inject a failure at every resource of every stack in turn (earlier stacks deployed fine)."""
    rows = []
    for index, template in enumerate(templates):
        for lid in template.order:
            world = deployed(templates[:index])
            outcome = world.create(template, fail_at=lid)
            survivors = describe(world)
            disallowed = sorted(t.label for t in world.survivors() if t.type not in ALLOWED_SURVIVOR_TYPES)
            broken = world.broken()
            redeploy = world.make_deploy(template) if outcome.status == "ROLLBACK_COMPLETE" else outcome

            world = deployed(templates[:index])
            world.create(template, fail_at=lid)
            stack = world.stacks.get(template.stack_name)
            if stack is not None and stack.status == "ROLLBACK_COMPLETE":
                stack.termination_protection = False
                world.delete(template.stack_name)
            names = world.create(template) if template.stack_name not in world.stacks else None
            rows.append(FailedCreate(
                stack=template.stack_name, failed_at=lid, resource_type=template.resources[lid].type,
                status=outcome.status, reasons=outcome.reasons[1:], survivors=survivors,
                disallowed=disallowed, broken=broken,
                redeploy_status=redeploy.status if redeploy is not outcome else "not possible",
                redeploy_reasons=redeploy.reasons if redeploy is not outcome else [f"stack is {outcome.status}"],
                names_status=names.status if names else f"not possible: stack is {outcome.status}",
                names_reasons=names.reasons if names else [],
            ))
    return rows


@dataclass
class Removal:
    status: str
    reasons: list[str]
    survivors: list[str]
    disallowed: list[str]
    broken: list[str]
    cluster: dict
    steps: list[str] = field(default_factory=list)
    redeploy_status: str = ""
    redeploy_reasons: list[str] = field(default_factory=list)


def _removal(world: World, templates: list[Template], outcome, steps: list[str]) -> Removal:
    clusters = [t.state for t in world.things if t.type == "AWS::EKS::Cluster"]
    return Removal(
        status=outcome.status, reasons=outcome.reasons, survivors=describe(world),
        disallowed=sorted(t.label for t in world.survivors() if t.type not in ALLOWED_SURVIVOR_TYPES),
        broken=world.broken(), cluster=dict(clusters[0]) if clusters else {}, steps=steps,
    )


def plain_delete(templates: list[Template], *, lift_termination_protection: bool = False) -> Removal:
    """Deploy every stack, then delete the last one (the cluster's) as `cdk destroy` would."""
    world = deployed(templates)
    steps = []
    if lift_termination_protection:
        world.stacks[templates[-1].stack_name].termination_protection = False
        steps.append("termination protection turned off by hand")
    outcome = world.delete(templates[-1].stack_name)
    removal = _removal(world, templates, outcome, steps + [f"delete -> {outcome.status}"])
    if outcome.status == "DELETE_COMPLETE":
        again = world.create(templates[-1])
        removal.redeploy_status, removal.redeploy_reasons = again.status, again.reasons
    return removal


def teardown(production: list[Template], teardown_variant: list[Template]) -> Removal:
    """The documented path: deploy the teardown variant over production, then destroy."""
    world = deployed(production)
    steps = []
    update = world.deploy(teardown_variant[-1])
    steps.append(f"deploy teardown variant -> {update.status}")
    if not update.ok:
        return _removal(world, production, update, steps)
    stack = world.stacks[teardown_variant[-1].stack_name]
    if stack.termination_protection:
        stack.termination_protection = False
        steps.append("termination protection still on after the teardown deploy: turned off by hand")
    outcome = world.delete(teardown_variant[-1].stack_name)
    steps.append(f"delete -> {outcome.status}")
    removal = _removal(world, production, outcome, steps)
    if outcome.status == "DELETE_COMPLETE":
        again = world.create(production[-1])
        removal.redeploy_status, removal.redeploy_reasons = again.status, again.reasons
    return removal


def verification_update_rollback(templates: list[Template]) -> tuple[str, list[str]]:
    """Deploy, disable the key by hand (an external cause), then an update that re-runs the verifier."""
    world = deployed(templates)
    world.faults.add("verification")
    target = templates[-1]
    (verification,) = target.of_type(VERIFICATION_TYPE)

    def touch(raw: dict) -> None:
        raw["Resources"][verification.logical_id]["Properties"]["ModelledChange"] = "any change the verifier re-runs on"

    outcome = world.update(target.with_changes(touch))
    return outcome.status, outcome.reasons


def handler_delete_gaps(template: Template) -> dict[str, list[str]]:
    """For each of the product's custom resources: what its Delete needs but does not depend on."""
    gaps = {}
    for cfn_type in (VERIFICATION_TYPE, PROTECTION_TYPE):
        for resource in template.of_type(cfn_type):
            chain = delivery_chain(template, resource.logical_id)
            gaps[resource.logical_id] = sorted(chain - template.ancestors(resource.logical_id))
    return gaps
