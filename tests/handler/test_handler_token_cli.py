"""The EKS token format, and the workstation command running the same stages."""
from __future__ import annotations

import base64
import io
import json
import ssl
import subprocess
import sys
import urllib.parse
from pathlib import Path

import boto3
import pytest

from verifier.stages import verification as checks
from verifier.entry import cli
from verifier import kube
from verifier_fakes import CLUSTER, REGION, TEST_ACCESS_KEY, TEST_SECRET_KEY, validate_token

#: The directory holding the handler package, as the Lambda asset's root holds it.
HANDLER_ROOT = Path(__file__).parents[2] / "lambda"


def decode(token: str) -> urllib.parse.SplitResult:
    assert token.startswith("k8s-aws-v1.")
    body = token[len("k8s-aws-v1."):]
    assert "=" not in body and "+" not in body and "/" not in body  # base64url, unpadded
    return urllib.parse.urlsplit(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode())


def test_token_is_presigned_regional_sts_get_caller_identity_with_cluster_id_signed():
    sts = boto3.client("sts", region_name=REGION, endpoint_url=kube.sts_endpoint(REGION),
                       aws_access_key_id=TEST_ACCESS_KEY, aws_secret_access_key=TEST_SECRET_KEY)
    token = kube.make_token(sts, CLUSTER)
    url = decode(token)
    query = dict(urllib.parse.parse_qsl(url.query))
    assert (url.scheme, url.netloc, url.path) == ("https", f"sts.{REGION}.amazonaws.com", "/")
    assert query["Action"] == "GetCallerIdentity" and query["Version"] == "2011-06-15"
    assert query["X-Amz-Expires"] == "60"
    assert query["X-Amz-SignedHeaders"].split(";") == ["host", "x-k8s-aws-id"]
    assert query["X-Amz-Credential"].startswith(f"{TEST_ACCESS_KEY}/") and "/sts/aws4_request" in query["X-Amz-Credential"]
    assert validate_token(f"Bearer {token}", CLUSTER) is None
    assert validate_token(f"Bearer {token}", "another-cluster") == "signature (cluster id)"
    # The signing hook is removed afterwards: a plain presign from the same client has no cluster header.
    plain = sts.generate_presigned_url("get_caller_identity", Params={}, ExpiresIn=60)
    assert "x-k8s-aws-id" not in dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(plain).query))["X-Amz-SignedHeaders"]


def test_sts_endpoint_for_china_partition():
    assert kube.sts_endpoint("cn-north-1") == "https://sts.cn-north-1.amazonaws.com.cn"


def _run_cli(world, runtime, argv):
    out = io.StringIO()
    code = cli.main(argv, make_clients=lambda region: (world.clients(), region or REGION), runtime=runtime, out=out)
    return code, out.getvalue()


def test_cli_prints_report_and_exits_zero_without_key(world, runtime):
    code, text = _run_cli(world, runtime, ["--cluster", CLUSTER, "--pod-check"])
    assert code == 0, text
    lines = text.splitlines()
    assert lines[0] == f"EKS envelope encryption check: cluster {CLUSTER}, key {world.key_arn}"
    for stage in ("cluster", "key-health", "secret-roundtrip", "pod-read"):
        assert any(line.startswith(stage) and " passed " in line for line in lines), text
    assert "no expected key given: using the cluster's own key" in text
    assert lines[-1] == "RESULT: verified"


def test_fails_cli_exits_one_with_reason_on_failure(world, runtime):
    world.kms.disable_key(KeyId=world.key_id)
    code, text = _run_cli(world, runtime, ["--cluster", CLUSTER, "--key", world.alias])
    assert code == 1
    assert "RESULT: FAILED - Stage key-health:" in text and "is Disabled" in text
    assert any(line.startswith("key-health") and " failed " in line for line in text.splitlines())


def test_cli_json_output(world, runtime):
    code, text = _run_cli(world, runtime, ["--cluster", CLUSTER, "--key", world.key_arn, "--json"])
    report = json.loads(text)
    assert code == 0 and report["verified"] is True and report["keyArn"] == world.key_arn
    assert [s["name"] for s in report["stages"]] == ["cluster", "key-health", "version-support", "secret-roundtrip", "pod-read", "kms-health",
                                                 "cloudtrail"]


@pytest.mark.e2e
def test_fails_cli_usage_error_exits_two():
    proc = subprocess.run([sys.executable, "-m", "verifier.entry.cli", "--key", "x"], cwd=HANDLER_ROOT, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2
    assert "the following arguments are required: --cluster" in proc.stderr


def test_cli_prints_evidence_levels(world, runtime):
    code, text = _run_cli(world, runtime, ["--cluster", CLUSTER])
    assert code == 0
    assert "  [x] config-names-key" in text and "  [x] api-roundtrip" in text and "  [ ] pod-read" in text
    assert "  [ ] cloudtrail-key-use" in text


def test_fails_cli_strict_cloudtrail_flag(world, runtime):
    from verifier_fakes import stubbed_cloudtrail

    client, _ = stubbed_cloudtrail(*[("ok", {"Events": []})] * 10)
    out = io.StringIO()
    code = cli.main(["--cluster", CLUSTER, "--cloudtrail-required", "--cloudtrail-wait", "20"],
                    make_clients=lambda region: (world.clients(cloudtrail=client), REGION), runtime=runtime, out=out)
    assert code == 1 and "RESULT: FAILED - Stage cloudtrail: strict mode" in out.getvalue()


def test_cli_accepts_a_pre_117_ca_without_key_identifiers_but_the_lambda_stays_strict(world, runtime, pre117_server):
    # Python 3.13+ sets VERIFY_X509_STRICT by default; the Lambda sets it on every Python. `make verify`
    # clears only that flag: the CA pin and the hostname check stay (a rogue CA still fails, see the matrix).
    server, old_pki = pre117_server
    world.point_cluster_at(server.endpoint, old_pki.ca_pem)
    with pytest.raises(checks.VerificationError) as info:
        checks.run_verification(world.config(), world.clients(), runtime)
    assert "TLS verification of 127.0.0.1 failed" in str(info.value)
    assert server.scenario.log == []
    relaxed = world.clients()
    relaxed.x509_strict = False
    report = checks.run_verification(world.config(), relaxed, runtime)
    assert report.passed and server.scenario.calls("POST", "secrets") == 1
    ctx = kube.pinned_context(base64.b64encode(old_pki.ca_pem).decode(), x509_strict=False)
    assert ctx.check_hostname and ctx.verify_mode.name == "CERT_REQUIRED" and not ctx.verify_flags & ssl.VERIFY_X509_STRICT


def test_cli_builds_relaxed_clients(monkeypatch):
    seen = {}
    monkeypatch.setattr(cli, "build_clients", lambda region, **kw: seen.update(kw) or "clients")
    assert cli._default_clients(REGION) == ("clients", REGION)
    assert seen["x509_strict"] is False


def test_cli_defaults_are_the_contracts_and_the_constructs():
    # The CLI (no CDK at run time) takes its defaults from the wire contract, as the construct does.
    from verifier import contract
    from verifier.model import Config

    from eks_envelope import verifier
    from eks_envelope.verifier import VerifierOptions

    args = cli._parser().parse_args(["--cluster", CLUSTER])
    assert (args.namespace, args.pod_image, args.pod_timeout, args.cloudtrail_wait) == (
        contract.CANARY_NAMESPACE, contract.POD_IMAGE, contract.POD_TIMEOUT_SECONDS, contract.CLOUDTRAIL_WAIT_SECONDS)
    config = Config.for_workstation(CLUSTER, None, owner="cli/test")
    assert (config.namespace, config.label_key, config.label_value) == (
        contract.CANARY_NAMESPACE, contract.CANARY_LABEL_KEY, contract.CANARY_LABEL_VALUE)
    assert contract.POD_IMAGE == VerifierOptions().pod_image
    assert contract.POD_TIMEOUT_SECONDS == verifier.POD_TIMEOUT_SECONDS
    assert contract.CLOUDTRAIL_WAIT_SECONDS == verifier.CLOUDTRAIL_WAIT_SECONDS