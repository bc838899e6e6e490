"""`eks-envelope audit` over an organization on moto: every kind of cluster and every fault once or twice, every verdict right.

The world is ``audit_world.build_compact()`` (4 accounts x 3 regions, 19 clusters); the same audit over the
organization at scale (53 accounts, 310 clusters) is ``make bench``'s (bench/audit_probe.py).
"""
from __future__ import annotations

import io
import json
import os
import time
from unittest import mock

import pytest
from botocore.retries.standard import ExponentialBackoff
from moto import mock_aws

from verifier.stages import audit
from verifier.entry import audit_cli
from tests import audit_world


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory):
    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    saved = {k: os.environ.get(k) for k in [*env, "AWS_PROFILE", "AWS_ENDPOINT_URL"]}
    os.environ.update(env)
    os.environ.pop("AWS_PROFILE", None)
    os.environ.pop("AWS_ENDPOINT_URL", None)
    # botocore's standard retries run as against AWS (every retry made and counted), their jittered exponential
    # backoff a thousand times shorter (a real sleep per throttle would be most of this fixture's time).
    real_delay = ExponentialBackoff.delay_amount
    with mock_aws(), mock.patch.object(ExponentialBackoff, "delay_amount", lambda self, context: real_delay(self, context) / 1000):
        world = audit_world.build_compact()
        out_dir = tmp_path_factory.mktemp("audit")
        stdout, stderr = io.StringIO(), io.StringIO()
        connector = audit.Connector(session_factory=world.faults.session, max_attempts=4)
        started = time.perf_counter()
        # 4 workers, not the default 16: on moto every call is CPU in this process, so more threads only fight
        # over the GIL (measured at scale: 16 workers cost ~1.5x the CPU of 4 for the same ~1,300 calls). 4 still run the
        # accounts, regions and clusters concurrently on one Connector; the bound itself is tested in test_audit_cli.
        code = audit_cli.main(["--organization", "--role-name", audit_world.ROLE_NAME, "--regions", ",".join(audit_world.REGIONS),
                               "--concurrency", "4",
                               "--json", str(out_dir / "audit.json"), "--markdown", str(out_dir / "audit.md")],
                              connector=connector, out=stdout, err=stderr, now=lambda: audit_world.NOW)
        wall = time.perf_counter() - started
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    return world, code, json.loads((out_dir / "audit.json").read_text()), (out_dir / "audit.md").read_text(), stdout.getvalue(), stderr.getvalue(), wall


def test_every_verdict_is_right_over_an_organization(fleet) -> None:
    world, code, doc, *_ = fleet
    assert doc["scope"]["accounts"] == world.accounts  # the organization's every account, the unassumable one too
    got = {(c["account"], c["region"], c["cluster"]): c["verdict"] for c in doc["clusters"]}
    wrong = {k: (got.get(k), v) for k, v in world.expected.items() if got.get(k) != v}
    assert wrong == {}
    assert set(got) == set(world.expected)  # nothing audited twice, nothing from unread scopes
    assert set(audit.VERDICTS) == {c["verdict"] for c in doc["clusters"]}  # every verdict occurs
    assert code == 1


def test_unassumable_account_and_throttled_region_are_errors_not_the_end(fleet) -> None:
    world, _code, doc, *_ = fleet
    got = {(e["account"], e["region"], e["operation"]) for e in doc["errors"]}
    assert got == world.expected_errors
    codes = {e["operation"]: e["code"] for e in doc["errors"]}
    assert codes == {"AssumeRole": "AccessDenied", "ListClusters": "ThrottlingException"}
    # the faults really fired, and transient throttling was absorbed by botocore's retries
    assert world.faults.counts["transient throttle"] > 10
    assert world.faults.counts["AssumeRole denied"] == 1
    assert world.faults.counts["DescribeCluster throttled"] >= 4  # botocore retried (max_attempts=4) before giving up


def test_reasons_name_the_problem_and_the_fix(fleet) -> None:
    _world, _code, doc, *_ = fleet
    by_kind: dict[str, dict] = {}
    for c in doc["clusters"]:
        by_kind.setdefault(c["cluster"].split("-", 1)[1], c)
    assert by_kind["verified"]["reasons"] == [] and by_kind["verified"]["key_arn"].startswith("arn:aws:kms:")
    assert by_kind["verified"]["evidence"] == ["config-names-key", "key-usable"]
    assert by_kind["verified"]["support"]["status"] == "STANDARD_SUPPORT"
    assert by_kind["aws-owned"]["reasons"][0].startswith("Stage encryption: no customer managed key: Kubernetes 1.35 encrypts")
    assert "associate-encryption-config" in by_kind["aws-owned"]["reasons"][0] and by_kind["aws-owned"]["key_arn"] is None
    assert "is Disabled" in by_kind["disabled-key"]["reasons"][0] and "EnableKey" in by_kind["disabled-key"]["reasons"][0]
    assert "PendingDeletion" in by_kind["pending-deletion"]["reasons"][0] and "CancelKeyDeletion" in by_kind["pending-deletion"]["reasons"][0]
    assert "rotation is off" in by_kind["no-rotation"]["reasons"][0]
    assert "no KMS grant to the cluster role" in by_kind["revoked-grant"]["reasons"][0]
    assert "KmsGrantRevoked" in by_kind["grant-revoked-health"]["reasons"][0]
    assert "KmsKeyDisabled" in by_kind["key-disabled-health"]["reasons"][0]
    assert "past the end of extended support (2025-01-31)" in by_kind["unsupported-version"]["reasons"][0]
    assert by_kind["extended-support"]["warnings"] == ["Kubernetes 1.32 is in extended support (extra cost) until 2027-03-23"]
    assert "denied" in by_kind["describe-key-denied"]["reasons"][0]
    assert "throttled" in by_kind["throttled-forever"]["reasons"][0]
    assert all(c["checked_at"] == "2026-12-02T12:00:00+00:00" for c in doc["clusters"])


def test_json_document_carries_the_schema_fields(fleet) -> None:
    _world, _code, doc, *_ = fleet
    assert doc["schema_version"] == audit.SCHEMA_VERSION
    assert set(doc) >= {"schema_version", "tool", "started_at", "finished_at", "scope", "summary", "clusters", "errors", "skipped"}
    required = {"account", "region", "cluster", "verdict", "key_arn", "reasons", "checked_at"}
    assert all(required <= set(c) and isinstance(c["reasons"], list) for c in doc["clusters"])
    assert doc["summary"]["clusters"] == len(doc["clusters"]) and doc["summary"]["all_verified"] is False
    assert sum(doc["summary"]["verdicts"].values()) == len(doc["clusters"])


def test_calls_per_cluster_are_few_and_counted(fleet) -> None:
    _world, _code, doc, *_ = fleet
    verified = [c["aws_calls"] for c in doc["clusters"] if c["verdict"] == "cmk-verified"]
    # DescribeCluster, DescribeKey, GetKeyRotationStatus, ListGrants (+ DescribeClusterVersions once per version
    # in use in each account and region: the verifier's own call, cached)
    assert set(verified) <= {4, 5}
    asked = doc["summary"]["aws_calls"]["DescribeClusterVersions"]
    in_use = {(c["account"], c["region"], c.get("version")) for c in doc["clusters"] if c.get("version")}
    assert 0 < asked <= len(in_use)


def test_reports_for_people(fleet) -> None:
    _world, _code, _doc, md, out, err, _wall = fleet
    assert md.startswith("# EKS envelope encryption audit") and "## Accounts and regions not read" in md
    assert "RESULT: NOT every cluster is cmk-verified" in out
    assert err.startswith("audit: ") and "clusters" in err.splitlines()[-1]  # plain lines off a terminal
