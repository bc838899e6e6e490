"""Issue 10: the verifier against a CA-trusted server that misbehaves, broken CAs, hostile events.

Each test names the failure class it proves; every reason is `Stage <name>: ...`, at most 256 characters,
with the fix intact and no raw server text.
"""
from __future__ import annotations

import base64

import pytest

from verifier import contract, text
from verifier.stages import verification as checks
from verifier.entry import dispatch, verification
from verifier import kube
from verifier_fakes import CLUSTER, STACK_ID, FakeContext, Within, make_key


def fail(world, runtime, **config) -> checks.VerificationError:
    with pytest.raises(checks.VerificationError) as info:
        checks.run_verification(world.config(**config), world.clients(), runtime)
    reason = str(info.value)
    assert reason.startswith("Stage ") and len(reason) <= 256, reason
    assert "<" not in reason and "\x1b" not in reason  # no HTML, no terminal escapes from the server
    return info.value


def tokens_minted(world) -> list[str]:
    minted: list[str] = []
    clients = world.clients()
    issue = clients.token_provider
    clients.token_provider = lambda name: minted.append(name) or issue(name)
    world.recorded = clients
    return minted


# --- trust ---------------------------------------------------------------------------------


@pytest.mark.parametrize("ca, words", [
    (b"", "is empty"),
    (b"not base64 at all!!", "not base64"),
    (b"-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n", "holds no PEM certificate"),
    (b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "not a usable certificate"),
])
def test_fails_unusable_ca_before_any_token_leaves(world, runtime, ca, words):
    minted = tokens_minted(world)
    data = "not base64 at all!!" if words == "not base64" else base64.b64encode(ca).decode()
    world.cluster_backend().certificate_authority = {"data": data}
    with pytest.raises(checks.VerificationError) as info:
        checks.run_verification(world.config(), world.recorded, runtime)
    assert str(info.value).startswith("Stage secret-roundtrip: certificateAuthority.data")
    assert words in str(info.value) and "Refusing to send the token" in str(info.value)
    assert minted == [] and world.server.scenario.log == []


def test_empty_ca_never_falls_back_to_the_system_store():
    # create_default_context(cadata="") would load the system store; the pinned context must hold no CA at all.
    with pytest.raises(kube.KubeError) as info:
        kube.pinned_context("")
    assert info.value.kind == "config"


def test_ca_context_trusts_exactly_the_cluster_ca(pki):
    ctx = kube.pinned_context(base64.b64encode(pki.ca_pem).decode())
    assert len(ctx.get_ca_certs()) == 1 and ctx.check_hostname and ctx.verify_mode.name == "CERT_REQUIRED"


def test_fails_redirect_is_never_followed(world, runtime):
    world.server.scenario.misbehave("POST", "secrets", "redirect")
    err = fail(world, runtime)
    assert "answered a redirect" in str(err) and "never followed" in str(err)
    assert world.server.scenario.calls("POST", "secrets") == 1  # one request, to the cluster only


# --- deadlines -----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["trickle", "trickle-headers"])
def test_fails_trickling_server_within_the_request_deadline(world, runtime, mode):
    # A byte every 0.05 s, for 30 s: each read gets data well inside the 0.3 s request timeout, so only a
    # deadline on the whole request (not a per-read socket timeout) ends it.
    world.server.scenario.trickle_seconds = 0.05
    world.server.scenario.misbehave("GET", "secrets", mode)
    runtime.kube_policy = kube.RetryPolicy(request_timeout_seconds=0.3)
    runtime.cleanup_seconds = 2.0
    with Within(5):  # the server would trickle for 30 s
        err = fail(world, runtime)
    assert "Stage secret-roundtrip: no answer to GET" in str(err) and "within the deadline" in str(err)


def test_fails_hung_response_is_no_answer_not_unreachable(world, runtime):
    world.server.scenario.misbehave("POST", "secrets", "hang")
    runtime.kube_policy = kube.RetryPolicy(request_timeout_seconds=0.25)  # the server hangs for 30 s
    runtime.cleanup_seconds = 2.0
    with Within(5):
        err = fail(world, runtime)
    assert "no answer to POST" in str(err) and "did not answer in time" in str(err)
    assert "security group" not in str(err)


def test_request_never_outlives_the_stage_deadline(world, runtime, fake_time):
    world.server.scenario.misbehave("GET", "secrets", "hang")
    runtime.kube_policy = kube.RetryPolicy(request_timeout_seconds=30.0)
    runtime.cleanup_seconds = 1.0
    runtime.deadline = fake_time.clock() + 3.0  # the stage budget, not the request timeout, bounds it
    with Within(5):
        err = fail(world, runtime)
    assert "no answer to GET" in str(err) or "ran out of time" in str(err) or "no time left" in str(err)


# --- diagnosis -----------------------------------------------------------------------------


@pytest.mark.parametrize("mode, method, words", [
    ("truncate", "GET", "truncated response to GET"),
    ("oversize", "GET", "oversized response to GET"),
    ("html", "GET", "unparsable response to GET"),
    ("deep", "GET", "unparsable response to GET"),
    ("deep-object", "GET", "unparsable response to GET"),
    ("list-body", "GET", "wrong shape"),
    ("value-int", "GET", "no string data.value"),
    ("html-error", "POST", "answered 418"),
])
def test_fails_broken_bodies_are_not_a_tampering_alarm(world, runtime, mode, method, words):
    world.server.scenario.misbehave(method, "secrets", mode)
    err = fail(world, runtime)
    assert words in str(err), str(err)
    assert "different Secret value" not in str(err)  # only a real mismatch says that


def test_fails_tampered_value_is_a_value_mismatch(world, runtime):
    world.server.scenario.misbehave("GET", "secrets", "tamper")
    err = fail(world, runtime)
    assert "the API server returned a different Secret value than was written" in str(err)


def test_fails_lost_response_then_retry_keeps_own_object_and_cleans_up(world, runtime):
    # The POST lands but its answer is lost; the retry meets our own object (409) and the run goes on.
    world.server.scenario.misbehave("POST", "secrets", "lose")
    report = checks.run_verification(world.config(), world.clients(), runtime)
    assert report.passed and report.leftovers == []
    assert world.server.scenario.calls("POST", "secrets") == 2 and world.server.scenario.secrets == {}


def test_fails_lost_response_twice_still_cleans_up_the_recorded_name(world, runtime):
    world.server.scenario.misbehave("POST", "secrets", "lose", times=2)
    err = fail(world, runtime)
    assert "the response to POST" in str(err) and "was lost" in str(err)
    assert len(world.server.scenario.created["secrets"]) == 1
    assert world.server.scenario.secrets == {}  # recorded before the POST, deleted after the failure


def test_fails_leftover_is_named_in_the_reason(world, runtime):
    world.server.scenario.misbehave("GET", "secrets", "tamper")
    world.server.scenario.inject("DELETE", "secrets", 500, times=None)
    err = fail(world, runtime)
    created = world.server.scenario.created["secrets"][0]
    assert "different Secret value" in str(err) and "Check the KMS provider" in str(err)
    assert f"Left on the cluster (delete them in default): secrets/{created}" in str(err)


def test_fails_foreign_account_key_is_wrong_key_without_describe_key(world, runtime):
    foreign = "arn:aws:kms:us-west-2:999999999999:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    world.cluster_backend().encryption_config = [{"resources": ["secrets"], "provider": {"keyArn": foreign}}]
    clients = world.clients()
    err = None
    with pytest.raises(checks.VerificationError) as info:
        checks.run_verification(world.config(), clients, runtime)
    err = str(info.value)
    assert err.startswith("Stage cluster: secrets are encrypted with") and "999999999999" in err
    assert "The key cannot change in place" in err and "not found" not in err and "kms:DescribeKey" not in err
    assert info.value.results[0].aws == 1  # DescribeCluster only


def test_fails_other_key_same_account_reports_both(world, runtime):
    other, _ = make_key(world.kms)
    err = fail(world, runtime, expected_key=other)
    assert "not the expected" in str(err) and "fix KeyArn or recreate the cluster" in str(err)


def test_long_reason_keeps_the_fix_and_scrubs_server_text():
    problem = "x" * 400 + " <script>alert(1)</script>"
    reason = text.fit_reason("secret-roundtrip", problem, "Do the fix.", "Left on the cluster: secrets/a.")
    assert len(reason) <= 256 and reason.endswith("Do the fix. Left on the cluster: secrets/a.")
    assert text.scrub("<h1>bad\x00\x1b[31m gateway</h1>", 40) == "bad [31m gateway"


# --- hostile events --------------------------------------------------------------------------


@pytest.mark.parametrize("event", [
    [],
    {"RequestType": "Create"},
    {"RequestType": "Create", "ResourceProperties": "nope"},
    {"RequestType": "Create", "ResourceProperties": {"ClusterName": {"nested": [1, 2]}}},
    {"RequestType": "Frobnicate", "ResourceProperties": {}},
    {"RequestType": "Create", "ResourceProperties": {"ClusterName": "c" * 5000}},
    {"RequestType": "Update", "PhysicalResourceId": None, "ResourceProperties": {"PodCheck": "<b>yes</b>"}},
    {"RequestType": "Create", "ResourceType": "Custom::ClusterDeletionProtection", "ResourceProperties": {"Protect": 7}},
])
def test_hostile_events_fail_with_a_bounded_reason(world, event):
    with pytest.raises(Exception) as info:
        dispatch.on_event(event, FakeContext())
    reason = str(info.value)
    assert isinstance(info.value, (contract.PropertyError, dispatch.HandlerError, checks.VerificationError)) or \
        type(info.value).__name__ == "ProtectionError", type(info.value)
    assert reason.startswith("Stage ") and len(reason) <= 256 and "<b>" not in reason, reason


def test_unexpected_exception_is_a_bounded_reason(world, runtime, monkeypatch):
    def boom(*_a, **_k):
        raise KeyError("'some raw server text <html>'")

    monkeypatch.setattr(verification, "build_runtime", lambda context, cap_seconds=None: runtime)
    monkeypatch.setattr(verification, "build_clients", lambda region, **_: world.clients())
    monkeypatch.setattr(verification, "run_verification", boom)
    ev = {"RequestType": "Create", "StackId": STACK_ID, "LogicalResourceId": "Verify", "RequestId": "r",
          "ResourceProperties": world.props()}
    with pytest.raises(dispatch.HandlerError) as info:
        dispatch.on_event(ev, FakeContext())
    assert str(info.value) == ("Stage handler: internal error (KeyError). Retry; if it repeats, report the "
                               "handler.crashed log line.")


def test_delete_of_a_misbehaving_server_returns_fast(world, runtime, monkeypatch):
    world.server.scenario.misbehave("GET", "pods", "hang", times=None)
    runtime.cleanup_policy = kube.RetryPolicy(auth_grace_seconds=0, max_server_retries=1, max_connect_attempts=1,
                                              request_timeout_seconds=0.25)
    monkeypatch.setattr(verification, "build_runtime", lambda context, cap_seconds=None: runtime)
    monkeypatch.setattr(verification, "build_clients", lambda region, **_: world.clients())
    ev = {"RequestType": "Delete", "PhysicalResourceId": f"{CLUSTER}/envelope-verification/x", "StackId": STACK_ID,
          "LogicalResourceId": "Verify", "RequestId": "d", "ResourceProperties": world.props()}
    with Within(4):
        assert dispatch.on_event(ev, FakeContext()) == {"PhysicalResourceId": f"{CLUSTER}/envelope-verification/x"}
