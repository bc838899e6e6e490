"""Scheduled verification (EventBridge, no RequestType): the cheap stages, a CloudTrail look-back,
CloudWatch metrics and one structured attestation record per run.

``index.on_event`` routes an event without ``RequestType`` here. A scheduled run never fails the way a
deploy does: a failed verification is published as ``Verified = 0`` (the alarm's job) and the handler
returns normally, so Lambda's asynchronous retries do not blur the hourly record. Only a run that cannot
publish its metrics raises, and then the missing-data alarm reports the verifier as stopped.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

import checks
import clients as clients_mod
import index
import jsonlog
from aws_checks import THROTTLE_CODES, _event_matches, code_of
from model import fit_reason

#: The construct marks scheduled events with this key and value (eks_envelope.contract).
SCHEDULED_EVENT_MARKER = "eks-envelope"
SCHEDULED_EVENT_KIND = "scheduled-verification"
ATTESTATION_KIND = "eks-envelope.attestation"
ATTESTATION_VERSION = 1
#: Must match the construct's VERIFIED_METRIC: the alarms watch it.
VERIFIED_METRIC = "Verified"
STAGE_METRIC = "StagePassed"
EVIDENCE_METRIC = "EvidenceFound"
EVIDENCE_EVENTS_METRIC = "EvidenceEvents"
#: Must match the construct's SUPPORT_DAYS_METRIC: days to the end of EKS standard support (EKS's own date).
SUPPORT_DAYS_METRIC = "DaysToEndOfStandardSupport"
DEFAULT_LOOKBACK_HOURS = 24
MAX_LOOKBACK_HOURS = 168
#: The attestation names at most this many CloudTrail event ids; the count covers them all.
MAX_EVENT_IDS = 50
#: LookupEvents pages read per run at most (50 events each), so a busy key cannot eat the whole budget.
MAX_PAGES = 100
#: Consecutive throttled pages tolerated (after botocore's own retries) before the look-back gives up.
MAX_THROTTLED_IN_A_ROW = 5
_NAMESPACE_RE = re.compile(r"^[A-Za-z0-9./_#:-]{1,255}$")


class ScheduledEventError(ValueError):
    """The event is not a usable scheduled verification; the message names the field and the fix."""


@dataclass(frozen=True)
class ScheduledRequest:
    config: checks.Config
    lookback_hours: int
    namespace: str


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


# ---------------------------------------------------------------------------------------------
# the event


def is_scheduled(event: Any) -> bool:
    return isinstance(event, dict) and event.get(SCHEDULED_EVENT_MARKER) == SCHEDULED_EVENT_KIND


def parse_event(event: Any, run_id: str = "scheduled") -> ScheduledRequest:
    """The scheduled payload: the verification's own properties plus SecretCheck, LookbackHours, MetricNamespace.

    The schedule owns its canaries (owner ``schedule/<cluster>``), apart from the deploy-time resource's.
    """
    if not is_scheduled(event):
        raise ScheduledEventError(
            f"Event has no {SCHEDULED_EVENT_MARKER!r}: {SCHEDULED_EVENT_KIND!r} marker; a scheduled run is started by "
            "the EventBridge schedule of EnvelopeEncryptionMonitoring, which sends it."
        )
    props = {k: v for k, v in event.items() if k != SCHEDULED_EVENT_MARKER}
    try:
        config = index.parse_properties(props, owner=f"schedule/{props.get('ClusterName')}", run_id=run_id)
        secret_check = index._bool(props, "SecretCheck")
    except index.PropertyError as err:
        raise ScheduledEventError(str(err)) from None
    # A scheduled run proves the configuration and the key, not a pod; its CloudTrail look-back is our own.
    config.pod_check = False
    config.cloudtrail_check = False
    config.cloudtrail_required = False
    config.secret_check = secret_check
    raw_hours = str(props.get("LookbackHours") or DEFAULT_LOOKBACK_HOURS).strip()
    if not raw_hours.isdigit() or not 1 <= int(raw_hours) <= MAX_LOOKBACK_HOURS:
        raise ScheduledEventError(
            f"LookbackHours is {raw_hours[:20]!r}; expected whole hours from 1 to {MAX_LOOKBACK_HOURS}. "
            "Fix MonitoringOptions.lookback."
        )
    namespace = str(props.get("MetricNamespace") or "EksEnvelope").strip()
    problem = namespace_problem(namespace)
    if problem:
        raise ScheduledEventError(problem)
    return ScheduledRequest(config, int(raw_hours), namespace)


def namespace_problem(namespace: str) -> str | None:
    """Why ``namespace`` cannot be a CloudWatch namespace of ours, with the fix; None when it can."""
    if _NAMESPACE_RE.match(namespace) and not namespace.startswith("AWS/"):
        return None
    return (f"MetricNamespace is {namespace[:60]!r}; expected 1-255 letters, digits or ./_#:- not starting with "
            "'AWS/'. Fix MonitoringOptions.metric_namespace.")


# ---------------------------------------------------------------------------------------------
# CloudTrail look-back


def look_back(cloudtrail: Any, key_arn: str, role_arn: str, hours: int, runtime: checks.Runtime) -> Evidence:
    """Every LookupEvents page for the key in the window, paced to the API's 2 requests/s; never raises.

    botocore's standard retries absorb short throttling; a page still throttled is retried here with
    backoff (at most MAX_THROTTLED_IN_A_ROW in a row) and resumed from its NextToken, so a busy account
    yields a slower look-back rather than none.
    """
    end = runtime.now_utc()
    evidence = Evidence(start=end - timedelta(hours=hours), end=end)
    token: str | None = None
    in_a_row = 0
    last_request = float("-inf")
    while True:
        if runtime.remaining() <= 5.0:
            evidence.complete, evidence.error = False, "time budget ran out before the last page"
            return evidence
        gap = last_request + runtime.cloudtrail_min_interval_seconds - runtime.clock()
        if gap > 0:
            runtime.sleep(gap)
        last_request = runtime.clock()
        request: dict[str, Any] = {
            "LookupAttributes": [{"AttributeKey": "ResourceName", "AttributeValue": key_arn}],
            "StartTime": evidence.start,
            "EndTime": evidence.end,
            "MaxResults": 50,
        }
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
    by_role, via_eks = _event_matches(event, role_arn)
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


# ---------------------------------------------------------------------------------------------
# metrics and the attestation


def metric_data(cluster: str, verified: bool, results: list[checks.StageResult], evidence: Evidence | None,
                support: Any = None) -> list[dict[str, Any]]:
    """Verified 0/1, one StagePassed 0/1 per stage that ran, the evidence found (0/1 and count), and the days to
    the end of standard support when EKS answered (none when unknown: the alarm on it treats missing data as OK)."""
    dims = [{"Name": "ClusterName", "Value": cluster}]
    data = [{"MetricName": VERIFIED_METRIC, "Dimensions": dims, "Value": 1.0 if verified else 0.0, "Unit": "Count"}]
    for result in results:
        if result.status == "skipped":
            continue
        data.append({
            "MetricName": STAGE_METRIC,
            "Dimensions": [*dims, {"Name": "Stage", "Value": result.name}],
            "Value": 0.0 if result.status == "failed" else 1.0,
            "Unit": "Count",
        })
    # An incomplete look-back that found nothing proves nothing either way: no evidence metric then.
    if evidence is not None and (evidence.complete or evidence.found):
        data.append({"MetricName": EVIDENCE_METRIC, "Dimensions": dims, "Value": 1.0 if evidence.found else 0.0, "Unit": "Count"})
        data.append({"MetricName": EVIDENCE_EVENTS_METRIC, "Dimensions": dims, "Value": float(evidence.events), "Unit": "Count"})
    days = getattr(support, "days_to_end_of_standard_support", None)
    if isinstance(days, int) and getattr(support, "known", False):
        data.append({"MetricName": SUPPORT_DAYS_METRIC, "Dimensions": dims, "Value": float(days), "Unit": "None"})
    return data


def attestation(
    request: ScheduledRequest,
    *,
    at: datetime,
    verified: bool,
    key_arn: str | None,
    results: list[checks.StageResult],
    evidence: Evidence | None,
    reason: str | None,
    levels: list[str],
    support: Any = None,
) -> dict[str, Any]:
    return {
        "kind": ATTESTATION_KIND,
        "version": ATTESTATION_VERSION,
        "time": at.isoformat(),
        "cluster": request.config.cluster_name,
        "key": key_arn or request.config.expected_key,
        "expected_key": request.config.expected_key,
        "cluster_role": request.config.cluster_role_arn,
        "verified": verified,
        "reason": reason,
        "stages": [{"name": r.name, "status": r.status, "detail": r.detail[:160]} for r in results],
        "evidence_levels": levels,
        "evidence": evidence.as_record() if evidence is not None else None,
        # EKS's DescribeClusterVersions answer for the cluster's version; None when the stage did not run.
        "support": support.as_record() if support is not None else None,
    }


# ---------------------------------------------------------------------------------------------
# the run


def run_scheduled(request: ScheduledRequest, clients: checks.Clients, cloudwatch: Any, runtime: checks.Runtime) -> dict[str, Any]:
    """Verify, look back, publish, attest. Returns the attestation; raises only when metrics cannot be published."""
    config = request.config
    started = runtime.now_utc()
    report: checks.Report | None = None
    results: list[checks.StageResult] = []
    reason: str | None = None
    support = None
    try:
        report = checks.run_verification(config, clients, runtime)
        results, support = report.results, report.support
    except checks.VerificationError as err:
        results, reason = err.results, str(err)
        support = err.report.support if err.report is not None else None
    except Exception as exc:  # noqa: BLE001 - a scheduled run reports every failure as Verified = 0
        reason = fit_reason("schedule", f"unexpected {exc.__class__.__name__}: {str(exc)[:120]}",
                            "Read the verifier's log group for this run.")
    verified = report is not None and report.passed

    evidence: Evidence | None = None
    key_arn = report.key_arn if report is not None else None
    role_arn = config.cluster_role_arn
    if clients.cloudtrail is not None and role_arn:
        evidence = look_back(clients.cloudtrail, key_arn or config.expected_key or "", role_arn, request.lookback_hours, runtime)

    cloudwatch.put_metric_data(Namespace=request.namespace,
                               MetricData=metric_data(config.cluster_name, verified, results, evidence, support))
    levels = list(report.evidence) if report is not None else []
    if evidence is not None and evidence.found:
        levels.append("cloudtrail-key-use")
    record = attestation(request, at=started, verified=verified, key_arn=key_arn, results=results, evidence=evidence,
                         reason=reason, levels=levels, support=support)
    (jsonlog.info if verified else jsonlog.error)("attestation", attestation=record)
    return record


def on_schedule(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """EventBridge entry point (through index.on_event): one scheduled verification."""
    request = parse_event(event, run_id=str(getattr(context, "aws_request_id", "") or "scheduled"))
    region = index._region()
    runtime = index.build_runtime(context)
    clients = index.build_clients(region, budget_seconds=runtime.remaining(), with_cloudtrail=True)
    cloudwatch = clients_mod.cloudwatch_client(region, budget_seconds=runtime.remaining())
    return run_scheduled(request, clients, cloudwatch, runtime)
