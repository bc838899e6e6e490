"""Issue 9 (handler side): update rollback never re-fails, deletion protection, dispatch; issue 10 evidence levels."""
from __future__ import annotations

import datetime as dt
import json
import types

import boto3
import pytest
from botocore.stub import Stubber

from verifier.stages import aws_checks
from verifier.stages import verification as checks
from verifier.entry import dispatch, verification
from verifier.entry import protection, scheduled
from verifier_fakes import CLUSTER, OWNER, REGION, STACK_ID, FakeContext, stubbed_cloudtrail


@pytest.fixture
def wired(world, runtime, monkeypatch):
    monkeypatch.setattr(verification, "build_clients", lambda region, **_: world.clients())
    monkeypatch.setattr(verification, "build_runtime", lambda context, cap_seconds=None: runtime)
    world.stack_status = "UPDATE_IN_PROGRESS"
    monkeypatch.setattr(verification, "stack_client", lambda: types.SimpleNamespace(
        describe_stacks=lambda StackName: {"Stacks": [{"StackName": "s", "StackStatus": world.stack_status}]}))
    return world


def event(world, request_type, physical=None, **props):
    ev = {"RequestType": request_type, "ResourceProperties": world.props(**props), "LogicalResourceId": "Verify",
          "RequestId": "r1", "StackId": STACK_ID}
    if physical:
        ev["PhysicalResourceId"] = physical
    return ev


# --- update rollback ---------------------------------------------------------------------------


def test_update_rollback_to_a_verified_state_is_not_reverified(wired):
    created = dispatch.on_event(event(wired, "Create"), FakeContext())
    wired.kms.disable_key(KeyId=wired.key_id)  # a cause outside the template
    with pytest.raises(checks.VerificationError, match="is Disabled"):
        dispatch.on_event(event(wired, "Update", created["PhysicalResourceId"], RunNonce="2"), FakeContext())
    posts = wired.server.scenario.calls("POST")
    # CloudFormation's update rollback: the old properties, the same physical id, the stack rolling back.
    wired.stack_status = "UPDATE_ROLLBACK_IN_PROGRESS"
    rolled_back = dispatch.on_event(event(wired, "Update", created["PhysicalResourceId"], RunNonce="1"), FakeContext())
    assert rolled_back["PhysicalResourceId"] == created["PhysicalResourceId"]
    assert set(rolled_back["Data"]) == set(created["Data"])
    assert rolled_back["Data"]["Verified"] == "true"
    assert rolled_back["Data"]["Summary"] == "rollback to a state verified earlier; not re-verified"
    assert wired.server.scenario.calls("POST") == posts  # nothing ran


def test_update_rollback_after_the_verification_itself_succeeded_is_not_reverified(wired):
    # The verification's update passed (new id); a later resource failed; the rollback sends the old
    # properties with the new id while the stack is UPDATE_ROLLBACK_IN_PROGRESS.
    created = dispatch.on_event(event(wired, "Create"), FakeContext())
    updated = dispatch.on_event(event(wired, "Update", created["PhysicalResourceId"], RunNonce="2"), FakeContext())
    wired.kms.disable_key(KeyId=wired.key_id)
    posts = wired.server.scenario.calls("POST")
    wired.stack_status = "UPDATE_ROLLBACK_IN_PROGRESS"
    rolled_back = dispatch.on_event(event(wired, "Update", updated["PhysicalResourceId"], RunNonce="1"), FakeContext())
    assert rolled_back["PhysicalResourceId"] == updated["PhysicalResourceId"]
    assert rolled_back["Data"]["Summary"] == "rollback to a state verified earlier; not re-verified"
    assert wired.server.scenario.calls("POST") == posts


def test_forward_update_is_verified_even_with_the_key_broken(wired):
    created = dispatch.on_event(event(wired, "Create"), FakeContext())
    wired.kms.disable_key(KeyId=wired.key_id)
    with pytest.raises(checks.VerificationError, match="is Disabled"):
        dispatch.on_event(event(wired, "Update", created["PhysicalResourceId"], RunNonce="2"), FakeContext())


def test_update_with_new_properties_verifies_under_the_same_id(wired):
    created = dispatch.on_event(event(wired, "Create"), FakeContext())
    updated = dispatch.on_event(event(wired, "Update", created["PhysicalResourceId"], PodCheck="false"), FakeContext())
    assert updated["PhysicalResourceId"] == created["PhysicalResourceId"] == f"{CLUSTER}/envelope-verification"
    assert wired.server.scenario.calls("POST", "secrets") == 2


def test_redeploying_a_change_rolled_back_after_its_verification_passed_is_verified_again(wired):
    # The verification's update passes, a later resource fails, the rollback is not re-verified: then the
    # same change deployed again must be verified, never answered "not re-verified" with Verified=true.
    created = dispatch.on_event(event(wired, "Create"), FakeContext())
    updated = dispatch.on_event(event(wired, "Update", created["PhysicalResourceId"], RunNonce="2"), FakeContext())
    wired.stack_status = "UPDATE_ROLLBACK_IN_PROGRESS"
    rolled_back = dispatch.on_event(event(wired, "Update", updated["PhysicalResourceId"], RunNonce="1"), FakeContext())
    assert rolled_back["Data"]["Summary"] == verification.ROLLBACK_SUMMARY
    posts = wired.server.scenario.calls("POST", "secrets")
    wired.stack_status = "UPDATE_IN_PROGRESS"
    again = dispatch.on_event(event(wired, "Update", rolled_back["PhysicalResourceId"], RunNonce="2"), FakeContext())
    assert again["Data"]["Summary"] != verification.ROLLBACK_SUMMARY
    assert wired.server.scenario.calls("POST", "secrets") == posts + 1


def test_redeploy_with_a_broken_key_after_such_a_rollback_fails(wired):
    created = dispatch.on_event(event(wired, "Create"), FakeContext())
    updated = dispatch.on_event(event(wired, "Update", created["PhysicalResourceId"], RunNonce="2"), FakeContext())
    wired.stack_status = "UPDATE_ROLLBACK_IN_PROGRESS"
    rolled_back = dispatch.on_event(event(wired, "Update", updated["PhysicalResourceId"], RunNonce="1"), FakeContext())
    wired.kms.disable_key(KeyId=wired.key_id)
    wired.stack_status = "UPDATE_IN_PROGRESS"
    with pytest.raises(checks.VerificationError, match="is Disabled"):
        dispatch.on_event(event(wired, "Update", rolled_back["PhysicalResourceId"], RunNonce="2"), FakeContext())


@pytest.mark.parametrize("legacy_props", [{"RunNonce": "1"}, {"RunNonce": "2"}], ids=["same-props", "new-props"])
def test_update_of_a_stack_created_with_a_fingerprinted_id_keeps_it_and_verifies(wired, legacy_props):
    # Stacks created by earlier versions carry <cluster>/envelope-verification/<fingerprint>. Returning another id
    # would make CloudFormation delete the old one after the update; keeping it sends no Delete at all. Even an id
    # whose fingerprint matches the properties is verified: only the stack's status says "rollback".
    legacy = f"{CLUSTER}/envelope-verification/{_legacy_fingerprint(wired.props(**legacy_props))}"
    result = dispatch.on_event(event(wired, "Update", legacy, **legacy_props), FakeContext())
    assert result["PhysicalResourceId"] == legacy
    assert result["Data"]["Summary"] != verification.ROLLBACK_SUMMARY
    assert wired.server.scenario.calls("POST", "secrets") == 1


def _legacy_fingerprint(props: dict) -> str:
    """How versions before this one named the verification (sha256 of the properties but ServiceToken/ServiceTimeout)."""
    import hashlib

    relevant = {k: v for k, v in props.items() if k not in ("ServiceToken", "ServiceTimeout")}
    return hashlib.sha256(json.dumps(relevant, sort_keys=True, default=str).encode()).hexdigest()[:12]


def test_delete_of_a_legacy_id_sweeps_only_canaries_provably_ours_and_done(wired):
    # Should CloudFormation ever delete a legacy id (an old stack removed), Delete only sweeps: canaries of this
    # owner older than a run can last, and abandoned ones; never one a run may still be using.
    scenario = wired.server.scenario
    scenario.plant("secrets", "eks-envelope-canary-ours-done", owner=OWNER, age_seconds=20 * 60)
    scenario.plant("secrets", "eks-envelope-canary-ours-in-flight", owner=OWNER, age_seconds=30)
    scenario.plant("secrets", "eks-envelope-canary-schedule", owner=f"schedule/{CLUSTER}", age_seconds=20 * 60)
    legacy = f"{CLUSTER}/envelope-verification/0123456789ab"
    result = dispatch.on_event(event(wired, "Delete", legacy), FakeContext())
    assert result == {"PhysicalResourceId": legacy}
    assert sorted(n for _, n in scenario.secrets) == ["eks-envelope-canary-ours-in-flight", "eks-envelope-canary-schedule"]
    assert wired.server.scenario.calls("DELETE", "secrets") == 1


def test_update_is_verified_when_the_stack_status_cannot_be_read(wired, monkeypatch):
    # Without DescribeStacks the handler cannot tell a rollback: it verifies (no assurance by guesswork).
    cfn = boto3.client("cloudformation", region_name=REGION)
    stub = Stubber(cfn)
    stub.add_client_error("describe_stacks", service_error_code="AccessDenied", http_status_code=403)
    stub.activate()
    monkeypatch.setattr(verification, "stack_client", lambda: cfn)
    result = dispatch.on_event(event(wired, "Update", f"{CLUSTER}/envelope-verification", RunNonce="2"), FakeContext())
    assert result["Data"]["Summary"] != verification.ROLLBACK_SUMMARY
    stub.assert_no_pending_responses()


@pytest.mark.parametrize("status, rolling_back", [
    ("UPDATE_ROLLBACK_IN_PROGRESS", True), ("ROLLBACK_IN_PROGRESS", False), ("UPDATE_IN_PROGRESS", False),
    ("UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS", False),
])
def test_stack_rolling_back_answers_for_the_states_asked(status, rolling_back):
    cfn = types.SimpleNamespace(describe_stacks=lambda StackName: {"Stacks": [{"StackName": "s", "StackStatus": status}]})
    assert protection.stack_rolling_back(cfn, STACK_ID, {"UPDATE_ROLLBACK_IN_PROGRESS"}) is rolling_back
    assert protection.stack_rolling_back(cfn, STACK_ID) is (status in protection.ROLLBACK_STATES)


# --- dispatch ----------------------------------------------------------------------------------


def test_event_without_request_type_is_a_scheduled_run(monkeypatch):
    seen = []
    monkeypatch.setattr(scheduled, "on_schedule", lambda e, c: seen.append(e) or {"ok": 1})
    assert dispatch.on_event({"source": "aws.events"}, FakeContext()) == {"ok": 1}
    assert seen == [{"source": "aws.events"}]


def test_fails_event_without_request_type_or_the_schedules_marker():
    with pytest.raises(scheduled.ScheduledEventError) as info:
        dispatch.on_event({"source": "aws.events"}, FakeContext())
    assert "marker" in str(info.value) and "EnvelopeEncryptionMonitoring" in str(info.value)


# --- deletion protection (botocore Stubber: moto has no UpdateClusterConfig/DescribeUpdate) -------


def protection_event(request_type, protect="true"):
    return {"RequestType": request_type, "ResourceType": "Custom::ClusterDeletionProtection", "StackId": STACK_ID,
            "LogicalResourceId": "Protection", "RequestId": "p1",
            "ResourceProperties": {"ServiceToken": "x", "ClusterName": CLUSTER, "Protect": protect}}


def cluster_shape(protected: bool) -> dict:
    return {"cluster": {"name": CLUSTER, "status": "ACTIVE", "deletionProtection": protected}}


def update_shape(status: str, errors=None) -> dict:
    return {"update": {"id": "u-1", "status": status, "type": "DeletionProtectionUpdate",
                       "params": [{"type": "DeletionProtection", "value": "true"}], "errors": errors or [],
                       "createdAt": dt.datetime(2026, 11, 28, tzinfo=dt.timezone.utc)}}


def stubbed(*steps):
    eks = boto3.client("eks", region_name=REGION)
    stub = Stubber(eks)
    for op, response, params in steps:
        if op == "error":
            stub.add_client_error(response, service_error_code=params, http_status_code=404)
        else:
            stub.add_response(op, response, params)
    stub.activate()
    return eks, stub


def run_protection(ev, eks, cloudformation=None):
    return protection.on_event(ev, FakeContext(), eks=eks, cloudformation=cloudformation, clock=lambda: 0.0, sleep=lambda s: None)


def test_create_turns_protection_on_and_waits_for_the_update():
    eks, stub = stubbed(
        ("describe_cluster", cluster_shape(False), {"name": CLUSTER}),
        ("update_cluster_config", update_shape("InProgress"), {"name": CLUSTER, "deletionProtection": True}),
        ("describe_update", update_shape("InProgress"), {"name": CLUSTER, "updateId": "u-1"}),
        ("describe_update", update_shape("Successful"), {"name": CLUSTER, "updateId": "u-1"}),
    )
    result = run_protection(protection_event("Create"), eks)
    assert result == {"PhysicalResourceId": f"{CLUSTER}/deletion-protection", "Data": {"Protected": "true"}}
    stub.assert_no_pending_responses()


def test_update_already_in_the_wanted_state_makes_no_change():
    eks, stub = stubbed(("describe_cluster", cluster_shape(True), {"name": CLUSTER}))
    assert run_protection(protection_event("Update"), eks)["Data"] == {"Protected": "true"}
    stub.assert_no_pending_responses()


def test_fails_update_that_eks_reports_failed_names_its_errors():
    eks, _ = stubbed(
        ("describe_cluster", cluster_shape(False), {"name": CLUSTER}),
        ("update_cluster_config", update_shape("InProgress"), {"name": CLUSTER, "deletionProtection": True}),
        ("describe_update", update_shape("Failed", [{"errorCode": "AccessDenied", "errorMessage": "no <b>way</b>"}]),
         {"name": CLUSTER, "updateId": "u-1"}),
        # The failed Create makes sure protection is off before it reports: the update is over, and off it is.
        ("describe_update", update_shape("Failed"), {"name": CLUSTER, "updateId": "u-1"}),
        ("describe_cluster", cluster_shape(False), {"name": CLUSTER}),
    )
    with pytest.raises(protection.ProtectionError) as info:
        run_protection(protection_event("Create"), eks)
    assert str(info.value).startswith("Stage deletion-protection: turning deletion protection on for envelope-test ended Failed")
    assert "AccessDenied: no way" in str(info.value) and len(str(info.value)) <= 256


def test_fails_delete_while_protected_with_the_documented_path():
    eks, _ = stubbed(("describe_cluster", cluster_shape(True), {"name": CLUSTER}))
    with pytest.raises(protection.ProtectionError) as info:
        run_protection(protection_event("Delete"), eks)
    reason = str(info.value)
    assert reason.startswith(f"Stage deletion-protection: Cluster {CLUSTER} is deletion-protected, so this stack refuses deletion.")
    assert reason.endswith("make deploy CONTEXT='-c deletion_protection=false', then make destroy "
                           "(docs/operations.md#removing-a-production-stack).")


def test_fails_delete_while_protected_keeps_the_fix_with_a_long_cluster_name():
    reason = protection.refusal("c" * 100)
    assert len(reason) <= 256 and "make destroy (docs/operations.md#removing-a-production-stack)." in reason


def test_fails_create_that_runs_out_of_time_turns_protection_off_again():
    # Protection went on after the handler gave up waiting: the rollback's DeleteCluster would be
    # refused on an ACTIVE protected cluster, so the failed Create turns it off before it reports.
    eks, stub = stubbed(
        ("describe_cluster", cluster_shape(False), {"name": CLUSTER}),
        ("update_cluster_config", update_shape("InProgress"), {"name": CLUSTER, "deletionProtection": True}),
        *[("describe_update", update_shape("InProgress"), {"name": CLUSTER, "updateId": "u-1"})] * 3,
        # The revert waits for the update it started, then finds protection on and turns it off.
        ("describe_update", update_shape("Successful"), {"name": CLUSTER, "updateId": "u-1"}),
        ("describe_cluster", cluster_shape(True), {"name": CLUSTER}),
        ("update_cluster_config", update_shape("InProgress"), {"name": CLUSTER, "deletionProtection": False}),
        ("describe_update", update_shape("Successful"), {"name": CLUSTER, "updateId": "u-1"}),
    )
    now = [0.0]
    # 176 s left: 46 s kept back, 120 s reserved for the revert, so the protect step has 10 s (3 polls).
    with pytest.raises(protection.ProtectionError, match="still InProgress when time ran out"):
        protection.on_event(protection_event("Create"), FakeContext(176_000), eks=eks, clock=lambda: now[0],
                            sleep=lambda s: now.__setitem__(0, now[0] + s))
    stub.assert_no_pending_responses()


def test_delete_during_create_rollback_turns_protection_off():
    eks, stub = stubbed(
        ("describe_cluster", cluster_shape(True), {"name": CLUSTER}),
        ("describe_cluster", cluster_shape(True), {"name": CLUSTER}),
        ("update_cluster_config", update_shape("Successful"), {"name": CLUSTER, "deletionProtection": False}),
        ("describe_update", update_shape("Successful"), {"name": CLUSTER, "updateId": "u-1"}),
    )
    cfn = boto3.client("cloudformation", region_name=REGION)
    cfn_stub = Stubber(cfn)
    cfn_stub.add_response("describe_stacks", {"Stacks": [{"StackName": "s", "StackStatus": "ROLLBACK_IN_PROGRESS",
                                                          "CreationTime": dt.datetime(2026, 11, 28)}]}, {"StackName": STACK_ID})
    cfn_stub.activate()
    assert run_protection(protection_event("Delete"), eks, cfn) == {"PhysicalResourceId": f"{CLUSTER}/deletion-protection"}
    stub.assert_no_pending_responses()


def test_delete_with_protect_false_makes_sure_protection_is_off():
    eks, stub = stubbed(
        ("describe_cluster", cluster_shape(True), {"name": CLUSTER}),
        ("describe_cluster", cluster_shape(True), {"name": CLUSTER}),
        ("update_cluster_config", update_shape("InProgress"), {"name": CLUSTER, "deletionProtection": False}),
        ("describe_update", update_shape("Successful"), {"name": CLUSTER, "updateId": "u-1"}),
    )
    assert run_protection(protection_event("Delete", "false"), eks)["PhysicalResourceId"] == f"{CLUSTER}/deletion-protection"
    stub.assert_no_pending_responses()


def test_delete_of_a_gone_cluster_succeeds():
    eks, _ = stubbed(("error", "describe_cluster", "ResourceNotFoundException"))
    assert run_protection(protection_event("Delete"), eks) == {"PhysicalResourceId": f"{CLUSTER}/deletion-protection"}


def test_protection_events_reach_the_protection_handler(monkeypatch):
    monkeypatch.setattr(protection, "on_event", lambda e, c: {"PhysicalResourceId": "routed"})
    assert dispatch.on_event(protection_event("Create"), FakeContext()) == {"PhysicalResourceId": "routed"}


# --- grant forms and evidence levels ----------------------------------------------------------------


ROLE = "arn:aws:iam::123456789012:role/eks/eks-envelope-ClusterRole-TEST"


@pytest.mark.parametrize("grant, form", [
    ({"GranteePrincipal": "arn:aws:iam::123456789012:role/eks-envelope-ClusterRole-TEST"}, "role ARN"),
    ({"GranteePrincipal": "arn:aws:sts::123456789012:assumed-role/eks-envelope-ClusterRole-TEST/1700000000"}, "assumed-role session"),
    ({"GranteePrincipal": "eks.amazonaws.com"}, "EKS service principal"),
    ({"GranteeServicePrincipal": "eks.amazonaws.com"}, "EKS service principal"),
    ({"GranteePrincipal": "arn:aws:iam::123456789012:role/other"}, None),
    ({"GranteePrincipal": "arn:aws:iam::999999999999:role/eks-envelope-ClusterRole-TEST"}, None),
])
def test_grantee_forms(grant, form):
    assert aws_checks.grantee_form(grant, ROLE) == form


def test_kms_provider_unhealthy_fails(world, runtime):
    world.server.scenario.readyz = (500, "[+]ping ok\n[-]kms-providers failed: reason withheld\nreadyz check failed\n")
    with pytest.raises(checks.VerificationError) as info:
        checks.run_verification(world.config(), world.clients(), runtime)
    assert str(info.value).startswith("Stage kms-health: the API server reports kms-providers failed")
    assert world.server.scenario.secrets == {}


@pytest.mark.parametrize("readyz", [(403, "forbidden"), (200, "[+]ping ok\n[+]etcd ok\nreadyz check passed\n")])
def test_kms_provider_not_visible_is_unavailable_not_failure(world, runtime, readyz):
    world.server.scenario.readyz = readyz
    report = checks.run_verification(world.config(), world.clients(), runtime)
    stage = next(r for r in report.results if r.name == "kms-health")
    assert stage.status == "unavailable" and "kms-provider-healthy" not in report.evidence and report.passed


def test_fails_strict_cloudtrail_without_evidence(world, runtime):
    client, _ = stubbed_cloudtrail(*[("ok", {"Events": []})] * 10)
    with pytest.raises(checks.VerificationError) as info:
        checks.run_verification(world.config(cloudtrail_check=True, cloudtrail_required=True, cloudtrail_wait_seconds=30),
                                world.clients(cloudtrail=client), runtime)
    reason = str(info.value)
    assert reason.startswith("Stage cloudtrail: strict mode: no CloudTrail evidence") and len(reason) <= 256
    assert reason.endswith("retry the deploy, raise CloudTrailWaitSeconds, or set CloudTrailRequired false.")
    assert world.server.scenario.secrets == {}


def test_default_cloudtrail_without_evidence_is_non_blocking(world, runtime):
    client, _ = stubbed_cloudtrail(*[("ok", {"Events": []})] * 10)
    report = checks.run_verification(world.config(cloudtrail_check=True, cloudtrail_wait_seconds=30),
                                     world.clients(cloudtrail=client), runtime)
    assert report.passed and report.results[-1].status == "not-yet-delivered"
    assert report.evidence == ["config-names-key", "key-usable", "api-roundtrip", "kms-provider-healthy"]


def test_data_stays_under_cloudformations_limit_with_many_leftovers(wired, monkeypatch):
    from verifier.model import Report

    leftovers = [f"eks-envelope-canary-{i:010x}" for i in range(500)]
    report = Report(results=[], key_arn="arn:aws:kms:eu-west-1:111122223333:key/k", cluster_name=CLUSTER,
                    evidence=["config-names-key"], warnings=["w" * 2000], leftovers=leftovers)
    monkeypatch.setattr(verification, "run_verification", lambda config, clients, runtime: report)
    data = dispatch.on_event(event(wired, "Create"), FakeContext())["Data"]
    assert len(json.dumps(data)) <= 3500
    assert data["Leftovers"].endswith(",+490 more (see the logs)") and data["Leftovers"].startswith(leftovers[0])
