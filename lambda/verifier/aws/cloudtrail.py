"""CloudTrail LookupEvents for a key: 2 requests per second per account and region, so every read is paced here."""
from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import Any, Callable

#: LookupEvents allows 2 requests per second (per account and region).
MIN_INTERVAL_SECONDS = 0.5
#: LookupEvents returns at most 50 events per page.
PAGE_SIZE = 50


class Pacer:
    """Spaces request starts at least ``interval`` seconds apart; shared by threads (the audit) or owned by one run."""

    def __init__(self, interval: float = MIN_INTERVAL_SECONDS, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.interval = interval
        self.clock = clock
        self.sleep = sleep
        self._last = float("-inf")
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            gap = self._last + self.interval - self.clock()
            if gap > 0:
                self.sleep(gap)
            self._last = self.clock()


def key_lookup(key_arn: str, start: datetime, end: datetime) -> dict[str, Any]:
    """LookupEvents arguments for the events that name ``key_arn`` between ``start`` and ``end``."""
    return {"LookupAttributes": [{"AttributeKey": "ResourceName", "AttributeValue": key_arn}], "StartTime": start, "EndTime": end}
