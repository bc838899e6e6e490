"""The pack's rules, grouped by service as cdk-nag does; :data:`RULES` keeps the published order."""
from __future__ import annotations

from ..rule import Rule
from . import eks, iam, kms, logs

#: Every rule of the pack, in report order (each applies to the resource types it names).
RULES: tuple[Rule, ...] = eks.RULES + kms.RULES + iam.RULES + logs.RULES

__all__ = ["RULES"]
