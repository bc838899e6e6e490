"""The verification, stage by stage: ``run_verification(config, clients, runtime) -> Report`` (the façade).

Concerns live apart: ``model`` (data), ``aws.clients`` (building clients), ``aws_checks`` and ``kube_checks``
(the checks), ``runner`` (budget, counts, classified failures). This module only orders the stages.
"""
from __future__ import annotations

from .. import jsonlog
from .. import kube
from .aws_checks import NO_GRANT_WARNING, collect_cloudtrail_evidence, verify_cluster, verify_key_health
from ..aws.clients import Clients, open_kube
from .kube_checks import (
    cleanup_canary,
    leftover_note,
    sweep_canaries,
    verify_kms_provider_health,
    verify_pod_read,
    verify_secret_roundtrip,
)
from ..model import (
    EVIDENCE,
    Canary,
    ClusterFacts,
    Config,
    Outcome,
    Report,
    Runtime,
    StageResult,
    VerificationError,
)
from .runner import StageRunner, count_kube
from .version_support import verify_version_support

__all__ = [
    "EVIDENCE", "Canary", "ClusterFacts", "Clients", "Config", "Outcome", "Report", "Runtime", "StageResult",
    "VerificationError", "collect_cloudtrail_evidence", "run_verification",
]


def run_verification(config: Config, clients: Clients, runtime: Runtime) -> Report:
    """Run the stages in order; raise VerificationError (with .results) on the first failure.

    Whatever happens, this run's canaries are deleted (every name recorded before its POST) and
    leftovers that are provably ours are swept; what cannot be deleted is named in the reason or in
    ``Report.leftovers``.
    """
    report = Report([], None, config.cluster_name)
    canary = Canary()
    client: kube.KubeClient | None = None
    runner = StageRunner(clients, runtime, report, lambda: count_kube(client))
    try:
        try:
            facts: ClusterFacts = runner.run("cluster", lambda: verify_cluster(clients.eks, clients.kms, config)).value
            report.key_arn = facts.key_arn
            grant_visible = runner.run("key-health", lambda: verify_key_health(clients.kms, facts)).value
            # Never fails: EKS's own calendar for the cluster's version, or "unknown".
            report.support = runner.run("version-support", lambda: verify_version_support(
                clients.eks, facts.version, runtime.now_utc())).value

            def roundtrip() -> Outcome:
                nonlocal client
                client = open_kube(facts, config, clients, runtime)  # CA and endpoint checked before any token
                return verify_secret_roundtrip(client, config, canary)

            if config.secret_check:
                runner.run("secret-roundtrip", roundtrip)
            else:
                # A scheduled run without the round trip makes no Kubernetes call at all.
                for name in ("secret-roundtrip", "pod-read", "kms-health"):
                    runner.skipped(name, "SecretCheck is false")
            if not grant_visible:
                report.warnings.append(NO_GRANT_WARNING)
            if config.secret_check:
                if config.pod_check:
                    runner.run("pod-read", lambda: verify_pod_read(client, config, canary, runtime))
                else:
                    runner.skipped("pod-read", "PodCheck is false")
                runner.run("kms-health", lambda: verify_kms_provider_health(client, runtime))
        finally:
            try:
                _clean_up(client, config, canary, runtime, report)
            finally:
                if client is not None:
                    client.close()  # the kept-alive connection; the CloudTrail stage needs none
        if config.cloudtrail_check and clients.cloudtrail is not None:
            runner.run("cloudtrail", lambda: collect_cloudtrail_evidence(
                clients.cloudtrail, facts.key_arn, facts.role_arn, config.cloudtrail_wait_seconds, runtime,
                required=config.cloudtrail_required))
        elif config.cloudtrail_required:
            runner.run("cloudtrail", lambda: _no_cloudtrail_client())
        else:
            runner.skipped("cloudtrail", "CloudTrailCheck is false")
    except VerificationError as err:
        err.results = report.results
        err.report = report
        if report.leftovers:
            err.add_note(leftover_note(report.leftovers, config.namespace))
        jsonlog.error("verification.failed", cluster=config.cluster_name, reason=str(err), summary=report.summary_json(),
                      leftovers=report.leftovers)
        raise
    jsonlog.info("verification.passed", cluster=config.cluster_name, summary=report.summary_json(),
                 evidence=report.evidence, warnings=report.warnings, leftovers=report.leftovers)
    return report


def _endpoint_failed(report: Report) -> bool:
    """The run failed because the endpoint could not be used: a sweep would only wait for the same failure."""
    return report.unreachable


def _no_cloudtrail_client() -> Outcome:
    raise VerificationError("cloudtrail", "strict mode needs the CloudTrail stage, but it is off", "Set CloudTrailCheck true with CloudTrailRequired.")


def _clean_up(client: kube.KubeClient | None, config: Config, canary: Canary, runtime: Runtime, report: Report) -> None:
    """This run's canaries, then a sweep of older ones that are provably ours; counted on the last stage run."""
    if client is None:
        return
    before = client.calls
    calls, leftovers, usable = cleanup_canary(client, config, canary, runtime)
    deleted, sweep_leftovers = 0, []
    if usable and not _endpoint_failed(report):
        sweeper = client.with_budget(max(1.0, runtime.cleanup_seconds * 0.4), runtime.cleanup_policy)
        try:
            deleted, sweep_leftovers = sweep_canaries(sweeper, config, runtime)
        except Exception as exc:  # noqa: BLE001 - the sweep is hygiene, never the verdict
            jsonlog.warning("sweep.failed", error=type(exc).__name__)
        calls += sweeper.calls
    report.leftovers.extend(leftovers + sweep_leftovers)
    if deleted:
        jsonlog.info("sweep.deleted", count=deleted)
    ran = [r for r in report.results if r.status != "skipped"]
    if ran:
        ran[-1].k8s += calls + client.calls - before
