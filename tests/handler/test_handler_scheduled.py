"""Scheduled verification: no CloudFormation event, metrics in CloudWatch (moto), one attestation record,
and a CloudTrail look-back that pages, paces itself and survives throttling (botocore Stubber)."""
from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import json

import pytest

from verifier import contract
from verifier.stages import verification as checks
from verifier.entry import dispatch, verification
from verifier.entry import scheduled
from verifier.stages import lookback, metrics
from verifier_fakes import CLUSTER, CLUSTER_ROLE_ARN, REGION, FakeContext, lookup_events_fixture, stubbed_cloudtrail

NAMESPACE = "EksEnvelope"
NOW = dt.datetime(2026, 11, 27, 10, 30, tzinfo=dt.timezone.utc)


@pytest.fixture
def runtime(runtime):
    """The shared fake runtime with a fixed wall clock, so the look-back window is known."""
    return dataclasses.replace(runtime, now_utc=lambda: NOW)


def scheduled_event(world, **overrides: str) -> dict[str, str]:
    """What the construct's schedule sends: the verification's properties, marked scheduled, no RequestType."""
    props = world.props(PodCheck="false", CloudTrailCheck="false")
    props.pop("RunNonce")
    props.pop("ServiceToken")
    props.update({contract.SCHEDULED_EVENT_MARKER: contract.SCHEDULED_EVENT_KIND, "SecretCheck": "false",
                  "LookbackHours": "24", "MetricNamespace": NAMESPACE})
    props.update(overrides)
    return props


def pages(key_id: str, count: int) -> list[dict]:
    """The shared LookupEvents fixture split over ``count`` pages chained by NextToken (fresh event ids per page)."""
    base = lookup_events_fixture(key_id)
    result = []
    for n in range(count):
        page = copy.deepcopy(base)
        for event in page["Events"]:
            event["EventId"] = f"{event['EventId'][:-3]}{n:03d}"
        if n < count - 1:
            page["NextToken"] = f"token-{n + 1}"
        result.append(page)
    return result


def lookup_params(key_arn: str, token: str | None = None) -> dict:
    params = {"LookupAttributes": [{"AttributeKey": "ResourceName", "AttributeValue": key_arn}],
              "StartTime": dt.datetime(2026, 11, 26, 10, 30, tzinfo=dt.timezone.utc),
              "EndTime": dt.datetime(2026, 11, 27, 10, 30, tzinfo=dt.timezone.utc), "MaxResults": 50}
    if token:
        params["NextToken"] = token
    return params


@pytest.fixture
def cloudwatch(world):
    import boto3

    return boto3.client("cloudwatch", region_name=REGION)


def published(cloudwatch, name: str, **dims: str) -> list[float]:
    """Values of one metric as moto stored them (Sum over the test window, one datapoint per value)."""
    dimensions = [{"Name": "ClusterName", "Value": CLUSTER}] + [{"Name": k, "Value": v} for k, v in dims.items()]
    stats = cloudwatch.get_metric_statistics(
        Namespace=NAMESPACE, MetricName=name, Dimensions=dimensions, Statistics=["Sum", "SampleCount"],
        StartTime=dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1),
        EndTime=dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1), Period=7200,
    )
    return [(p["Sum"], p["SampleCount"]) for p in stats["Datapoints"]]


def attestation_lines(capsys) -> list[dict]:
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    return [line for line in lines if line["event"] == "attestation"]


# --- the event --------------------------------------------------------------------------------------------

def test_scheduled_event_carries_no_request_type_and_parses_to_cheap_stages(world) -> None:
    event = scheduled_event(world, PodCheck="true", CloudTrailCheck="true")
    assert "RequestType" not in event
    request = scheduled.parse_event(event)
    config = request.config
    assert (config.cluster_name, config.expected_key, config.cluster_role_arn) == (CLUSTER, world.key_arn, CLUSTER_ROLE_ARN)
    assert (config.pod_check, config.cloudtrail_check, config.secret_check) == (False, False, False)
    assert (request.lookback_hours, request.namespace) == (24, NAMESPACE)


def test_fails_on_an_event_without_the_scheduled_marker(world) -> None:
    event = scheduled_event(world)
    event.pop(contract.SCHEDULED_EVENT_MARKER)
    with pytest.raises(scheduled.ScheduledEventError, match="marker.*EventBridge schedule"):
        scheduled.parse_event(event)


@pytest.mark.parametrize("field, value, expected", [
    ("LookbackHours", "0", "LookbackHours is '0'; expected a whole number from 1 to 168. Fix MonitoringOptions.lookback"),
    ("LookbackHours", "a day", "LookbackHours is 'a day'"),
    ("MetricNamespace", "AWS/EKS", "MetricNamespace is 'AWS/EKS'"),
    ("SecretCheck", "maybe", "Property SecretCheck is 'maybe'; expected \"true\" or \"false\""),
    ("ClusterName", "", "Property ClusterName is missing or empty"),
])
def test_fails_on_bad_scheduled_fields(world, field: str, value: str, expected: str) -> None:
    with pytest.raises(scheduled.ScheduledEventError, match=expected):
        scheduled.parse_event(scheduled_event(world, **{field: value}))


# --- a scheduled run ----------------------------------------------------------------------------------------

def test_scheduled_run_publishes_metrics_and_one_attestation(world, runtime, cloudwatch, capsys) -> None:
    trail, stubber = stubbed_cloudtrail(*[("ok", p) for p in pages(world.key_id, 2)])
    record = scheduled.run_scheduled(scheduled.parse_event(scheduled_event(world)), world.clients(trail), cloudwatch, runtime)
    stubber.assert_no_pending_responses()

    assert published(cloudwatch, "Verified") == [(1.0, 1.0)]
    assert published(cloudwatch, "StagePassed", Stage="cluster") == [(1.0, 1.0)]
    assert published(cloudwatch, "StagePassed", Stage="key-health") == [(1.0, 1.0)]
    assert published(cloudwatch, "StagePassed", Stage="secret-roundtrip") == [], "skipped stages publish nothing"
    assert published(cloudwatch, "EvidenceFound") == [(1.0, 1.0)]
    assert published(cloudwatch, "EvidenceEvents") == [(4.0, 1.0)]

    (logged,) = attestation_lines(capsys)
    assert logged["level"] == "INFO" and logged["attestation"] == record
    assert record["kind"] == "eks-envelope.attestation" and record["version"] == 1
    assert record["time"] == "2026-11-27T10:30:00+00:00"
    assert (record["cluster"], record["key"], record["cluster_role"]) == (CLUSTER, world.key_arn, CLUSTER_ROLE_ARN)
    assert record["verified"] is True and record["reason"] is None
    assert [(s["name"], s["status"]) for s in record["stages"]] == [
        ("cluster", "passed"), ("key-health", "passed"), ("version-support", "passed"), ("secret-roundtrip", "skipped"),
        ("pod-read", "skipped"), ("kms-health", "skipped"), ("cloudtrail", "skipped")]
    assert record["evidence_levels"] == ["config-names-key", "key-usable", "cloudtrail-key-use"]
    evidence = record["evidence"]
    assert evidence["window"] == {"start": "2026-11-26T10:30:00+00:00", "end": "2026-11-27T10:30:00+00:00"}
    assert (evidence["found"], evidence["events"], evidence["via_eks"], evidence["pages"]) == (True, 4, 4, 2)
    assert evidence["event_names"] == ["Decrypt", "Encrypt"]
    assert evidence["cloudtrail_event_ids"] == [
        "0f1e2d3c-0001-4000-8000-000000000000", "0f1e2d3c-0002-4000-8000-000000000000",
        "0f1e2d3c-0001-4000-8000-000000000001", "0f1e2d3c-0002-4000-8000-000000000001"]
    assert evidence["complete"] is True and evidence["error"] is None
    assert world.server.scenario.calls() == 0, "without SecretCheck the API server is never called"


def test_secret_roundtrip_as_an_option(world, runtime, cloudwatch) -> None:
    trail, _ = stubbed_cloudtrail(("ok", pages(world.key_id, 1)[0]))
    request = scheduled.parse_event(scheduled_event(world, SecretCheck="true"))
    record = scheduled.run_scheduled(request, world.clients(trail), cloudwatch, runtime)
    assert ("secret-roundtrip", "passed") in [(s["name"], s["status"]) for s in record["stages"]]
    assert published(cloudwatch, "StagePassed", Stage="secret-roundtrip") == [(1.0, 1.0)]
    assert world.server.scenario.calls("POST", "secrets") == 1


def test_failed_verification_is_verified_zero_and_the_handler_returns(world, runtime, cloudwatch, capsys) -> None:
    world.kms.disable_key(KeyId=world.key_id)
    trail, _ = stubbed_cloudtrail(("ok", pages(world.key_id, 1)[0]))
    record = scheduled.run_scheduled(scheduled.parse_event(scheduled_event(world)), world.clients(trail), cloudwatch, runtime)
    assert record["verified"] is False and record["reason"].startswith("Stage key-health:")
    assert "EnableKey" in record["reason"]
    assert published(cloudwatch, "Verified") == [(0.0, 1.0)]
    assert published(cloudwatch, "StagePassed", Stage="key-health") == [(0.0, 1.0)]
    assert published(cloudwatch, "StagePassed", Stage="cluster") == [(1.0, 1.0)]
    (logged,) = attestation_lines(capsys)
    assert logged["level"] == "ERROR"


def test_on_schedule_end_to_end_without_a_cloudformation_event(world, runtime, monkeypatch, capsys) -> None:
    """The Lambda entry point routes an event without RequestType here; it builds its own clients (moto here)."""
    trail, stubber = stubbed_cloudtrail(("ok", pages(world.key_id, 1)[0]))
    monkeypatch.setattr(scheduled, "build_clients", lambda region, budget_seconds, with_cloudtrail=True: world.clients(trail))
    monkeypatch.setattr(scheduled, "build_runtime", lambda context, cap_seconds=None: runtime)
    record = dispatch.on_event(scheduled_event(world), FakeContext())  # routed here: no RequestType
    stubber.assert_no_pending_responses()
    assert record["verified"] is True and record["evidence"]["found"] is True
    import boto3

    metrics = boto3.client("cloudwatch", region_name=REGION).list_metrics(Namespace=NAMESPACE)["Metrics"]
    assert {m["MetricName"] for m in metrics} == {"Verified", "StagePassed", "EvidenceFound", "EvidenceEvents",
                                                  "DaysToEndOfStandardSupport"}
    assert len(attestation_lines(capsys)) == 1


# --- the CloudTrail look-back -------------------------------------------------------------------------------

def test_look_back_follows_every_page_with_its_token_paced_to_two_per_second(world, runtime, fake_time) -> None:
    calls_at: list[float] = []
    trail, stubber = stubbed_cloudtrail(fake_time=fake_time, calls_at=calls_at)
    for n, page in enumerate(pages(world.key_id, 3)):
        stubber.add_response("lookup_events", page, lookup_params(world.key_arn, f"token-{n}" if n else None))
    evidence = lookback.look_back(trail, world.key_arn, CLUSTER_ROLE_ARN, 24, runtime)
    stubber.assert_no_pending_responses()
    assert (evidence.pages, evidence.events, evidence.complete) == (3, 6, True)
    assert len(set(evidence.event_ids)) == 6
    # Measured when botocore builds the request, a few real milliseconds after the pacing decision.
    assert all(b - a >= 0.49 for a, b in zip(calls_at, calls_at[1:])), calls_at


def test_look_back_resumes_the_same_page_after_throttling(world, runtime, fake_time) -> None:
    first, second = pages(world.key_id, 2)
    trail, stubber = stubbed_cloudtrail(fake_time=fake_time)
    stubber.add_response("lookup_events", first, lookup_params(world.key_arn))
    stubber.add_client_error("lookup_events", service_error_code="ThrottlingException", http_status_code=400)
    stubber.add_client_error("lookup_events", service_error_code="ThrottlingException", http_status_code=400)
    stubber.add_response("lookup_events", second, lookup_params(world.key_arn, "token-1"))
    evidence = lookback.look_back(trail, world.key_arn, CLUSTER_ROLE_ARN, 24, runtime)
    stubber.assert_no_pending_responses()
    assert (evidence.pages, evidence.throttled, evidence.events, evidence.complete) == (2, 2, 4, True)
    assert [s for s in fake_time.sleeps if s >= 1.0] == [2.0, 4.0], "exponential backoff between throttled tries"


def test_look_back_gives_up_after_persistent_throttling_and_says_so(world, runtime, fake_time) -> None:
    errors = [("error", "ThrottlingException")] * (lookback.MAX_THROTTLED_IN_A_ROW + 1)
    trail, stubber = stubbed_cloudtrail(*errors, fake_time=fake_time)
    evidence = lookback.look_back(trail, world.key_arn, CLUSTER_ROLE_ARN, 24, runtime)
    stubber.assert_no_pending_responses()
    assert (evidence.complete, evidence.found, evidence.error) == (False, False, "LookupEvents failed (ThrottlingException)")


def test_look_back_without_permission_publishes_no_evidence_metric(world, runtime, cloudwatch) -> None:
    trail, _ = stubbed_cloudtrail(("error", "AccessDeniedException"))
    record = scheduled.run_scheduled(scheduled.parse_event(scheduled_event(world)), world.clients(trail), cloudwatch, runtime)
    assert record["verified"] is True
    assert record["evidence"]["error"] == "LookupEvents failed (AccessDeniedException)"
    assert published(cloudwatch, "Verified") == [(1.0, 1.0)]
    assert published(cloudwatch, "EvidenceFound") == [], "an unread trail is not 'no evidence'"


def test_look_back_ignores_other_principals(world, runtime) -> None:
    page = lookup_events_fixture(world.key_id)
    trail, _ = stubbed_cloudtrail(("ok", page))
    evidence = lookback.look_back(trail, world.key_arn, "arn:aws:iam::123456789012:role/someone-else", 24, runtime)
    assert (evidence.events, evidence.complete, evidence.event_ids) == (0, True, [])


def test_metric_data_shape() -> None:
    results = [checks.StageResult("cluster", "passed"), checks.StageResult("key-health", "failed"),
               checks.StageResult("secret-roundtrip", "skipped")]
    data = metrics.metric_data("c1", False, results, None)
    assert [(d["MetricName"], d["Value"], [x["Value"] for x in d["Dimensions"]]) for d in data] == [
        ("Verified", 0.0, ["c1"]), ("StagePassed", 1.0, ["c1", "cluster"]), ("StagePassed", 0.0, ["c1", "key-health"])]


# --- the deploy's own datapoint (the missing-data alarm starts with data) ----------------------------------------


def deploy_event(world, request_type="Create", **props: str) -> dict:
    return {"RequestType": request_type, "ResourceProperties": world.props(PodCheck="false", **props),
            "LogicalResourceId": "Verify", "RequestId": "r1", "StackId": "arn:aws:cloudformation:us-west-2:123456789012:stack/s/1"}


@pytest.fixture
def deploying(world, runtime, monkeypatch):
    monkeypatch.setattr(verification, "build_clients", lambda region, **_: world.clients())
    monkeypatch.setattr(verification, "build_runtime", lambda context, cap_seconds=None: runtime)
    return world


def test_a_verified_deploy_publishes_the_first_verified_datapoint(deploying, cloudwatch) -> None:
    result = dispatch.on_event(deploy_event(deploying, MetricNamespace=NAMESPACE), FakeContext())
    assert result["Data"]["Warnings"] == ""
    assert published(cloudwatch, "Verified") == [(1.0, 1.0)]  # what a scheduled run puts: the alarm starts with data
    assert published(cloudwatch, "StagePassed", Stage="cluster") == []  # per-stage outcomes stay the schedule's


def test_a_deploy_without_monitoring_publishes_nothing(deploying, cloudwatch) -> None:
    dispatch.on_event(deploy_event(deploying), FakeContext())
    assert published(cloudwatch, "Verified") == []


def test_a_rollback_answer_publishes_nothing(deploying, cloudwatch, monkeypatch) -> None:
    import types

    monkeypatch.setattr(verification, "stack_client", lambda: types.SimpleNamespace(
        describe_stacks=lambda StackName: {"Stacks": [{"StackName": "s", "StackStatus": "UPDATE_ROLLBACK_IN_PROGRESS"}]}))
    event = deploy_event(deploying, "Update", MetricNamespace=NAMESPACE)
    event["PhysicalResourceId"] = f"{CLUSTER}/envelope-verification"
    assert dispatch.on_event(event, FakeContext())["Data"]["Summary"] == verification.ROLLBACK_SUMMARY
    assert published(cloudwatch, "Verified") == []  # nothing was verified


def test_a_refused_datapoint_is_a_warning_never_a_failed_deploy(deploying, monkeypatch) -> None:
    import boto3
    from botocore.stub import Stubber

    client = boto3.client("cloudwatch", region_name=REGION)
    stub = Stubber(client)
    stub.add_client_error("put_metric_data", service_error_code="AccessDenied", http_status_code=403)
    stub.activate()
    monkeypatch.setattr(verification, "cloudwatch_client", lambda budget_seconds: client)
    result = dispatch.on_event(deploy_event(deploying, MetricNamespace=NAMESPACE), FakeContext())
    assert result["Data"]["Verified"] == "true"
    assert result["Data"]["Warnings"] == ("PutMetricData in EksEnvelope failed (AccessDenied): the VerificationMissing "
                                          "alarm may report missing data until the first scheduled run")
    stub.assert_no_pending_responses()


def test_fails_deploy_with_a_bad_metric_namespace_before_verifying(deploying) -> None:
    with pytest.raises(contract.PropertyError, match="MetricNamespace is 'AWS/EKS'.*Fix MonitoringOptions.metric_namespace"):
        dispatch.on_event(deploy_event(deploying, MetricNamespace="AWS/EKS"), FakeContext())
    assert deploying.server.scenario.log == []


def test_no_time_left_to_publish_is_a_warning(deploying, runtime, monkeypatch, cloudwatch) -> None:
    real = checks.run_verification

    def slow(config, clients, rt):
        report = real(config, clients, rt)
        rt.deadline = rt.clock() + verification.MIN_PUBLISH_SECONDS / 2  # the verification used nearly all the budget
        return report

    monkeypatch.setattr(verification, "run_verification", slow)
    result = dispatch.on_event(deploy_event(deploying, MetricNamespace=NAMESPACE), FakeContext())
    assert result["Data"]["Verified"] == "true" and result["Data"]["Warnings"].startswith("no time left to put Verified")
    assert published(cloudwatch, "Verified") == []
