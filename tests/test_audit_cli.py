"""`eks-envelope audit` on its own: scope and usage errors, default regions, the options, progress, pure judgements."""
from __future__ import annotations

import io
import json
import os
from datetime import datetime, timezone

import pytest
from moto import mock_aws

from verifier.stages import audit
from verifier.entry import audit_cli
from verifier.stages import audit_stages
from verifier.model import VerificationError
from tests import audit_world


@pytest.fixture()
def one_account(monkeypatch: pytest.MonkeyPatch):
    """moto with the default account: one verified cluster in us-east-1."""
    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        faults = audit_world.Faults(transient_every=0)
        faults.key_arn = audit_world.make_one("123456789012", "us-east-1", "web", "verified", faults)
        yield faults


def _run(argv: list[str], faults: audit_world.Faults) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = audit_cli.main(argv, connector=audit.Connector(session_factory=faults.session, max_attempts=2), out=out, err=err,
                          now=lambda: audit_world.NOW)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("argv, message", [
    (["--accounts", "12345"], "12-digit account ids"),
    (["--regions", "mars"], "region names"),
    (["--concurrency", "0"], "number of workers"),
    (["--accounts", "111111111111", "--organization"], "not allowed with"),
])
def test_fails_on_bad_arguments_with_exit_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        audit_cli.main(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_fails_with_exit_2_when_other_accounts_come_without_a_role(one_account) -> None:
    code, _out, err = _run(["--accounts", "123456789012,222222222222", "--regions", "us-east-1"], one_account)
    assert code == 2 and "222222222222" in err and "--role-name" in err
    code, _out, err = _run(["--organization"], one_account)
    assert code == 2 and "--organization needs --role-name" in err


def test_default_scope_is_the_current_account_in_every_enabled_eks_region(one_account) -> None:
    code, out, _err = _run(["--json", "-", "--quiet"], one_account)
    doc = json.loads(out)
    assert code == 0 and doc["summary"]["all_verified"] is True
    assert doc["scope"]["accounts"] == ["123456789012"]
    regions = doc["scope"]["regions"]["123456789012"]
    assert "us-east-1" in regions and "eu-west-1" in regions and len(regions) > 10  # EC2 DescribeRegions x boto3's EKS list
    # an opt-in region counts once the account opted in; EKS offers ap-east-1 too, but this account did not enable it
    assert "af-south-1" in regions and "ap-east-1" not in regions and "ap-east-1" in one_account.session().get_available_regions("eks")
    assert [(c["cluster"], c["verdict"]) for c in doc["clusters"]] == [("web", "cmk-verified")]
    assert doc["summary"]["aws_calls"]["ListClusters"] == len(regions)


def test_cloudtrail_evidence_is_optional_and_never_the_verdict(one_account) -> None:
    code, out, _err = _run(["--regions", "us-east-1", "--cloudtrail", "--json", "-"], one_account)
    (cluster,) = json.loads(out)["clusters"]
    assert code == 0 and cluster["verdict"] == "cmk-verified"
    assert any(w.startswith("CloudTrail: no KMS calls by the cluster role") for w in cluster["warnings"])  # noted, not failed
    assert "cloudtrail-key-use" not in cluster["evidence"]


def test_cloudtrail_evidence_from_the_shared_lookup_events_fixture(one_account) -> None:
    """The verifier's LookupEvents fixture (EKS's KMS calls), re-addressed to this account, key and cluster role."""
    from pathlib import Path

    text = (Path(__file__).parent / "handler" / "fixtures" / "cloudtrail-lookup-events-eks-kms.json").read_text()
    text = (text.replace("111111111111", "123456789012").replace("1234abcd-12ab-34cd-56ef-1234567890ab", one_account.key_arn.split("/")[-1])
            .replace("eks-envelope-ClusterRole-EXAMPLE", "web-cluster"))
    events = json.loads(text)
    for event in events["Events"]:
        event["EventTime"] = datetime.fromisoformat(event["EventTime"].replace("Z", "+00:00"))
    one_account.lookup_events = events
    code, out, _err = _run(["--regions", "us-east-1", "--cloudtrail", "--json", "-"], one_account)
    (cluster,) = json.loads(out)["clusters"]
    assert code == 0 and cluster["evidence"] == ["config-names-key", "key-usable", "cloudtrail-key-use"], cluster


def test_kubernetes_round_trip_where_the_endpoint_cannot_be_reached_is_a_warning(one_account, monkeypatch: pytest.MonkeyPatch) -> None:
    from verifier import kube

    monkeypatch.setattr(audit_stages, "KUBE_POLICY", kube.RetryPolicy(auth_grace_seconds=0.0, max_connect_attempts=1, request_timeout_seconds=2.0))
    code, out, _err = _run(["--regions", "us-east-1", "--kubernetes", "--json", "-"], one_account)
    (cluster,) = json.loads(out)["clusters"]
    assert code == 0 and cluster["verdict"] == "cmk-verified", cluster
    assert any(w.startswith("Kubernetes round trip not done from here") for w in cluster["warnings"]), cluster["warnings"]


def test_table_and_markdown_name_every_cluster_and_error() -> None:
    result = audit.AuditResult(
        clusters=[audit.ClusterResult("111111111111", "us-east-1", "a", "cmk-verified", "arn:aws:kms:us-east-1:111111111111:key/k1"),
                  audit.ClusterResult("111111111111", "us-east-1", "b", "key-problem", None, ["Stage key-health: key | is Disabled."])],
        errors=[audit.ScopeError("222222222222", None, "AssumeRole", "AccessDenied", "cannot assume")], skipped=[],
        accounts=["111111111111", "222222222222"], regions={}, started_at="t0", finished_at="t1", calls={})
    text = audit_cli.table(result)
    assert "b" in text and "key-problem" in text and "(not read)" in text and text.endswith("RESULT: NOT every cluster is cmk-verified")
    md = audit_cli.markdown(result)
    assert "key \\| is Disabled" in md and "| 222222222222 | all | AssumeRole | AccessDenied |" in md


def test_progress_redraws_one_line_on_a_terminal_and_prints_tenths_elsewhere() -> None:
    tty, plain = io.StringIO(), io.StringIO()
    bar, lines = audit_cli.Progress(tty, tty=True, clock=lambda: 0.0), audit_cli.Progress(plain, tty=False, clock=lambda: 0.0)
    for done in range(0, 101):
        state = {"accounts": 1, "regions": 1, "regions_done": 1, "clusters": 100, "clusters_done": done, "errors": 0}
        bar(state)
        lines(state)
    bar.close()
    assert tty.getvalue().count("\r") == 101 and "[########################] 100/100" in tty.getvalue()
    assert len(plain.getvalue().splitlines()) == 11 and "\r" not in plain.getvalue()


def test_support_window_is_judged_against_the_given_day() -> None:
    from datetime import date

    from verifier.stages.version_support import VersionSupport

    support = VersionSupport("1.35", status="STANDARD_SUPPORT", end_of_standard_support=date(2027, 1, 15),
                             end_of_extended_support=date(2028, 1, 15))
    assert audit_stages.judge_support(support, datetime(2026, 10, 1, tzinfo=timezone.utc))[:2] == (None, [])
    assert audit_stages.judge_support(support, datetime(2026, 12, 2, tzinfo=timezone.utc))[1] == ["Kubernetes 1.35 leaves standard support on 2027-01-15"]
    assert audit_stages.judge_support(support, datetime(2027, 2, 1, tzinfo=timezone.utc))[1] == [
        "Kubernetes 1.35 is in extended support (extra cost) until 2028-01-15"]
    problem, _w, facts = audit_stages.judge_support(support, datetime(2028, 2, 1, tzinfo=timezone.utc))
    assert problem.startswith("Kubernetes 1.35 is past the end of extended support (2028-01-15)") and facts["status"] == "STANDARD_SUPPORT"
    unknown = VersionSupport("1.99", error="EKS does not list version 1.99")
    assert audit_stages.judge_support(unknown, datetime(2026, 12, 2, tzinfo=timezone.utc))[1] == [
        "1.99 support status unknown (EKS does not list version 1.99): support window unknown"]


def test_no_key_before_1_28_is_a_cluster_problem_not_the_default_key() -> None:
    err = VerificationError("cluster", "cluster x has no encryptionConfig for secrets")
    assert audit_stages._encryption_verdict({"status": "ACTIVE", "version": "1.27"}, err) == "cluster-problem"
    assert audit_stages._encryption_verdict({"status": "ACTIVE", "version": "1.28"}, err) == "aws-owned-key"
    assert audit_stages._encryption_verdict({"status": "UPDATING", "version": "1.30"}, err) == "cluster-problem"
    key = {"status": "ACTIVE", "version": "1.30", "encryptionConfig": [{"provider": {"keyArn": "arn:aws:kms:us-east-1:1:key/k"}}]}
    assert audit_stages._encryption_verdict(key, VerificationError("cluster", "DescribeKey on cluster key k denied")) == "no-access"
    assert audit_stages._encryption_verdict(key, VerificationError("cluster", "cluster key k not found (DescribeKey)")) == "key-problem"


@pytest.mark.e2e
def test_make_help_lists_audit_and_make_passes_usage_errors_on() -> None:
    import subprocess

    from pathlib import Path

    REPO = Path(__file__).resolve().parents[1]  # not tests.helpers: it imports aws_cdk (1 s), which this test never uses

    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL")}
    assert "make audit     audit every EKS cluster" in subprocess.run(["make", "-s", "help"], cwd=REPO, env=env, capture_output=True,
                                                                       text=True, timeout=60).stdout
    docs = (REPO / "docs" / "audit.md").read_text()
    for option in [a.option_strings[0] for a in audit_cli.parser()._actions if a.option_strings and a.option_strings[0] != "-h"]:
        assert f"`{option}" in docs, f"{option} is not documented in docs/audit.md"
    assert all(v in docs for v in audit.VERDICTS) and f"`schema_version` {audit.SCHEMA_VERSION}" in docs


def test_concurrency_is_bounded_and_every_cluster_is_audited(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bench's fake client layer (seeded latency), shrunk: never more calls in flight than workers."""
    import threading

    from bench import audit_probe

    monkeypatch.setattr(audit_probe, "LATENCY", (0.0005, 0.0015))
    monkeypatch.setattr(audit_probe, "FLEET", (3, 5, 6))
    in_flight, peak, lock = [0], [0], threading.Lock()
    original = audit_probe._Fake.call

    def counted(self, op: str) -> None:
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        try:
            original(self, op)
        finally:
            with lock:
                in_flight[0] -= 1

    monkeypatch.setattr(audit_probe._Fake, "call", counted)
    result = audit_probe.fake_timing(concurrency=4)
    assert result["clusters"] == result["verified"] == 3 * 5 * 6
    assert 2 <= peak[0] <= 4
    # 4 calls per cluster, ListClusters and DescribeClusterVersions per account/region, AssumeRole per foreign account
    assert result["calls_by_operation"] == {"AssumeRole": 2, "DescribeCluster": 90, "DescribeClusterVersions": 15, "DescribeKey": 90,
                                            "GetCallerIdentity": 1, "GetKeyRotationStatus": 90, "ListClusters": 15, "ListGrants": 90}
