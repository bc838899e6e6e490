"""Acknowledging compliance findings: on the construct that owns them, one finding id at a time.

Three audiences read acknowledgements: cdk-nag (through ``Validations``, copied into template
metadata as ``cdk_nag.rules_to_suppress``), checkov (``Metadata.checkov.skip``) and `make scan`'s
Control Tower check (``Metadata.guard.SuppressedRules``). All are written here, all demand a reason
a reviewer can check.
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator, Mapping

from aws_cdk import Acknowledgment, CfnResource, Validations
from constructs import IConstruct

#: Shortest reason accepted for an acknowledgement: long enough to say why, specifically.
MIN_ACKNOWLEDGEMENT_REASON = 40


_held: ContextVar[list[tuple[IConstruct, Acknowledgment]] | None] = ContextVar(
    "eks_envelope_held_acknowledgements", default=None)


@contextmanager
def held_acknowledgements() -> Iterator[None]:
    """Constructs built inside this block hold their cdk-nag acknowledgements back (reasons are still checked).

    For a report that counts the findings acknowledgements cover, on the one app that is synthesized: build
    it and run each pack's ``validate_scope`` (which honours acknowledgements) inside the block. Leaving the
    block gives every held acknowledgement to its construct, in recorded order, so none is ever lost.
    """
    held: list[tuple[IConstruct, Acknowledgment]] = []
    token = _held.set(held)
    try:
        yield
    finally:
        _held.reset(token)
        # One round trip per run of acknowledgements on the same owner: Validations records them in order.
        start = 0
        while start < len(held):
            owner = held[start][0]
            end = start + 1
            while end < len(held) and held[end][0] is owner:
                end += 1
            Validations.of(owner).acknowledge(*(acknowledgment for _, acknowledgment in held[start:end]))
            start = end


def _require_reason(finding_id: str, reason: str) -> None:
    if len(reason) < MIN_ACKNOWLEDGEMENT_REASON:
        raise ValueError(f"acknowledgement of {finding_id} needs a specific reason, got {reason!r}")


def acknowledge(owner: IConstruct, finding_id: str, reason: str) -> None:
    """Acknowledge one cdk-nag finding on ``owner`` with a reason a reviewer can check.

    ``finding_id`` is the full id, with its bracketed suffix where the rule reports one
    (``AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/...]``).
    """
    acknowledge_each(owner, {finding_id: reason})


def acknowledge_each(owner: IConstruct, reasons: Mapping[str, str]) -> None:
    """Acknowledge several findings on ``owner``, each with its own reason (``{finding_id: reason}``).

    The same as :func:`acknowledge` once per finding, in order, in one round trip to jsii.
    """
    for finding_id, reason in reasons.items():
        _require_reason(finding_id, reason)
    acknowledgments = [Acknowledgment(id=finding_id, reason=reason) for finding_id, reason in reasons.items()]
    held = _held.get()
    if held is not None:
        held.extend((owner, acknowledgment) for acknowledgment in acknowledgments)
        return
    Validations.of(owner).acknowledge(*acknowledgments)


def checkov_skip(owner: IConstruct, check_id: str, reason: str) -> None:
    """Skip one checkov check on the CloudFormation resource ``owner`` is (or wraps), with a reason."""
    _require_reason(check_id, reason)
    cfn = owner if isinstance(owner, CfnResource) else owner.node.default_child
    if not isinstance(cfn, CfnResource):
        raise TypeError(f"{owner.node.path} is not a CloudFormation resource: skip on its L1 instead")
    metadata = cfn.get_metadata("checkov") or {}
    # add_metadata replaces the whole "checkov" entry: keep the other skips.
    skips = [s for s in metadata.get("skip", []) if s["id"] != check_id]
    cfn.add_metadata("checkov", {**metadata, "skip": [*skips, {"id": check_id, "comment": reason}]})


def guard_suppress(owner: IConstruct, control_id: str, reason: str) -> None:
    """Acknowledge one AWS Control Tower control (e.g. ``CT.KMS.PR.3``) on a resource, with a reason.

    Written as template metadata ``guard.SuppressedRules`` (the AWS Guard Rules Registry convention)
    with the reason in ``guard.Reasons``. Neither cfn-guard 3 running the Control Tower rules nor a
    Control Tower hook reads it: `make scan` does, to tell an explained finding from a new one.
    """
    _require_reason(control_id, reason)
    cfn = owner if isinstance(owner, CfnResource) else owner.node.default_child
    if not isinstance(cfn, CfnResource):
        raise TypeError(f"{owner.node.path} is not a CloudFormation resource: acknowledge on its L1 instead")
    guard = cfn.get_metadata("guard") or {}
    rules = [r for r in guard.get("SuppressedRules", []) if r != control_id]
    reasons = {**guard.get("Reasons", {}), control_id: reason}
    cfn.add_metadata("guard", {**guard, "SuppressedRules": [*rules, control_id], "Reasons": reasons})
