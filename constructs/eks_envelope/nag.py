"""Acknowledging compliance findings: on the construct that owns them, one finding id at a time."""
from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct


def acknowledge(owner: IConstruct, finding_id: str, reason: str) -> None:
    """Acknowledge one finding on ``owner`` with a reason a reviewer can check.

    ``finding_id`` is the full id, with its bracketed suffix where the rule reports one
    (``AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/...]``).
    """
    if len(reason) < 40:
        raise ValueError(f"acknowledgement of {finding_id} needs a specific reason, got {reason!r}")
    Validations.of(owner).acknowledge(Acknowledgment(id=finding_id, reason=reason))
