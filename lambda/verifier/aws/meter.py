"""Counting AWS calls, and refusing one the stage budget cannot hold: one meter, attached or wrapped."""
from __future__ import annotations

from typing import Any, Callable

_METER_EVENT = "before-parameter-build"
_METER_ID = "eks-envelope-call-meter"


class DeadlineReached(Exception):
    """Raised by the call meter before an AWS call that could not finish inside the stage budget."""


class CallMeter:
    """Counts AWS API calls (one per operation call and per page; botocore's own retries are not calls).

    ``attach`` registers it as a botocore event hook on a client (the verification's clients); calling it,
    ``meter(client.op, **kwargs)``, counts and makes one call (the association's checks, whose clients may be
    stand-ins). ``guard`` refuses a call when the stage budget cannot hold one more attempt, so no AWS call
    starts that the deadline would cut short.
    """

    def __init__(self) -> None:
        self.count = 0
        self.guard: Callable[[], None] | None = None

    def hook(self, **_: Any) -> None:
        if self.guard is not None:
            self.guard()
        self.count += 1

    def attach(self, client: Any) -> None:
        if client is None or not hasattr(client, "meta"):
            return
        client.meta.events.unregister(_METER_EVENT, unique_id=_METER_ID)
        client.meta.events.register(_METER_EVENT, self.hook, unique_id=_METER_ID)

    def __call__(self, fn: Callable[..., Any], **kwargs: Any) -> Any:
        self.hook()
        return fn(**kwargs)
