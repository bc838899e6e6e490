"""Offline half of the integration test: synthesize tests/integ/integ_envelope.py and snapshot it.

The deploy half is `make integ-deploy ENV=<name>` (needs an AWS account, see docs/integ.md).
Update the snapshot on purpose only (`pytest tests/integ --snapshot-update`), with the reason in
the commit message.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from syrupy.extensions.json import JSONSnapshotExtension

from tests.helpers import CLI_CONTEXT, REPO, integ_app_assembly, normalised

INTEG_APP = REPO / "tests" / "integ" / "integ_envelope.py"
CASE_STACK = "EksEnvelope-integ"
ASSERTIONS_STACK = "EksEnvelope-integ-assertions"


def integ_assembly() -> cdk.cx_api.CloudAssembly:
    return integ_app_assembly()


def without_salt(value: Any) -> Any:
    """integ-tests-alpha salts each API call with the synth time so it re-runs on every deploy."""
    if isinstance(value, dict):
        return {k: "<salt>" if k == "salt" else without_salt(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_salt(v) for v in value]
    return value


@pytest.fixture
def snapshot_json(snapshot: Any) -> Any:
    return snapshot.use_extension(JSONSnapshotExtension)


def test_integ_app_templates(snapshot_json: Any) -> None:
    assembly = integ_assembly()
    templates = {stack.stack_name: without_salt(normalised(stack.template)) for stack in assembly.stacks}
    assert sorted(templates) == [CASE_STACK, ASSERTIONS_STACK]
    assert templates == snapshot_json


def test_integ_manifest_names_case_and_assertions_stack() -> None:
    manifest = json.loads((Path(integ_assembly().directory) / "integ.json").read_text())
    (case,) = manifest["testCases"].values()
    assert case["stacks"] == [CASE_STACK]
    assert case["assertionStack"] == ASSERTIONS_STACK
    assert case["stackUpdateWorkflow"] is False


def test_assertions_stack_deploys_after_the_case_stack() -> None:
    assertions = integ_assembly().get_stack_by_name(ASSERTIONS_STACK)
    assert CASE_STACK in [dep.id for dep in assertions.dependencies]


def api_call(service: str, api: str) -> dict[str, Any]:
    template = integ_assembly().get_stack_by_name(ASSERTIONS_STACK).template
    (found,) = [
        r["Properties"] for r in template["Resources"].values()
        if r.get("Properties", {}).get("service") == service and r["Properties"].get("api") == api
    ]
    return found


def expected_pattern(call: dict[str, Any]) -> str:
    """The serialized expectation with cross-stack references shown as <ref>."""
    expected = call["expected"]
    if isinstance(expected, str):
        return expected
    return "".join(part if isinstance(part, str) else "<ref>" for part in expected["Fn::Join"][1])


def test_describe_cluster_expects_customer_key_private_endpoint_and_all_logs() -> None:
    call = api_call("EKS", "describeCluster")
    assert json.loads(call["parameters"]["name"]) == "eks-envelope-integ"
    pattern = json.loads(expected_pattern(call))
    cluster = pattern["$ObjectLike"]["cluster"]["$ObjectLike"]
    assert cluster["encryptionConfig"][0]["$ObjectLike"] == {"resources": ["secrets"], "provider": {"keyArn": "<ref>"}}
    assert cluster["resourcesVpcConfig"]["$ObjectLike"]["endpointPublicAccess"] is False
    logging = cluster["logging"]["clusterLogging"]["$ArrayWith"][0]["$ObjectLike"]
    assert logging == {"enabled": True, "types": ["api", "audit", "authenticator", "controllerManager", "scheduler"]}
    # The expected key is the case stack's own key, read from its outputs at deploy time.
    ref = next(p for p in call["expected"]["Fn::Join"][1] if not isinstance(p, str))
    assert ref["Fn::GetStackOutput"]["StackName"] == CASE_STACK


def test_describe_stacks_expects_verifier_reported_verified() -> None:
    call = api_call("CloudFormation", "describeStacks")
    pattern = json.loads(expected_pattern(call))
    outputs = pattern["$ObjectLike"]["Stacks"][0]["$ObjectLike"]["Outputs"]["$ArrayWith"]
    assert outputs == [{"$ObjectLike": {"OutputKey": "EnvelopeEncryptionVerified", "OutputValue": "true"}}]
    case_template = integ_assembly().get_stack_by_name(CASE_STACK).template
    assert "EnvelopeEncryptionVerified" in case_template["Outputs"]


@pytest.mark.e2e
def test_integ_app_synthesizes_as_a_script(tmp_path: Any) -> None:
    """integ-runner and `cdk deploy --app` run the file as a script: it must synthesize on its own.

    Only the CLI's own context is passed (as the CLI would, in CDK_CONTEXT_JSON): cdk.json's feature
    flags must come from the script itself, or the deployed template would drift from the snapshot.
    """
    result = subprocess.run(
        [sys.executable, str(INTEG_APP)],
        cwd=tmp_path,
        env={**os.environ, "CDK_OUTDIR": str(tmp_path / "out"), "CDK_CONTEXT_JSON": json.dumps(CLI_CONTEXT)},
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert {CASE_STACK, ASSERTIONS_STACK} <= set(manifest["artifacts"])
    # Same template as the in-process synth: cdk.json's context is applied in both.
    script_template = json.loads((tmp_path / "out" / f"{CASE_STACK}.template.json").read_text())
    in_process = integ_assembly().get_stack_by_name(CASE_STACK).template
    assert normalised(script_template) == normalised(in_process)
