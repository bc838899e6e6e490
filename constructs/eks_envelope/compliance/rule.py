"""A rule of the pack as data: the record the pack, ``evaluate``, the docs and the counts all read."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from aws_cdk import CfnResource
from cdk_nag import NagMessageLevel, NagRuleCompliance

from .template import as_bool

PACK_NAME = "EnvelopeEncryption"

COMPLIANT = NagRuleCompliance.COMPLIANT
NON_COMPLIANT = NagRuleCompliance.NON_COMPLIANT
NOT_APPLICABLE = NagRuleCompliance.NOT_APPLICABLE


def flag_compliance(raw: Any) -> NagRuleCompliance:
    """A boolean property that must be true: absent or false fails; an unresolvable value is N/A."""
    flag = as_bool(raw)
    if flag is None and raw is not None:
        return NOT_APPLICABLE
    return COMPLIANT if flag else NON_COMPLIANT


@dataclass(frozen=True)
class Rule:
    """One rule of the pack: a stable suffix, the resource types it checks, its level and text."""

    suffix: str
    check: Callable[[CfnResource], NagRuleCompliance]
    resource_types: frozenset[str]
    info: str
    explanation: str
    level: NagMessageLevel = NagMessageLevel.ERROR

    @property
    def rule_id(self) -> str:
        return f"{PACK_NAME}-{self.suffix}"

    @property
    def summary(self) -> str:
        """The compliant state, from the check's docstring (``"EKS1: <summary>"``): the README's rule list."""
        first_line = (self.check.__doc__ or "").strip().split("\n", 1)[0]
        return first_line.partition(": ")[2]
