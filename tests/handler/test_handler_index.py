"""The custom-resource contract: properties, result Data, Delete, and no secret anywhere it should not be."""
from __future__ import annotations

import hashlib
import json

import pytest

from verifier import contract
from verifier.stages import verification as checks
from verifier.entry import dispatch, verification
from verifier import jsonlog

from verifier_fakes import CLUSTER, OWNER, REGION, STACK_ID, FakeContext, Within, lookup_events_fixture, stubbed_cloudtrail


@pytest.fixture
def wired(world, runtime, monkeypatch):
    """dispatch.on_event with the moto/fake-server clients and the fake clock; records every token issued."""
    tokens: list[str] = []
    clients = world.clients()
    issue = clients.token_provider

    def recording_provider(name: str) -> str:
        tokens.append(issue(name))
        return tokens[-1]

    clients.token_provider = recording_provider
    monkeypatch.setattr(verification, "build_clients", lambda region, *a, **k: clients)

    monkeypatch.setattr(verification, "build_runtime", lambda context, cap_seconds=None: runtime)
    world.tokens = tokens
    world.wired_clients = clients
    return world


def event(world, request_type="Create", **props):
    return {"RequestType": request_type, "ResourceProperties": world.props(**props), "LogicalResourceId": "Verify",
            "RequestId": "r1", "StackId": STACK_ID,
            "ResponseURL": "https://cloudformation-custom-resource-response-uswest2.s3.amazonaws.com/never-used"}


def test_create_returns_data_with_summary_and_stable_physical_id(wired):
    with Within(3):
        result = dispatch.on_event(event(wired), FakeContext())
    assert result["PhysicalResourceId"] == f"{CLUSTER}/envelope-verification"
    data = result["Data"]
    assert set(data) == {"Verified", "KeyArn", "Summary", "Evidence", "Warnings", "Leftovers", "KubernetesVersion",
                         "VersionStatus", "EndOfStandardSupport"}
    assert data["Evidence"] == "config-names-key,key-usable,api-roundtrip,pod-read,kms-provider-healthy"
    assert data["Verified"] == "true" and data["KeyArn"] == wired.key_arn
    summary = json.loads(data["Summary"])
    stages = {s["name"]: s for s in summary["stages"]}
    assert [s["status"] for s in summary["stages"]] == ["passed", "passed", "passed", "passed", "passed", "passed", "skipped"]
    assert stages["cluster"]["aws"] == 2 and stages["key-health"]["aws"] == 2 and stages["version-support"]["aws"] == 1
    assert summary["aws"] == 5
    assert stages["secret-roundtrip"]["k8s"] == 2  # POST + GET
    assert stages["pod-read"]["k8s"] == 3  # POST, GET (Pending), GET (terminated)
    # GET /readyz, then cleanup: DELETE pod, DELETE secret, sweep: list pods, list secrets
    assert stages["kms-health"]["k8s"] == 5


def test_canary_value_and_token_never_in_logs_or_data(wired, capsys):
    result = dispatch.on_event(event(wired, PodCheck="true"), FakeContext())
    wired.server.scenario.pod_mode = "wrong"
    with pytest.raises(checks.VerificationError) as info:
        dispatch.on_event(event(wired), FakeContext())
    out = capsys.readouterr()
    logs = out.out + out.err
    values = wired.server.scenario.seen_values
    assert len(values) == 2 and len(wired.tokens) >= 2
    assert logs.count("\n") >= 10 and all(json.loads(line) for line in logs.splitlines())  # one JSON object per line
    data = json.dumps(result["Data"])
    assert len(data.encode()) < 4096
    for value in values:
        for needle in (value, hashlib.sha256(value.encode()).hexdigest()):
            assert needle not in logs and needle not in data and needle not in str(info.value)
    for token in wired.tokens:
        assert token not in logs and token[len("k8s-aws-v1."):][:40] not in logs


def test_default_stages_calls(wired):
    result = dispatch.on_event(event(wired, PodCheck="false"), FakeContext())
    summary = json.loads(result["Data"]["Summary"])
    assert [s["status"] for s in summary["stages"]] == ["passed", "passed", "passed", "passed", "skipped", "passed", "skipped"]
    assert summary["aws"] == 5  # DescribeCluster, DescribeKey, GetKeyRotationStatus, ListGrants, DescribeClusterVersions
    assert summary["k8s"] == 6  # POST, GET secret; GET /readyz; DELETE secret; list pods, list secrets
    assert all(n.startswith("eks-envelope-canary-") for n in wired.server.scenario.created["secrets"])


REQUIRED = ["ClusterName", "KeyArn", "ClusterRoleArn", "CanaryNamespace", "CanaryLabelKey", "CanaryLabelValue", "PodCheck",
            "PodImage", "PodTimeoutSeconds", "CloudTrailCheck", "CloudTrailWaitSeconds", "CloudTrailRequired"]


@pytest.mark.parametrize("missing", REQUIRED)
def test_fails_missing_required_property(wired, missing):
    ev = event(wired)
    del ev["ResourceProperties"][missing]
    with pytest.raises(contract.PropertyError) as info:
        dispatch.on_event(ev, FakeContext())
    assert str(info.value).startswith(f"Stage properties: Property {missing} is missing or empty")
    assert wired.server.scenario.log == []


def test_fails_bad_boolean_property_names_property_value_and_fix(wired):
    with pytest.raises(contract.PropertyError) as info:
        dispatch.on_event(event(wired, PodCheck="yes"), FakeContext())
    assert str(info.value) == "Stage properties: Property PodCheck is 'yes'; expected \"true\" or \"false\". Fix the value passed by the construct."


def test_booleans_accept_case_insensitive_strings_and_bools(world):
    base = world.props()
    mixed = verification.properties({**base, "PodCheck": "TRUE", "CloudTrailCheck": "False"})
    assert (mixed.pod_check, mixed.cloudtrail_check) == (True, False)
    assert verification.properties({**base, "PodCheck": False}).pod_check is False
    assert verification.properties({**base, "CloudTrailCheck": True}).cloudtrail_check is True


def test_fails_non_numeric_timeout(wired):
    with pytest.raises(contract.PropertyError, match="Property PodTimeoutSeconds is 'soon'; expected a number of seconds"):
        dispatch.on_event(event(wired, PodTimeoutSeconds="soon"), FakeContext())


def test_delete_sweeps_only_provably_ours_canaries(wired):
    scenario = wired.server.scenario
    scenario.plant("secrets", "eks-envelope-canary-ours-old", owner=OWNER, age_seconds=20 * 60)  # ours, done
    scenario.plant("secrets", "eks-envelope-canary-ours-young", owner=OWNER, age_seconds=60)  # ours, maybe in flight
    scenario.plant("secrets", "eks-envelope-canary-other-young", owner="cli/x/1", age_seconds=30 * 60)  # another run
    scenario.plant("secrets", "eks-envelope-canary-abandoned", owner="cli/y/2", age_seconds=2 * 3600)  # anyone's, abandoned
    scenario.plant("secrets", "unrelated", labels={"app": "x"}, age_seconds=5 * 3600)
    scenario.plant("secrets", "eks-envelope-canary-unlabelled", labels={"app": "x"}, age_seconds=5 * 3600)
    ev = {"RequestType": "Delete", "PhysicalResourceId": f"{CLUSTER}/envelope-verification/abc", "StackId": STACK_ID,
          "LogicalResourceId": "Verify", "RequestId": "d1", "ResourceProperties": wired.props()}
    result = dispatch.on_event(ev, FakeContext())
    assert result == {"PhysicalResourceId": f"{CLUSTER}/envelope-verification/abc"}
    assert sorted(n for _, n in scenario.secrets) == ["eks-envelope-canary-other-young", "eks-envelope-canary-ours-young",
                                                     "eks-envelope-canary-unlabelled", "unrelated"]


def test_fails_deadline_reached_with_reason(wired, runtime):
    runtime.deadline = runtime.clock() + 0.5
    with pytest.raises(checks.VerificationError, match="Stage cluster: no time left before the stage"):
        dispatch.on_event(event(wired), FakeContext())


def test_data_summary_stays_under_4kb_with_long_details():
    results = [checks.StageResult(f"stage-{i}", "failed", 1, 1, 1, "x" * 1000) for i in range(5)]
    report = checks.Report(results, "arn:aws:kms:us-west-2:123456789012:key/" + "a" * 36, CLUSTER)
    assert len(report.summary_json()) < 1500


def test_reason_is_shortened_to_256_characters_keeping_the_fix():
    arn = "arn:aws:kms:us-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    err = checks.VerificationError("key-health", f"key {arn} and {arn} and {arn} is Disabled. Re-enable it (EnableKey).")
    assert len(str(err)) <= 256 and str(err).endswith("Re-enable it (EnableKey).")
    assert "key/1234abcd-12ab-34cd-56ef-1234567890ab" in str(err)


def test_json_logger_redacts_forbidden_fields(capsys):
    jsonlog.info("x", token="k8s-aws-v1.abc", value="hunter2", other="ok")
    line = json.loads(capsys.readouterr().out)
    assert line["token"] == "<redacted>" and line["value"] == "<redacted>" and line["other"] == "ok"


def test_cloudtrail_evidence_found_end_to_end_in_summary(wired):
    client, stubber = stubbed_cloudtrail(("ok", lookup_events_fixture(wired.key_id)))
    wired.wired_clients.cloudtrail = client
    wired.wired_clients.meter.attach(client)  # counted like every client the handler builds
    result = dispatch.on_event(event(wired, CloudTrailCheck="true", PodCheck="false"), FakeContext())
    ct = json.loads(result["Data"]["Summary"])["stages"][-1]
    assert ct["name"] == "cloudtrail" and ct["status"] == "found" and ct["aws"] == 1
    assert result["Data"]["Evidence"].endswith(",cloudtrail-key-use")
    assert ct["detail"].startswith("2 KMS calls by the cluster role (Decrypt, Encrypt")
    stubber.assert_no_pending_responses()
