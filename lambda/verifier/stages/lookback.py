"""The scheduled run's CloudTrail look-back: every KMS call on the key by the cluster role in a window.

Paced to LookupEvents' 2 requests per second (``aws.cloudtrail``); it never raises: what it could not read is
in ``Evidence.complete`` / ``Evidence.error``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .. import jsonlog
from ..aws.cloudtrail import PAGE_SIZE, Pacer, key_lookup
from ..aws.session import THROTTLE_CODES, code_of
from ..model import Runtime
from .aws_checks import event_matches

#: The attestation names at most this many CloudTrail event ids; the count covers them all.
MAX_EVENT_IDS = 50
#: LookupEvents pages read per run at most (50 events each), so a busy key cannot eat the whole budget.
MAX_PAGES = 100
#: Consecutive throttled pages tolerated (after botocore's own retries) before the look-back gives up.
MAX_THROTTLED_IN_A_ROW = 5


@dataclass
class Evidence:
    """KMS crypto calls on the key by the cluster role in the look-back window."""

    start: datetime
    end: datetime
    events: int = 0
    via_eks: int = 0
    names: set[str] = field(default_factory=set)
    event_ids: list[str] = field(default_factory=list)
    latest: str | None = None
    pages: int = 0
    throttled: int = 0
    complete: bool = True
    error: str | None = None

    @property
    def found(self) -> bool:
        return self.events > 0

    def as_record(self) -> dict[str, Any]:
        return {
            "window": {"start": self.start.isoformat(), "end": self.end.isoformat()},
            "found": self.found,
            "events": self.events,
            "via_eks": self.via_eks,
            "event_names": sorted(self.names),
            "cloudtrail_event_ids": self.event_ids[:MAX_EVENT_IDS],
            "latest": self.latest,
            "pages": self.pages,
            "throttled": self.throttled,
            "complete": self.complete,
            "error": self.error,
        }


def look_back(cloudtrail: Any, key_arn: str, role_arn: str, hours: int, runtime: Runtime) -> Evidence:
    """Every LookupEvents page for the key in the window, paced to the API's 2 requests/s; never raises.

    botocore's standard retries absorb short throttling; a page still throttled is retried here with
    backoff (at most MAX_THROTTLED_IN_A_ROW in a row) and resumed from its NextToken, so a busy account
    yields a slower look-back rather than none.
    """
    end = runtime.now_utc()
    evidence = Evidence(start=end - timedelta(hours=hours), end=end)
    token: str | None = None
    in_a_row = 0
    pacer = Pacer(runtime.cloudtrail_min_interval_seconds, runtime.clock, runtime.sleep)
    while True:
        if runtime.remaining() <= 5.0:
            evidence.complete, evidence.error = False, "time budget ran out before the last page"
            return evidence
        pacer.wait()
        request: dict[str, Any] = {**key_lookup(key_arn, evidence.start, evidence.end), "MaxResults": PAGE_SIZE}
        if token:
            request["NextToken"] = token
        try:
            page = cloudtrail.lookup_events(**request)
        except ClientError as exc:
            code = code_of(exc)
            if code in THROTTLE_CODES and in_a_row < MAX_THROTTLED_IN_A_ROW:
                in_a_row += 1
                evidence.throttled += 1
                jsonlog.warning("lookback.throttled", count=evidence.throttled, page=evidence.pages + 1)
                runtime.sleep(max(0.0, min(2.0 ** in_a_row, runtime.remaining() - 5.0)))
                continue
            evidence.complete, evidence.error = False, f"LookupEvents failed ({code})"
            return evidence
        except BotoCoreError as exc:
            evidence.complete, evidence.error = False, f"LookupEvents failed ({exc.__class__.__name__})"
            return evidence
        in_a_row = 0
        evidence.pages += 1
        for event in page.get("Events") or []:
            _count(evidence, event, role_arn)
        token = page.get("NextToken")
        if not token:
            return evidence
        if evidence.pages >= MAX_PAGES:
            evidence.complete, evidence.error = False, f"stopped after {MAX_PAGES} pages"
            return evidence


def _count(evidence: Evidence, event: dict[str, Any], role_arn: str) -> None:
    by_role, via_eks = event_matches(event, role_arn)
    if not by_role:
        return
    evidence.events += 1
    evidence.via_eks += via_eks
    evidence.names.add(event["EventName"])
    if event.get("EventId"):
        evidence.event_ids.append(event["EventId"])
    when = event.get("EventTime")
    stamp = when.isoformat() if isinstance(when, datetime) else (str(when) if when else None)
    if stamp and (evidence.latest is None or stamp > evidence.latest):
        evidence.latest = stamp
