"""Scheduled verification (EventBridge, no RequestType): the cheap stages, a CloudTrail look-back,
CloudWatch metrics and one structured attestation record per run.

``dispatch.on_event`` routes an event without ``RequestType`` here. A scheduled run never fails the way a
deploy does: a failed verification is published as ``Verified = 0`` (the alarm's job) and the handler
returns normally, so Lambda's asynchronous retries do not blur the hourly record. Only a run that cannot
publish its metrics (or an event that is not the schedule's) raises, and then the missing-data alarm
reports the verifier as stopped.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .. import jsonlog
from ..aws.budget import build_runtime
from ..aws.clients import Clients, build_clients, cloudwatch_client
from ..aws.session import region
from ..contract import PropertyError, ScheduledVerification
from ..model import Config, Report, Runtime, StageResult, VerificationError
from ..stages.lookback import Evidence, look_back
from ..stages.metrics import metric_data
from ..stages.verification import run_verification
from ..text import fit_reason

ATTESTATION_KIND = "eks-envelope.attestation"
ATTESTATION_VERSION = 1


class ScheduledEventError(PropertyError):
    """The event is not a usable scheduled verification; the message names the field and the fix."""


@dataclass(frozen=True)
class ScheduledRequest:
    """One scheduled run: what the schedule sent (the contract's payload) and the Config built from it."""

    payload: ScheduledVerification
    config: Config

    @property
    def lookback_hours(self) -> int:
        return self.payload.lookback_hours

    @property
    def namespace(self) -> str:
        return self.payload.metric_namespace


# ---------------------------------------------------------------------------------------------
# the event


def parse_event(event: Any, run_id: str = "scheduled") -> ScheduledRequest:
    """The scheduled payload (``contract.ScheduledVerification``): the verification's own properties, without a
    pod or a deploy-time CloudTrail wait, plus SecretCheck, LookbackHours and MetricNamespace.

    The schedule owns its canaries (owner ``schedule/<cluster>``), apart from the deploy-time resource's.
    """
    try:
        payload = ScheduledVerification.from_event(event)
    except PropertyError as err:
        raise ScheduledEventError(fit_reason("properties", str(err))) from None
    config = Config.from_properties(payload.verification, owner=f"schedule/{payload.verification.cluster_name}",
                                    run_id=run_id, secret_check=payload.secret_check)
    return ScheduledRequest(payload, config)


# ---------------------------------------------------------------------------------------------
# metrics and the attestation


def attestation(
    request: ScheduledRequest,
    *,
    at: datetime,
    verified: bool,
    key_arn: str | None,
    results: list[StageResult],
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


def run_scheduled(request: ScheduledRequest, clients: Clients, cloudwatch: Any, runtime: Runtime) -> dict[str, Any]:
    """Verify, look back, publish, attest. Returns the attestation; raises only when metrics cannot be published."""
    config = request.config
    started = runtime.now_utc()
    report: Report | None = None
    results: list[StageResult] = []
    reason: str | None = None
    support = None
    try:
        report = run_verification(config, clients, runtime)
        results, support = report.results, report.support
    except VerificationError as err:
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
    """EventBridge entry point (through ``dispatch.on_event``): one scheduled verification."""
    request = parse_event(event, run_id=str(getattr(context, "aws_request_id", "") or "scheduled"))
    where = region()
    runtime = build_runtime(context)
    clients = build_clients(where, budget_seconds=runtime.remaining(), with_cloudtrail=True)
    cloudwatch = cloudwatch_client(where, budget_seconds=runtime.remaining())
    return run_scheduled(request, clients, cloudwatch, runtime)
