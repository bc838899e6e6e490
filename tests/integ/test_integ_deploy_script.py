"""`make integ-deploy` logic, offline: a fake `cdk` records calls, so we can prove the destroy always runs."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import REPO

SCRIPT = REPO / "tests" / "integ" / "deploy_and_destroy.sh"
REPORT = REPO / "tests" / "integ" / "report_assertions.py"

# Records each call; on deploy writes FAKE_OUTPUTS to --outputs-file and exits FAKE_DEPLOY_RC.
FAKE_CDK = """#!/usr/bin/env bash
echo "$*" >> "$FAKE_LOG"
if [[ "$1" == deploy ]]; then
  while (( $# )); do
    if [[ "$1" == --outputs-file ]]; then [[ -n "${FAKE_OUTPUTS:-}" ]] && printf '%s' "$FAKE_OUTPUTS" > "$2"; fi
    shift
  done
  exit "${FAKE_DEPLOY_RC:-0}"
fi
exit "${FAKE_DESTROY_RC:-0}"
"""

PASSED = {"EksEnvelope-t-assertions": {"AssertionResultsAwsApiCallEKSdescribeClusterabc": '{"status":"success"}'}}
FAILED = {
    "EksEnvelope-t-assertions": {
        "AssertionResultsAwsApiCallEKSdescribeClusterabc": '{"status":"fail","message":"endpointPublicAccess true"}',
        "AssertionResultsAwsApiCallCloudFormationdescribeStacksdef": '{"status":"success"}',
    }
}


def run_script(tmp_path: Path, *, outputs: dict[str, Any] | None, deploy_rc: int = 0, destroy_rc: int = 0) -> tuple[subprocess.CompletedProcess, list[str]]:
    fake = tmp_path / "cdk"
    fake.write_text(FAKE_CDK)
    fake.chmod(0o755)
    log = tmp_path / "calls.log"
    env = {
        **os.environ,
        "PY": sys.executable, "CDK": str(fake), "FAKE_LOG": str(log),
        "FAKE_OUTPUTS": json.dumps(outputs) if outputs is not None else "",
        "FAKE_DEPLOY_RC": str(deploy_rc), "FAKE_DESTROY_RC": str(destroy_rc),
    }
    env.pop("KEEP", None)
    result = subprocess.run(["bash", str(SCRIPT), "t"], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    calls = log.read_text().splitlines() if log.exists() else []
    return result, calls


def test_passing_run_deploys_reports_and_destroys(tmp_path: Path) -> None:
    result, calls = run_script(tmp_path, outputs=PASSED)
    assert result.returncode == 0, result.stderr
    assert [c.split()[0] for c in calls] == ["deploy", "destroy"]
    assert "--all" in calls[0] and "env_name=t" in calls[0] and "tests/integ/integ_envelope.py" in calls[0]
    assert "--all --force" in calls[1] and "env_name=t" in calls[1]
    assert "PASS  EksEnvelope-t-assertions.AssertionResultsAwsApiCallEKSdescribeClusterabc" in result.stdout


def test_fails_when_an_assertion_fails_and_still_destroys(tmp_path: Path) -> None:
    result, calls = run_script(tmp_path, outputs=FAILED)
    assert result.returncode == 1
    assert [c.split()[0] for c in calls] == ["deploy", "destroy"]
    assert "FAIL  EksEnvelope-t-assertions.AssertionResultsAwsApiCallEKSdescribeClusterabc" in result.stdout
    assert "endpointPublicAccess true" in result.stdout


def test_fails_when_the_deploy_fails_and_still_destroys(tmp_path: Path) -> None:
    result, calls = run_script(tmp_path, outputs=None, deploy_rc=3)
    assert result.returncode == 3
    assert [c.split()[0] for c in calls] == ["deploy", "destroy"]
    assert "DEPLOY FAILED (exit 3)" in result.stderr


def test_fails_when_the_destroy_fails_and_says_what_to_delete(tmp_path: Path) -> None:
    result, _ = run_script(tmp_path, outputs=PASSED, destroy_rc=1)
    assert result.returncode == 1
    assert "DESTROY FAILED" in result.stderr and "EksEnvelope-t-assertions" in result.stderr


@pytest.mark.parametrize("outputs", [{}, {"EksEnvelope-t": {"ClusterName": "eks-envelope-t"}}])
def test_fails_report_without_any_assertion_result(tmp_path: Path, outputs: dict[str, Any]) -> None:
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(outputs))
    result = subprocess.run([sys.executable, str(REPORT), str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "no assertion results" in result.stdout
