"""EKS updates (UpdateClusterConfig, AssociateEncryptionConfig): read one, and poll DescribeUpdate until it ends."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass
class UpdateState:
    update_id: str
    status: str  # InProgress | Successful | Failed | Cancelled | TimedOut (set by a caller that stopped waiting)
    errors: list[dict[str, Any]] = field(default_factory=list)
    polls: int = 0

    def error_text(self) -> str:
        return "; ".join(f"{e.get('errorCode')}: {e.get('errorMessage')}" for e in self.errors
                         if isinstance(e, dict)) or "no error detail"


def describe_update(eks: Any, cluster_name: str, update_id: str) -> UpdateState:
    update = eks.describe_update(name=cluster_name, updateId=update_id)["update"]
    return UpdateState(update_id, update.get("status", "InProgress"), list(update.get("errors") or []))


def wait_for_update(eks: Any, cluster_name: str, update_id: str, *, deadline: float, poll_seconds: float,
                    clock: Callable[[], float], sleep: Callable[[float], None],
                    progress: Callable[[UpdateState, float], None] | None = None) -> UpdateState:
    """Poll DescribeUpdate until the update leaves InProgress, or until one more poll would pass ``deadline``
    (a ``clock()`` value): then the state returned is still InProgress and the caller says what that means."""
    started = clock()
    polls = 0
    while True:
        state = describe_update(eks, cluster_name, update_id)
        polls += 1
        state.polls = polls
        if progress is not None:
            progress(state, clock() - started)
        if state.status != "InProgress" or clock() + poll_seconds > deadline:
            return state
        sleep(poll_seconds)
