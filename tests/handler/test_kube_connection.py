"""The Kubernetes client keeps one TLS connection open between requests, and only while it is healthy.

Re-encrypting a cluster is a request per object: a handshake each would cost round trips per Secret.
Every attempt keeps its own deadline on a reused connection, and a connection the server dropped is
replaced before it is used, not discovered by a failed attempt.
"""
from __future__ import annotations

import base64

import pytest

from verifier.stages import verification as checks
from verifier import kube
from verifier.kube import transport as kube_transport
from verifier_fakes import CLUSTER, Within


def _client(world, fake_time, request_timeout_seconds: float = 1.0) -> kube.KubeClient:
    ca = base64.b64encode(world.pki.ca_pem).decode()
    return kube.KubeClient(world.server.endpoint, ca, lambda: kube.make_token(world.sts, CLUSTER),
                           deadline=fake_time.clock() + 60.0, policy=kube.RetryPolicy(request_timeout_seconds=request_timeout_seconds),
                           clock=fake_time.clock, sleep=fake_time.sleep)


@pytest.fixture
def client(world, fake_time) -> kube.KubeClient:
    with _client(world, fake_time) as kube_client:
        yield kube_client


def _get(client: kube.KubeClient, name: str = "absent") -> int:
    status, _ = client.get("secrets", "default", name)
    return status


def test_a_verification_opens_one_connection_and_closes_it(world, runtime, monkeypatch):
    opened: list[kube.KubeClient] = []  # held here, so only an explicit close (not garbage collection) ends it
    open_kube = checks.open_kube
    monkeypatch.setattr(checks, "open_kube", lambda *args: opened.append(open_kube(*args)) or opened[-1])
    report = checks.run_verification(world.config(), world.clients(), runtime)
    assert report.results and len(world.server.scenario.log) >= 3 and len(opened) == 1
    assert world.server.http.connections == 1
    assert world.server.http.open_connections() == 0


def test_requests_share_one_connection(client, world):
    assert [_get(client) for _ in range(20)] == [404] * 20
    assert client.calls == 20 and world.server.http.connections == 1


def test_a_chunked_answer_is_read_whole_and_the_connection_reused(client, world):
    world.server.scenario.plant("secrets", "streamed")
    world.server.scenario.misbehave("GET", "secrets", "chunked")
    status, body = client.get("secrets", "default", "streamed")
    assert status == 200 and body["metadata"]["name"] == "streamed"
    assert _get(client) == 404
    assert world.server.http.connections == 1


def test_a_connection_the_server_dropped_is_replaced_without_a_failed_attempt(client, world, fake_time):
    world.server.scenario.misbehave("GET", "secrets", "answer-then-close")
    assert _get(client) == 404
    assert _get(client) == 404
    assert client.calls == 2 and fake_time.sleeps == []  # no lost attempt, no backoff
    assert world.server.http.connections == 2


def test_a_kept_connection_closed_as_the_request_goes_out_is_replaced_within_the_attempt(client, world, fake_time):
    """The race the check before reuse cannot close: the server drops the connection on the next request."""
    assert _get(client) == 404
    world.server.scenario.misbehave("GET", "secrets", "lose-before")
    assert _get(client) == 404
    assert client.calls == 2 and fake_time.sleeps == []  # the same attempt, on a new connection
    assert world.server.http.connections == 2


def test_a_new_connection_lost_is_a_failed_attempt_not_a_silent_repeat(client, world, fake_time):
    world.server.scenario.misbehave("GET", "secrets", "lose-before")
    assert _get(client) == 404
    assert client.calls == 2 and len(fake_time.sleeps) == 1  # counted, backed off, retried by the policy


def test_a_connection_idle_too_long_is_not_reused(client, world, monkeypatch):
    monkeypatch.setattr(kube_transport, "MAX_IDLE_SECONDS", 0.0)
    assert _get(client) == 404 and _get(client) == 404
    assert world.server.http.connections == 2


def test_a_hung_answer_on_a_reused_connection_times_out_at_its_deadline(world, fake_time):
    with _client(world, fake_time, request_timeout_seconds=0.3) as client:  # the server hangs for 30 s
        assert _get(client) == 404
        world.server.scenario.misbehave("GET", "secrets", "hang")
        with Within(3.0), pytest.raises(kube.KubeError) as info:
            _get(client)
        assert info.value.kind == "timeout"
        assert _get(client) == 404  # the hung connection is gone: a new one serves the next request
        assert world.server.http.connections == 2


def test_a_budget_clone_shares_the_connection_and_close_ends_it(client, world):
    assert _get(client) == 404
    sweeper = client.with_budget(5.0, kube.CLEANUP_POLICY)
    assert _get(sweeper) == 404
    assert world.server.http.connections == 1
    client.close()
    assert world.server.http.open_connections() == 0
    assert _get(client) == 404 and world.server.http.connections == 2  # still usable after close
