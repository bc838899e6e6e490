"""EKS as the authority on the version calendar: DescribeClusterVersions through botocore's Stubber with the API's
response shape. The stage never fails a verification: denied, throttled or unanswered calls report "unknown"."""
from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import io
import json

import boto3
import pytest
from botocore.stub import Stubber

from verifier import contract
from verifier.stages import verification as checks
from verifier.entry import cli
from verifier.aws import clients as clients_mod
from verifier.entry import dispatch, verification
from verifier.entry import scheduled
from verifier.stages import metrics
from verifier.stages import version_support
from verifier_fakes import CLUSTER, CLUSTER_VERSIONS, REGION, FakeContext, Within, stubbed_eks

#: 60 calendar days before 1.34's end of standard support (2026-12-02 in the fake calendar), late in the UTC day.
NOW = dt.datetime(2026, 10, 3, 23, 30, tzinfo=dt.timezone.utc)


def eks_client():
    """An EKS client configured like the handler's (standard retries): a stubbed error is answered at once."""
    return boto3.client("eks", region_name=REGION, config=clients_mod.boto_config(60.0))


def answered(*entries: dict, version: str = "1.34"):
    client = eks_client()
    stub = Stubber(client)
    stub.add_response("describe_cluster_versions", {"clusterVersions": list(entries)},
                      {"clusterVersions": [version], "includeAll": True})
    stub.activate()
    return client, stub


def refused(code: str, status: int, version: str = "1.34"):
    client = eks_client()
    stub = Stubber(client)
    stub.add_client_error("describe_cluster_versions", service_error_code=code, http_status_code=status,
                          expected_params={"clusterVersions": [version], "includeAll": True})
    stub.activate()
    return client, stub


# --- the pure function ------------------------------------------------------------------------------------


def test_standard_support_with_the_days_left_counted_from_the_injected_now():
    client, stub = answered(CLUSTER_VERSIONS["1.34"])
    support = version_support.describe_version_support(client, "1.34", NOW)
    stub.assert_no_pending_responses()
    assert (support.status, support.days_to_end_of_standard_support) == ("STANDARD_SUPPORT", 60)
    assert support.end_of_standard_support == dt.date(2026, 12, 2)
    assert support.end_of_extended_support == dt.date(2027, 12, 2)
    assert support.summary() == "1.34 STANDARD_SUPPORT, standard support ends 2026-12-02 (in 60 days)"
    assert support.as_record() == {"version": "1.34", "status": "STANDARD_SUPPORT", "end_of_standard_support": "2026-12-02",
                                   "end_of_extended_support": "2027-12-02", "days_to_end_of_standard_support": 60,
                                   "error": None}


@pytest.mark.parametrize("now, days", [
    (dt.datetime(2026, 12, 2, 0, 0, tzinfo=dt.timezone.utc), 0),  # the last day of standard support
    (dt.datetime(2026, 12, 3, 0, 0, tzinfo=dt.timezone.utc), -1),
    (dt.datetime(2025, 12, 2, 12, 0, tzinfo=dt.timezone.utc), 365),
])
def test_days_are_calendar_days_in_utc(now, days):
    client, _ = answered(CLUSTER_VERSIONS["1.34"])
    assert version_support.describe_version_support(client, "1.34", now).days_to_end_of_standard_support == days


def test_extended_support_is_a_warning_not_a_failure():
    client, _ = answered(CLUSTER_VERSIONS["1.31"], version="1.31")
    outcome = version_support.verify_version_support(client, "1.31", NOW)
    assert outcome.status == "passed"
    assert outcome.detail == ("1.31 EXTENDED_SUPPORT, standard support ended 2025-11-26 (311 days ago), "
                              "extended support ends 2026-11-26")
    assert outcome.warnings == ("Kubernetes 1.31 is in EKS extended support (billed at a higher hourly rate): upgrade the cluster",)


def test_unsupported_version_answered_through_include_all():
    entry = {**copy.deepcopy(CLUSTER_VERSIONS["1.31"]), "versionStatus": "UNSUPPORTED", "status": "unsupported"}
    client, _ = answered(entry, version="1.31")
    outcome = version_support.verify_version_support(client, "1.31", NOW)
    assert outcome.value.status == "UNSUPPORTED" and "no longer supported by EKS" in outcome.warnings[0]


def test_only_the_deprecated_status_field_is_still_understood():
    entry = {k: v for k, v in CLUSTER_VERSIONS["1.34"].items() if k != "versionStatus"}
    client, _ = answered(entry)
    assert version_support.describe_version_support(client, "1.34", NOW).status == "STANDARD_SUPPORT"


@pytest.mark.parametrize("code, status", [
    ("AccessDeniedException", 403),
    ("ThrottlingException", 429),  # what remains after botocore's standard retries
    ("ServerException", 500),
])
def test_denied_throttled_or_failed_call_is_unknown_never_a_failure(code, status):
    client, stub = refused(code, status)
    with Within(2):
        outcome = version_support.verify_version_support(client, "1.34", NOW)
    stub.assert_no_pending_responses()
    assert outcome.status == "unavailable"
    assert outcome.value.status == "unknown" and outcome.value.error == f"DescribeClusterVersions failed ({code})"
    assert outcome.detail == f"1.34 support status unknown (DescribeClusterVersions failed ({code}))"
    assert outcome.warnings == ()


def test_version_eks_does_not_list_is_unknown():
    client, _ = answered()
    support = version_support.describe_version_support(client, "1.34", NOW)
    assert (support.status, support.error) == ("unknown", "EKS does not list version 1.34")


def test_no_version_reported_makes_no_call():
    client, stub = answered(CLUSTER_VERSIONS["1.34"])
    assert version_support.describe_version_support(client, "", NOW).error == "the cluster reported no version"
    assert len(stub._queue) == 1  # untouched


# --- in the verification ------------------------------------------------------------------------------------


def _cluster(world) -> dict:
    cluster = copy.deepcopy(world.eks.describe_cluster(name=CLUSTER)["cluster"])
    assert cluster["version"] == "1.34"
    return cluster


def test_denied_describe_cluster_versions_leaves_the_verification_passed(world, runtime):
    eks, stub = stubbed_eks(_cluster(world))
    stub.add_client_error("describe_cluster_versions", service_error_code="AccessDeniedException", http_status_code=403)
    clients = checks.Clients(eks=eks, kms=world.kms, cloudtrail=None, token_provider=world.clients().token_provider)
    report = checks.run_verification(world.config(pod_check=False), clients, runtime)
    stub.assert_no_pending_responses()
    assert report.passed
    stage = {r.name: r for r in report.results}["version-support"]
    assert (stage.status, stage.aws) == ("unavailable", 1)
    assert report.support.status == "unknown"


def test_out_of_time_before_the_call_is_unknown_not_a_failed_stage(world, runtime):
    from verifier.stages.runner import MIN_AWS_CALL_SECONDS, StageRunner

    clients = world.clients()
    runner = StageRunner(clients, runtime, checks.Report([], None, CLUSTER), lambda: 0)
    # Enough left to start the stage, too little for an AWS call: the call meter's guard refuses it.
    runtime.deadline = runtime.clock() + runtime.cleanup_seconds + (1.0 + MIN_AWS_CALL_SECONDS) / 2
    outcome = runner.run("version-support", lambda: version_support.verify_version_support(clients.eks, "1.34", NOW))
    assert outcome.status == "unavailable" and outcome.detail == "1.34 support status unknown (DescribeClusterVersions failed (DeadlineReached))"


def test_create_reports_the_version_status_and_end_of_standard_support_in_data(world, runtime, monkeypatch):
    monkeypatch.setattr(verification, "build_clients", lambda region, **_: world.clients())
    monkeypatch.setattr(verification, "build_runtime", lambda context, cap_seconds=None: dataclasses.replace(runtime, now_utc=lambda: NOW))
    event = {"RequestType": "Create", "ResourceProperties": world.props(PodCheck="false"), "LogicalResourceId": "Verify",
             "RequestId": "r1", "StackId": "arn:aws:cloudformation:us-west-2:123456789012:stack/s/1"}
    data = dispatch.on_event(event, FakeContext())["Data"]
    assert (data["KubernetesVersion"], data["VersionStatus"], data["EndOfStandardSupport"]) == ("1.34", "STANDARD_SUPPORT", "2026-12-02")
    stage = {s["name"]: s for s in json.loads(data["Summary"])["stages"]}["version-support"]
    assert stage["detail"] == "1.34 STANDARD_SUPPORT, standard support ends 2026-12-02 (in 60 days)"
    assert len(json.dumps(data).encode()) < verification.MAX_DATA_BYTES


def test_rollback_answer_keeps_the_same_data_keys(world):
    data = verification._data("k", verification.ROLLBACK_SUMMARY, [], [], [], None).to_data()
    assert (data["KubernetesVersion"], data["VersionStatus"], data["EndOfStandardSupport"]) == ("unknown",) * 3


# --- scheduled runs: the metric and the attestation -----------------------------------------------------------


def test_scheduled_run_publishes_days_to_end_of_standard_support_and_attests_the_version(world, runtime, capsys):
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    event = world.props(PodCheck="false", CloudTrailCheck="false")
    event.pop("RunNonce"), event.pop("ServiceToken")
    event.update({contract.SCHEDULED_EVENT_MARKER: contract.SCHEDULED_EVENT_KIND, "SecretCheck": "false",
                  "LookbackHours": "24", "MetricNamespace": "EksEnvelope"})
    fixed = dataclasses.replace(runtime, now_utc=lambda: NOW)
    record = scheduled.run_scheduled(scheduled.parse_event(event), world.clients(), cloudwatch, fixed)
    assert record["support"] == {"version": "1.34", "status": "STANDARD_SUPPORT", "end_of_standard_support": "2026-12-02",
                                 "end_of_extended_support": "2027-12-02", "days_to_end_of_standard_support": 60,
                                 "error": None}
    stats = cloudwatch.get_metric_statistics(
        Namespace="EksEnvelope", MetricName=contract.SUPPORT_DAYS_METRIC,
        Dimensions=[{"Name": "ClusterName", "Value": CLUSTER}], Statistics=["Minimum", "SampleCount"],
        StartTime=dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1),
        EndTime=dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1), Period=7200)
    assert [(p["Minimum"], p["SampleCount"]) for p in stats["Datapoints"]] == [(60.0, 1.0)]


def test_unknown_support_publishes_no_days_metric():
    unknown = version_support.VersionSupport("1.34", error="DescribeClusterVersions failed (AccessDeniedException)")
    names = [d["MetricName"] for d in metrics.metric_data(CLUSTER, True, [], None, unknown)]
    assert contract.SUPPORT_DAYS_METRIC not in names
    known = version_support.VersionSupport("1.34", "STANDARD_SUPPORT", dt.date(2026, 12, 2), None, 60)
    (days,) = [d for d in metrics.metric_data(CLUSTER, True, [], None, known) if d["MetricName"] == contract.SUPPORT_DAYS_METRIC]
    assert days == {"MetricName": "DaysToEndOfStandardSupport", "Dimensions": [{"Name": "ClusterName", "Value": CLUSTER}],
                    "Value": 60.0, "Unit": "None"}


# --- make verify / eks-envelope verify ------------------------------------------------------------------------


def _cli(world, runtime, argv):
    out = io.StringIO()
    code = cli.main(argv, make_clients=lambda region: (world.clients(), REGION),
                    runtime=dataclasses.replace(runtime, now_utc=lambda: NOW), out=out)
    return code, out.getvalue()


def test_make_verify_prints_the_version_status_and_the_days_left(world, runtime):
    code, text = _cli(world, runtime, ["--cluster", CLUSTER])
    assert code == 0
    assert ("SUPPORT: Kubernetes 1.34 STANDARD_SUPPORT, standard support ends 2026-12-02 (in 60 days) "
            "(EKS DescribeClusterVersions)") in text.splitlines()


def test_make_verify_json_carries_the_support_record(world, runtime):
    code, text = _cli(world, runtime, ["--cluster", CLUSTER, "--json"])
    assert code == 0 and json.loads(text)["support"]["days_to_end_of_standard_support"] == 60
