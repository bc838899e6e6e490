#!/usr/bin/env python3
"""`eks-envelope audit` cost: AWS calls per cluster (moto organization) and wall time for 1,000 clusters (fakes).

    .venv/bin/python bench/audit_probe.py [out.json]     (run_bench.py runs it and renders section 7)

1. Calls: the audit over tests/audit_world.py's organization on moto (53 accounts x 3 regions x 2 clusters,
   every verdict and fault), counted by the audit's own botocore hook (one per API call and page, retries not).
2. Time: the real audit engine (threads, stages, verifier checks) over a fake client layer: every call sleeps a
   seeded 50-150 ms and answers in the API's shape; 20 accounts x 5 regions x 10 clusters = 1,000 clusters, all
   verified, default concurrency. The fakes stand in for AWS latency only: no throttling, no network, no TLS.
"""
from __future__ import annotations

import json
import os
import random
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "lambda"), str(REPO)]

from verifier.stages import audit  # noqa: E402

SEED = 20261202
LATENCY = (0.050, 0.150)
FLEET = (20, 5, 10)  # accounts, regions, clusters per region
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=timezone.utc)


# ---------------------------------------------------------------------------------------------
# 1. calls per cluster on moto


def moto_calls() -> dict[str, Any]:
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
    os.environ.pop("AWS_PROFILE", None)
    os.environ.pop("AWS_ENDPOINT_URL", None)
    from moto import mock_aws

    from tests import audit_world

    with mock_aws():
        world = audit_world.build()
        connector = audit.Connector(session_factory=world.faults.session, max_attempts=4)
        options = audit.AuditOptions(organization=True, role_name=audit_world.ROLE_NAME, regions=audit_world.REGIONS)
        started = time.perf_counter()
        result = audit.Auditor(options, connector, now=lambda: NOW).run()
        wall = time.perf_counter() - started
    got = {(c.account, c.region, c.cluster): c.verdict for c in result.clusters}
    per_verdict: dict[str, list[int]] = {}
    for c in result.clusters:
        per_verdict.setdefault(c.verdict, []).append(c.aws_calls)
    return {
        "accounts": len(world.accounts), "regions": len(audit_world.REGIONS), "clusters": len(result.clusters),
        "verdicts_right": sum(got.get(k) == v for k, v in world.expected.items()), "verdicts_expected": len(world.expected),
        "scope_errors": len(result.errors), "calls_by_operation": result.calls, "total_calls": sum(result.calls.values()),
        "per_cluster": {v: {"min": min(n), "max": max(n), "mean": sum(n) / len(n)} for v, n in sorted(per_verdict.items())},
        "faults": world.faults.counts, "wall_seconds": wall,
    }


# ---------------------------------------------------------------------------------------------
# 2. 1,000 clusters with latency


class _Pages:
    def __init__(self, fake: "_Fake", op: str, key: str, items: list[Any]) -> None:
        self.fake, self.op, self.key, self.items = fake, op, key, items

    def paginate(self, **_: Any):
        self.fake.call(self.op)
        yield {self.key: self.items}


class _Fake:
    """One service's client: every operation sleeps a seeded latency and counts through the audit's own hook."""

    def __init__(self, connector: "FakeConnector", service: str, account: str, region: str) -> None:
        self.c, self.service, self.account, self.region = connector, service, account, region

    def call(self, op: str) -> None:
        self.c._count(model=SimpleNamespace(name=op))
        with self.c.rng_lock:
            delay = self.c.rng.uniform(*LATENCY)
        time.sleep(delay)

    # sts
    def get_caller_identity(self) -> dict[str, Any]:
        self.call("GetCallerIdentity")
        return {"Arn": f"arn:aws:iam::{self.account}:user/auditor", "Account": self.account}

    def assume_role(self, RoleArn: str, **_: Any) -> dict[str, Any]:
        self.call("AssumeRole")
        return {"Credentials": {"AccessKeyId": RoleArn.split(":")[4], "SecretAccessKey": "s", "SessionToken": "t"}}

    # eks
    def get_paginator(self, name: str) -> _Pages:
        if name == "list_clusters":
            return _Pages(self, "ListClusters", "clusters", [f"c{i:02d}" for i in range(FLEET[2])])
        role = f"arn:aws:iam::{self.account}:role/cluster"
        return _Pages(self, "ListGrants", "Grants", [{"GrantId": "g1", "GranteePrincipal": role, "Operations": ["Encrypt", "Decrypt"]}])

    def describe_cluster(self, name: str) -> dict[str, Any]:
        self.call("DescribeCluster")
        return {"cluster": {"name": name, "status": "ACTIVE", "version": "1.35", "roleArn": f"arn:aws:iam::{self.account}:role/cluster",
                            "endpoint": "https://x.example", "certificateAuthority": {"data": "LS0t"}, "health": {"issues": []},
                            "encryptionConfig": [{"resources": ["secrets"], "provider": {"keyArn": self._key(name)}}]}}

    def describe_cluster_versions(self, **_: Any) -> dict[str, Any]:
        self.call("DescribeClusterVersions")
        return {"clusterVersions": [{"clusterVersion": "1.35", "versionStatus": "STANDARD_SUPPORT",
                                     "endOfStandardSupportDate": datetime(2027, 3, 27, tzinfo=timezone.utc),
                                     "endOfExtendedSupportDate": datetime(2028, 3, 27, tzinfo=timezone.utc)}]}

    # kms
    def _key(self, name: str) -> str:
        return f"arn:aws:kms:{self.region}:{self.account}:key/{abs(hash(name)) % 10**8:08d}-0000-0000-0000-000000000000"

    def describe_key(self, KeyId: str) -> dict[str, Any]:
        self.call("DescribeKey")
        return {"KeyMetadata": {"Arn": KeyId, "KeyState": "Enabled", "KeySpec": "SYMMETRIC_DEFAULT", "KeyUsage": "ENCRYPT_DECRYPT"}}

    def get_key_rotation_status(self, KeyId: str) -> dict[str, Any]:
        self.call("GetKeyRotationStatus")
        return {"KeyRotationEnabled": True}


class FakeConnector(audit.Connector):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_op: dict[str, int] = {}
        self.rng = random.Random(SEED)
        self.rng_lock = threading.Lock()
        self.base = None
        self.accounts = [f"{100000000000 + i}" for i in range(FLEET[0])]

    def client(self, who: Any, service: str, region: str | None = None, **_: Any) -> _Fake:
        account = who.credentials["aws_access_key_id"] if who and who.credentials else self.accounts[0]
        return _Fake(self, service, account, region or "us-east-1")

    def offered_regions(self) -> list[str]:
        return ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2"]


def fake_timing(concurrency: int = audit.DEFAULT_CONCURRENCY) -> dict[str, Any]:
    connector = FakeConnector()
    options = audit.AuditOptions(accounts=connector.accounts, role_name="Audit", regions=connector.offered_regions(),
                                 concurrency=concurrency)
    started = time.perf_counter()
    cpu0 = time.process_time()
    result = audit.Auditor(options, connector, now=lambda: NOW).run()
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu0
    calls = sum(result.calls.values())
    return {"clusters": len(result.clusters), "verified": result.counts()["cmk-verified"], "concurrency": concurrency,
            "wall_seconds": wall, "cpu_seconds": cpu, "calls": calls, "calls_by_operation": result.calls,
            "latency_ms": [int(LATENCY[0] * 1000), int(LATENCY[1] * 1000)], "seed": SEED,
            "lower_bound_seconds": calls * sum(LATENCY) / 2 / concurrency}


def render(data: dict[str, Any]) -> str:
    m, t = data["moto"], data["timing"]
    per = m["per_cluster"]
    lines = [
        "## 7. Fleet audit (`eks-envelope audit`)", "",
        f"`bench/audit_probe.py`, run on {data.get('date', '?')}. **Calls** against moto (in process): an organization of {m['accounts']} accounts x "
        f"{m['regions']} regions = {m['clusters']} clusters read, every verdict and fault of `tests/audit_world.py` "
        f"({m['verdicts_right']}/{m['verdicts_expected']} verdicts right, {m['scope_errors']} account/region errors recorded, the run "
        f"finished in {m['wall_seconds']:.1f} s on moto).", "",
        "| Verdict | AWS calls per cluster (min / mean / max) |", "|---|---|",
    ]
    lines += [f"| {v} | {s['min']} / {s['mean']:.1f} / {s['max']} |" for v, s in per.items()]
    ops = ", ".join(f"{k} {v}" for k, v in m["calls_by_operation"].items())
    lines += ["", f"All calls: {m['total_calls']} ({ops}); per account and region: ListClusters once, DescribeClusterVersions once per version in use; "
                  "per account: AssumeRole once. Retries are not calls (botocore retries below the hook).", "",
              f"**Time** for {t['clusters']} clusters ({FLEET[0]} accounts x {FLEET[1]} regions x {FLEET[2]}) at the default "
              f"concurrency {t['concurrency']}, every call sleeping a seeded {t['latency_ms'][0]}-{t['latency_ms'][1]} ms "
              f"(seed {t['seed']}) in a **fake client layer** (the audit engine, threads and the verifier's checks are real; "
              "no network, TLS or throttling):", "",
              "| Clusters | Calls | Wall | CPU | Lower bound (calls x mean latency / workers) | Target |", "|---|---|---|---|---|---|",
              f"| {t['clusters']} | {t['calls']} | {t['wall_seconds']:.1f} s | {t['cpu_seconds']:.1f} s | "
              f"{t['lower_bound_seconds']:.1f} s | < 120 s |", ""]
    return "\n".join(lines)


def main() -> None:
    data = {"moto": moto_calls(), "timing": fake_timing(), "date": datetime.now(timezone.utc).date().isoformat()}
    out = sys.argv[1] if len(sys.argv) > 1 else None
    if out:
        Path(out).write_text(json.dumps(data, indent=1, default=str))
    print(render(data))


if __name__ == "__main__":
    main()
