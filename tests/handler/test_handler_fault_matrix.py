"""Fault matrix: each fault ends in a retried pass or a FAILED reason naming the check and the fix, fast."""
from __future__ import annotations

import copy

import pytest

from verifier.stages import aws_checks
from verifier.stages import verification as checks
from verifier.entry import dispatch, verification
from verifier import kube
from verifier_fakes import (
    CLUSTER,
    CLUSTER_ROLE_ARN,
    REGION,
    FakeContext,
    Within,
    lookup_events_fixture,
    stubbed_cloudtrail,
    make_key,
    stubbed_eks,
)


def run(world, runtime, **config):
    return checks.run_verification(world.config(**config), world.clients(), runtime)


def fail(world, runtime, **config) -> checks.VerificationError:
    with pytest.raises(checks.VerificationError) as info:
        run(world, runtime, **config)
    assert len(str(info.value)) <= 256
    return info.value


def status_of(report, stage: str) -> str:
    return {r.name: r.status for r in report.results}[stage]


def described(world) -> dict:
    cluster = copy.deepcopy(world.eks.describe_cluster(name=CLUSTER)["cluster"])
    return cluster


# --- stage 1: cluster -----------------------------------------------------------------------


def test_fails_no_encryption_config(world, runtime):
    world.eks.create_cluster(name="plain", roleArn=CLUSTER_ROLE_ARN, resourcesVpcConfig={"subnetIds": ["subnet-1"]})
    with Within(2):
        err = fail(world, runtime, cluster_name="plain")
    assert str(err).startswith("Stage cluster: cluster plain has no encryptionConfig for secrets")
    assert "associate-encryption-config" in str(err)


@pytest.mark.parametrize("entry", [
    pytest.param({}, id="resources-absent"),
    pytest.param({"resources": []}, id="resources-empty"),
    pytest.param({"resources": ["secrets"]}, id="resources-secrets"),
])
def test_encryption_config_naming_the_key_passes_whatever_its_deprecated_resources_say(world, runtime, entry):
    # EncryptionConfig.resources is deprecated (botocore since 2025-03; EKS user guide FAQ): it may be omitted
    # and no longer decides what is encrypted. A config that names the key is the cluster's envelope key.
    cluster = described(world)
    cluster["encryptionConfig"] = [{**entry, "provider": {"keyArn": world.key_arn}}]
    eks, stubber = stubbed_eks(cluster)
    clients = checks.Clients(eks=eks, kms=world.kms, cloudtrail=None, token_provider=world.clients().token_provider)
    report = checks.run_verification(world.config(pod_check=False), clients, runtime)
    assert report.key_arn == world.key_arn and report.results[0].status == "passed"


def test_fails_encryption_config_for_another_resource_only(world, runtime):
    # The only value EKS ever accepted is "secrets"; a config that names something else is not ours to read.
    cluster = described(world)
    cluster["encryptionConfig"] = [{"resources": ["configmaps"], "provider": {"keyArn": world.key_arn}}]
    eks, _ = stubbed_eks(cluster)
    clients = checks.Clients(eks=eks, kms=world.kms, cloudtrail=None, token_provider=world.clients().token_provider)
    with pytest.raises(checks.VerificationError, match="has no encryptionConfig for secrets"):
        checks.run_verification(world.config(pod_check=False), clients, runtime)


def test_fails_wrong_key(world, runtime):
    other_arn, _ = make_key(world.kms)
    with Within(2):
        err = fail(world, runtime, expected_key=other_arn)
    assert "Stage cluster: secrets are encrypted with" in str(err)
    # Both ARNs do not fit in 256 characters with the fix; they are shortened to key/<id>.
    assert f"not the expected key/{other_arn.split('/')[-1]}" in str(err)
    assert [r.status for r in err.results] == ["failed"]


def test_alias_name_and_alias_arn_resolving_to_same_key_pass(world, runtime):
    for alias in (world.alias, f"arn:aws:kms:{REGION}:123456789012:{world.alias}"):
        report = run(world, runtime, expected_key=alias)
        assert report.key_arn == world.key_arn
        assert f"resolves to {world.key_arn}" in report.results[0].detail
        assert report.results[0].aws == 2  # DescribeCluster + DescribeKey(alias): the cluster key is never described


def test_fails_alias_resolving_to_other_key(world, runtime):
    _, other_id = make_key(world.kms)
    world.kms.create_alias(AliasName="alias/looks-right", TargetKeyId=other_id)
    err = fail(world, runtime, expected_key="alias/looks-right")
    assert "Stage cluster: secrets are encrypted with" in str(err) and "not the expected" in str(err)


def test_fails_expected_key_not_found(world, runtime):
    err = fail(world, runtime, expected_key="alias/does-not-exist")
    assert "expected key alias/does-not-exist not found (DescribeKey)" in str(err)


def test_fails_kms_health_issue_on_cluster(world, runtime):
    cluster = described(world)
    cluster["health"] = {"issues": [{"code": "KmsGrantRevoked", "message": "grant revoked", "resourceIds": [world.key_arn]}]}
    eks, stubber = stubbed_eks(cluster)
    clients = checks.Clients(eks=eks, kms=world.kms, cloudtrail=None, token_provider=world.clients().token_provider)
    with pytest.raises(checks.VerificationError) as info:
        checks.run_verification(world.config(), clients, runtime)
    assert str(info.value).startswith("Stage cluster: cluster health reports KmsGrantRevoked")
    assert "recreate the cluster" in str(info.value)
    stubber.assert_no_pending_responses()


def test_fails_cluster_not_active(world, runtime):
    cluster = described(world)
    cluster["status"] = "UPDATING"
    eks, _ = stubbed_eks(cluster)
    clients = checks.Clients(eks=eks, kms=world.kms, cloudtrail=None, token_provider=world.clients().token_provider)
    with pytest.raises(checks.VerificationError, match="is UPDATING, not ACTIVE"):
        checks.run_verification(world.config(), clients, runtime)


def test_fails_cluster_role_mismatch(world, runtime):
    err = fail(world, runtime, cluster_role_arn="arn:aws:iam::123456789012:role/someone-else")
    assert "ClusterRoleArn arn:aws:iam::123456789012:role/someone-else is not the cluster's role" in str(err)


# --- stage 2: key health --------------------------------------------------------------------


def test_fails_key_disabled(world, runtime):
    world.kms.disable_key(KeyId=world.key_id)
    with Within(2):
        err = fail(world, runtime)
    assert str(err) == (f"Stage key-health: key {world.key_arn} is Disabled. Re-enable it (EnableKey) within 30 days; "
                        "until then the cluster is degraded.")


def test_fails_key_pending_deletion(world, runtime):
    world.kms.schedule_key_deletion(KeyId=world.key_id, PendingWindowInDays=7)
    err = fail(world, runtime)
    assert f"Stage key-health: key {world.key_arn} is PendingDeletion" in str(err)
    assert "CancelKeyDeletion" in str(err)


def test_fails_rotation_off(world, runtime):
    world.kms.disable_key_rotation(KeyId=world.key_id)
    err = fail(world, runtime)
    assert "Stage key-health: automatic rotation is off" in str(err) and "EnableKeyRotation" in str(err)


def test_grant_missing_but_roundtrip_ok_passes_with_warning(world, runtime):
    # EKS does not document its grant's shape: no visible grant is a warning once the round trip works.
    for grant in world.kms.list_grants(KeyId=world.key_id)["Grants"]:
        world.kms.revoke_grant(KeyId=world.key_id, GrantId=grant["GrantId"])
    report = run(world, runtime)
    assert report.passed and "key-usable" not in report.evidence
    assert report.warnings == [aws_checks.NO_GRANT_WARNING]


def test_grant_matches_role_with_path_when_config_omits_path(world, runtime):
    # The cluster role lives under path /eks/; the construct may pass the ARN without it.
    report = run(world, runtime, cluster_role_arn="arn:aws:iam::123456789012:role/eks-envelope-ClusterRole-TEST")
    assert report.results[1].status == "passed"


def test_grant_only_for_other_role_is_a_warning_not_evidence(world, runtime):
    for grant in world.kms.list_grants(KeyId=world.key_id)["Grants"]:
        world.kms.revoke_grant(KeyId=world.key_id, GrantId=grant["GrantId"])
    world.kms.create_grant(KeyId=world.key_id, GranteePrincipal="arn:aws:iam::123456789012:role/other",
                           Operations=["Encrypt", "Decrypt"])
    report = run(world, runtime)
    assert "key-usable" not in report.evidence and "no KMS grant to the cluster role" in report.warnings[0]


# --- stage 3: secret round trip over the Kubernetes API -------------------------------------


def test_throttling_burst_retried_then_passes(world, runtime, fake_time):
    world.server.scenario.inject("POST", "secrets", 429, times=3, retry_after="2")
    with Within(3):
        report = run(world, runtime)
    assert status_of(report, "secret-roundtrip") == "passed"
    assert world.server.scenario.calls("POST", "secrets", 429) == 3
    assert len(fake_time.sleeps) >= 3 and all(s >= 2 for s in fake_time.sleeps[:3])  # Retry-After honoured


def test_401_then_200_while_access_entry_propagates(world, runtime, fake_time):
    world.server.scenario.inject("POST", "secrets", 401, times=2)
    with Within(3):
        report = run(world, runtime)
    assert status_of(report, "secret-roundtrip") == "passed"
    assert world.server.scenario.calls("POST", "secrets", 401) == 2
    assert len(fake_time.sleeps) >= 2


def test_fails_persistent_403(world, runtime, fake_time):
    world.server.scenario.inject("POST", "secrets", 403, times=None)
    with Within(4):
        err = fail(world, runtime)
    assert "Stage secret-roundtrip: Kubernetes API keeps answering 403" in str(err)
    assert "access entry" in str(err)
    assert sum(fake_time.sleeps) >= 60.0  # the auth grace period was honoured (in fake time)


def test_fails_token_signed_for_another_cluster(world, runtime):
    world.server.scenario.cluster_id = "some-other-cluster"  # STS signature check fails like on a real server
    err = fail(world, runtime)
    assert "keeps rejecting the token (401)" in str(err)
    assert set(world.server.scenario.auth_rejections) == {"signature (cluster id)"}


def test_409_on_create_retries_with_fresh_name(world, runtime):
    world.server.scenario.inject("POST", "secrets", 409, times=1)
    report = run(world, runtime)
    assert status_of(report, "secret-roundtrip") == "passed"
    assert world.server.scenario.calls("POST", "secrets") == 2
    assert world.server.scenario.secrets == {}


def test_500s_then_200_passes(world, runtime):
    world.server.scenario.inject("GET", "secrets", 500, times=2)
    with Within(3):
        report = run(world, runtime)
    assert status_of(report, "secret-roundtrip") == "passed"
    assert world.server.scenario.calls("GET", "secrets", 500) == 2


def test_fails_persistent_500(world, runtime):
    world.server.scenario.inject("POST", "secrets", 500, times=None)
    with Within(4):
        err = fail(world, runtime)
    assert "Stage secret-roundtrip: Kubernetes API answered 500" in str(err) and "bounded retries" in str(err)
    assert world.server.scenario.calls("POST", "secrets", 500) == 1 + runtime.kube_policy.max_server_retries


def test_fails_tcp_accepted_but_tls_never_answered_is_no_response_not_unreachable(world, runtime, blackhole, pki):
    world.point_cluster_at(blackhole, pki.ca_pem)
    # Every request goes to the silent port (none has to succeed first), so the deadline can be short.
    runtime.kube_policy = kube.RetryPolicy(request_timeout_seconds=0.1)
    with Within(3):
        err = fail(world, runtime)
    assert "Stage secret-roundtrip: no answer to POST" in str(err) and "TLS handshake" in str(err)
    assert "did not answer in time" in str(err) and "security group" not in str(err)


def test_fails_connection_refused_is_unreachable(world, runtime, pki):
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    world.point_cluster_at(f"https://127.0.0.1:{port}", pki.ca_pem)
    with Within(3):
        err = fail(world, runtime)
    assert "Stage secret-roundtrip: cannot connect to the cluster endpoint" in str(err)
    assert "allow 443 from its security group" in str(err)


def test_fails_wrong_ca_never_falls_back_to_insecure(world, runtime, rogue_pki):
    world.point_cluster_at(world.server.endpoint, rogue_pki.ca_pem)
    with Within(3):
        err = fail(world, runtime)
    assert "Stage secret-roundtrip: TLS verification of 127.0.0.1 failed" in str(err)
    assert "Refusing to continue" in str(err)
    assert world.server.scenario.log == []  # not a single request got through


def test_fails_hostname_mismatch(world, runtime, misnamed_server):
    # The CA is the one DescribeCluster returned, but the certificate does not name 127.0.0.1.
    server, misnamed_pki = misnamed_server
    world.point_cluster_at(server.endpoint, misnamed_pki.ca_pem)
    err = fail(world, runtime)
    assert "TLS verification of 127.0.0.1 failed" in str(err) and "mismatch" in str(err).lower()
    assert server.scenario.log == []


# --- stage 4: pod on Fargate ----------------------------------------------------------------


def test_fails_pod_never_scheduled(world, runtime, fake_time):
    world.server.scenario.pod_mode = "pending"
    with Within(3):
        err = fail(world, runtime, pod_check=True, pod_timeout_seconds=120)
    assert str(err).startswith("Stage pod-read: pod never scheduled in 120s. Check the Fargate profile selector for namespace default")
    assert "eks-envelope.io/canary=verifier" in str(err)
    assert 115 <= sum(fake_time.sleeps) <= 125
    assert world.server.scenario.pods == {} and world.server.scenario.secrets == {}  # cleaned up after failure


def test_fails_pod_scheduled_but_image_never_pulled(world, runtime):
    world.server.scenario.pod_mode = "image-pull"
    err = fail(world, runtime, pod_check=True, pod_timeout_seconds=60)
    assert "pod scheduled but not finished in 60s (ImagePullBackOff)" in str(err)


def test_fails_pod_reads_different_value(world, runtime):
    world.server.scenario.pod_mode = "wrong"
    err = fail(world, runtime, pod_check=True)
    assert str(err).startswith("Stage pod-read: the pod read a different value from the mounted Secret")
    assert world.server.scenario.pods == {} and world.server.scenario.secrets == {}


def test_fails_pod_crashes(world, runtime):
    world.server.scenario.pod_mode = "crash"
    assert "canary pod exited 1 (Error)" in str(fail(world, runtime, pod_check=True))


def test_pod_mounts_the_canary_secret_with_label(world, runtime):
    report = run(world, runtime, pod_check=True)
    assert report.results[3].status == "passed"
    scenario = world.server.scenario
    assert len(scenario.created["pods"]) == 1 and scenario.created["pods"][0].startswith("eks-envelope-canary-")
    # The pod was created after the secret and deleted before it.
    deletes = [path for method, path, _ in scenario.log if method == "DELETE"]
    assert "/pods/" in deletes[0] and "/secrets/" in deletes[1]


# --- stage 5: CloudTrail never fails the deploy ---------------------------------------------



def test_cloudtrail_rate_limited_still_passes(world, runtime, fake_time):
    calls_at: list[float] = []
    client, stubber = stubbed_cloudtrail(*[("error", "ThrottlingException")] * 4, fake_time=fake_time, calls_at=calls_at)
    clients = world.clients(cloudtrail=client)
    with Within(3):
        report = checks.run_verification(world.config(cloudtrail_check=True, cloudtrail_wait_seconds=10), clients, runtime)
    ct = report.results[-1]
    assert ct.name == "cloudtrail" and ct.status == "not-yet-delivered"
    assert "throttled" in ct.detail
    assert report.passed
    assert len(calls_at) >= 1 and all(b - a >= 0.5 for a, b in zip(calls_at, calls_at[1:]))  # <= 2 requests/s


def test_cloudtrail_throttled_then_found_with_fixture(world, runtime, fake_time):
    fixture = lookup_events_fixture()
    client, stubber = stubbed_cloudtrail(("error", "ThrottlingException"), ("ok", {"Events": []}), ("ok", fixture))
    # The fixture's key and role are placeholders from another account: run the stage function directly.
    outcome = checks.collect_cloudtrail_evidence(
        client, fixture["Events"][0]["Resources"][0]["ResourceName"],
        "arn:aws:iam::111111111111:role/eks-envelope-ClusterRole-EXAMPLE", 120, runtime)
    status, detail = outcome.status, outcome.detail
    assert status == "found" and outcome.evidence == ("cloudtrail-key-use",)
    # ListGrants in the fixture is not a crypto call and does not count as evidence.
    assert detail.startswith("2 KMS calls by the cluster role (Decrypt, Encrypt; 2 via eks.amazonaws.com)")
    assert "latest 2026-11-27T10:00:06+00:00" in detail and "throttled 1x" in detail
    stubber.assert_no_pending_responses()
    # No second retry layer: a throttled lookup simply waits for the next delivery poll.
    assert sum(fake_time.sleeps) >= 2 * runtime.cloudtrail_poll_seconds


def test_cloudtrail_evidence_ignores_other_principals(runtime):
    fixture = lookup_events_fixture()
    client, _ = stubbed_cloudtrail(("ok", fixture))
    outcome = checks.collect_cloudtrail_evidence(
        client, "arn:aws:kms:us-west-2:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "arn:aws:iam::111111111111:role/some-other-role", 0, runtime)
    assert outcome.status == "not-yet-delivered" and outcome.evidence == ()


def test_cloudtrail_no_events_reports_not_yet_delivered_within_wait(world, runtime, fake_time):
    client, stubber = stubbed_cloudtrail(*[("ok", {"Events": []})] * 10)
    report = checks.run_verification(world.config(cloudtrail_check=True, cloudtrail_wait_seconds=60),
                                     world.clients(cloudtrail=client), runtime)
    ct = report.results[-1]
    assert ct.status == "not-yet-delivered" and "CloudTrail delivers in ~5-15 min" in ct.detail
    assert 1 <= ct.aws <= 4  # one lookup per poll interval, bounded by the wait
    assert sum(fake_time.sleeps) <= 60


def test_cloudtrail_access_denied_is_skipped_not_failed(world, runtime):
    client, _ = stubbed_cloudtrail(("error", "AccessDeniedException"))
    report = checks.run_verification(world.config(cloudtrail_check=True), world.clients(cloudtrail=client), runtime)
    assert report.results[-1].status == "skipped" and "AccessDeniedException" in report.results[-1].detail


# --- Delete -----------------------------------------------------------------------------------


def test_delete_with_cluster_gone_succeeds(world, monkeypatch):
    monkeypatch.setattr(verification, "build_clients", lambda region, *a, **k: world.clients())
    world.eks.delete_cluster(name=CLUSTER)
    event = {"RequestType": "Delete", "PhysicalResourceId": f"{CLUSTER}/envelope-verification",
             "ResourceProperties": world.props(), "LogicalResourceId": "Verification"}
    with Within(2):
        result = dispatch.on_event(event, FakeContext())
    assert result == {"PhysicalResourceId": f"{CLUSTER}/envelope-verification"}


def test_delete_with_unreachable_endpoint_still_succeeds(world, runtime, monkeypatch, blackhole, pki):
    monkeypatch.setattr(verification, "build_clients", lambda region, *a, **k: world.clients())
    runtime.cleanup_policy = kube.RetryPolicy(auth_grace_seconds=0, max_server_retries=1, max_connect_attempts=1,
                                              request_timeout_seconds=0.1)  # every request goes to the silent port
    monkeypatch.setattr(verification, "build_runtime", lambda context, cap_seconds=None: runtime)
    world.point_cluster_at(blackhole, pki.ca_pem)
    runtime.cleanup_seconds = 1.0
    event = {"RequestType": "Delete", "PhysicalResourceId": f"{CLUSTER}/envelope-verification",
             "ResourceProperties": world.props()}
    with Within(2):
        assert dispatch.on_event(event, FakeContext())["PhysicalResourceId"] == f"{CLUSTER}/envelope-verification"


def test_fails_aws_endpoint_unreachable_with_reason(world, runtime):
    from botocore.exceptions import ConnectTimeoutError

    def no_network(**_):
        raise ConnectTimeoutError(endpoint_url="https://kms.us-west-2.amazonaws.com/")

    clients = world.clients()
    clients.kms.meta.events.register("before-send.kms.GetKeyRotationStatus", no_network, unique_id="test-no-network")
    try:
        with pytest.raises(checks.VerificationError) as info:
            checks.run_verification(world.config(), clients, runtime)
    finally:
        clients.kms.meta.events.unregister("before-send.kms.GetKeyRotationStatus", unique_id="test-no-network")
    assert str(info.value).startswith("Stage key-health: cannot connect to the AWS API (ConnectTimeoutError")
    assert "VPC endpoints" in str(info.value) and len(str(info.value)) <= 256
