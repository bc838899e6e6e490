"""Verifier cost against the offline fakes of tests/handler (moto + local HTTPS Kubernetes API, fake clock).

Run by bench/run_bench.py through pytest (the fakes are pytest fixtures):
    BENCH_VERIFIER_OUT=out.json .venv/bin/python -m pytest -q -p no:cacheprovider bench/verifier_probe.py
Each test runs one Create through dispatch.on_event, as the Lambda does (build_clients/build_runtime
swapped for the fakes, exactly like tests/handler's `wired` fixture). AWS calls are counted twice:
by the handler's own per-stage counters and by a botocore `before-parameter-build` hook (it also sees stubbed calls) on the clients.
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "handler"))

from verifier.entry import dispatch, verification  # noqa: E402
from verifier_fakes import (  # noqa: E402,F401  (fixtures are used by name)
    REGION, FakeContext, aws_env, fake_time, kube_server, lookup_events_fixture, pki, runtime, stubbed_cloudtrail, world,
)

RUNS = int(os.environ.get("BENCH_VERIFIER_RUNS", "5"))
RESULTS: dict[str, list[dict]] = {"no_cloudtrail": [], "cloudtrail": []}


@pytest.fixture(scope="module", autouse=True)
def _write_results():
    yield
    out = os.environ.get("BENCH_VERIFIER_OUT")
    if out:
        Path(out).write_text(json.dumps(RESULTS, indent=1))


def _hook(clients, counter: dict[str, int]):
    def before_call(model, **_):
        key = f"{model.service_model.service_name}:{model.name}"
        counter[key] = counter.get(key, 0) + 1

    for client in (clients.eks, clients.kms, clients.cloudtrail):
        if client is not None:
            client.meta.events.register("before-parameter-build", before_call, unique_id=f"bench-{id(counter)}")
    return lambda: [c.meta.events.unregister("before-parameter-build", unique_id=f"bench-{id(counter)}")
                    for c in (clients.eks, clients.kms, clients.cloudtrail) if c is not None]


def _cloudtrail_client(world):
    """LookupEvents answered with the shared fixture, re-addressed to this account, key and role (as tests do)."""
    client, _ = stubbed_cloudtrail(("ok", lookup_events_fixture(world.key_id)))
    return client


def _verify_once(world, runtime, monkeypatch, *, cloudtrail: bool) -> dict:
    clients = world.clients(cloudtrail=_cloudtrail_client(world) if cloudtrail else None)
    tokens = []
    issue = clients.token_provider
    clients.token_provider = lambda name: tokens.append(1) or issue(name)
    monkeypatch.setattr(verification, "build_clients", lambda region, *a, **k: clients)
    monkeypatch.setattr(verification, "build_runtime", lambda context, cap_seconds=None: runtime)
    counter: dict[str, int] = {}
    unhook = _hook(clients, counter)
    scenario = world.server.scenario
    k8s_before = len(scenario.log)
    event = {"RequestType": "Create", "LogicalResourceId": "Verify", "RequestId": "bench",
             "StackId": "arn:aws:cloudformation:us-west-2:123456789012:stack/s/1",
             "ResponseURL": "https://example.invalid/never-used",
             "ResourceProperties": world.props(PodCheck="true", CloudTrailCheck="true" if cloudtrail else "false")}
    try:
        started = time.perf_counter()
        result = dispatch.on_event(event, FakeContext())
        wall = time.perf_counter() - started
    finally:
        unhook()
    summary = json.loads(result["Data"]["Summary"])
    return {"wall_s": wall, "stages": summary["stages"], "aws_reported": summary.get("aws"),
            "k8s_reported": summary.get("k8s"), "aws_observed": counter,
            "k8s_observed": len(scenario.log) - k8s_before, "tokens": len(tokens)}


@pytest.mark.parametrize("run", range(RUNS))
def test_verification_without_cloudtrail(world, runtime, monkeypatch, run):
    RESULTS["no_cloudtrail"].append(_verify_once(world, runtime, monkeypatch, cloudtrail=False))


def test_verification_with_cloudtrail(world, runtime, monkeypatch):
    RESULTS["cloudtrail"].append(_verify_once(world, runtime, monkeypatch, cloudtrail=True))
