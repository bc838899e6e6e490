"""Time: how much of Lambda's time a handler may spend, and the runtime that carries its deadline."""
from __future__ import annotations

import time
from typing import Any

from ..model import Runtime

#: Worst case of one AWS call with ``session.boto_config``: 3 attempts x (3 s connect + 8 s read) plus standard-mode
#: backoff (at most 1 s, then 2 s). Every handler keeps at least this much of Lambda's time in reserve.
AWS_CALL_WORST_CASE_SECONDS = 36.0
#: Kept back from Lambda's time (with the stage cleanup reserve, it covers one AWS call's worst case), so a handler
#: fails with a reason instead of being killed.
SAFETY_MARGIN_SECONDS = 30.0
#: Lambda's own limit, assumed when there is no context (local runs).
NO_CONTEXT_SECONDS = 840.0


def remaining_budget(context: Any, margin_seconds: float = SAFETY_MARGIN_SECONDS, cap_seconds: float | None = None) -> float:
    """Lambda's remaining time minus ``margin_seconds`` (at least 1 s), at most ``cap_seconds``."""
    try:
        remaining = float(context.get_remaining_time_in_millis()) / 1000.0
    except Exception:  # noqa: BLE001 - no context (local runs)
        remaining = NO_CONTEXT_SECONDS
    budget = max(1.0, remaining - margin_seconds)
    return min(budget, cap_seconds) if cap_seconds is not None else budget


def build_runtime(context: Any, cap_seconds: float | None = None) -> Runtime:
    """The runtime of one invocation: its deadline is Lambda's time left minus the safety margin."""
    return Runtime(deadline=time.monotonic() + remaining_budget(context, SAFETY_MARGIN_SECONDS, cap_seconds))
