"""`make integ-deploy` logic, offline: fake `cdk` and `aws` CLIs keep a fake stack state and record every call."""
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

pytestmark = pytest.mark.e2e  # every test runs deploy_and_destroy.sh or report_assertions.py as make integ-deploy does

# A fake account: $FAKE_STATE/status holds the stack status, $FAKE_STATE/tp its termination protection.
# Every call is logged as "cdk ..." or "aws ..." to $FAKE_LOG.
# cdk deploy: with verifier_pod_image=... it fails (exit 1) and leaves $FAKE_ROLLBACK_STATUS (default
# ROLLBACK_COMPLETE), unless FAKE_BAD_DEPLOY_RC=0; with --outputs-file it writes FAKE_OUTPUTS and exits
# FAKE_DEPLOY_RC; any other deploy succeeds. cdk destroy removes the stack (or exits FAKE_DESTROY_RC).
FAKE_CDK = """#!/usr/bin/env bash
echo "cdk $*" >> "$FAKE_LOG"
# The real CLI reads CDK_* variables as options, and CDK itself as an empty one ("Unknown option(s): --").
[[ -z "${CDK+set}" ]] || { echo "Unknown option(s): --. These will be ignored." >&2; exit 9; }
if [[ "$1" == deploy ]]; then
  if [[ "$*" == *verifier_pod_image=* ]]; then
    if [[ "${FAKE_BAD_DEPLOY_RC:-1}" == 0 ]]; then echo CREATE_COMPLETE > "$FAKE_STATE/status"; echo True > "$FAKE_STATE/tp"; exit 0; fi
    echo "${FAKE_ROLLBACK_STATUS:-ROLLBACK_COMPLETE}" > "$FAKE_STATE/status"; echo True > "$FAKE_STATE/tp"; exit 1
  fi
  if [[ "$*" == *--outputs-file* ]]; then
    while (( $# )); do
      if [[ "$1" == --outputs-file ]]; then [[ -n "${FAKE_OUTPUTS:-}" ]] && printf '%s' "$FAKE_OUTPUTS" > "$2"; fi
      shift
    done
    echo CREATE_COMPLETE > "$FAKE_STATE/status"; echo True > "$FAKE_STATE/tp"
    exit "${FAKE_DEPLOY_RC:-0}"
  fi
  [[ "$*" == *deletion_protection=false* ]] && echo "${FAKE_TEARDOWN_TP:-False}" > "$FAKE_STATE/tp"
  echo UPDATE_COMPLETE > "$FAKE_STATE/status"; exit 0
fi
if [[ "$1" == destroy ]]; then
  [[ "${FAKE_DESTROY_RC:-0}" == 0 ]] || exit "$FAKE_DESTROY_RC"
  [[ "$(cat "$FAKE_STATE/tp" 2>/dev/null)" == True ]] && { echo "termination protection" >&2; exit 1; }
  rm -f "$FAKE_STATE/status"; exit 0
fi
exit 0
"""

FAKE_AWS = """#!/usr/bin/env bash
echo "aws $*" >> "$FAKE_LOG"
case "$1 $2" in
  "cloudformation describe-stacks")
    [[ -f "$FAKE_STATE/status" ]] || { echo "Stack does not exist" >&2; exit 254; }
    if [[ "$*" == *EnableTerminationProtection* ]]; then cat "$FAKE_STATE/tp"; else cat "$FAKE_STATE/status"; fi ;;
  "cloudformation update-termination-protection") echo False > "$FAKE_STATE/tp" ;;
  "cloudformation delete-stack") rm -f "$FAKE_STATE/status" ;;
  "cloudformation wait") ;;
  "cloudformation describe-stack-resources") printf 'key-1\tkey-2\n' ;;
  "eks describe-cluster") [[ "$(cat "$FAKE_STATE/status" 2>/dev/null)" == *_COMPLETE && "$(cat "$FAKE_STATE/status")" != ROLLBACK_COMPLETE ]] || exit 254 ;;
  "kms list-aliases") echo "${FAKE_ALIAS_LEFT:-}" ;;
  "kms describe-key") echo "${FAKE_KEY_STATE:-Enabled}" ;;
  "kms schedule-key-deletion") ;;
esac
exit 0
"""

PASSED = {"EksEnvelope-t-assertions": {"AssertionResultsAwsApiCallEKSdescribeClusterabc": '{"status":"success"}'}}
FAILED = {
    "EksEnvelope-t-assertions": {
        "AssertionResultsAwsApiCallEKSdescribeClusterabc": '{"status":"fail","message":"endpointPublicAccess true"}',
        "AssertionResultsAwsApiCallCloudFormationdescribeStacksdef": '{"status":"success"}',
    }
}


def run_script(tmp_path: Path, *, outputs: dict[str, Any] | None, **fake: str) -> tuple[subprocess.CompletedProcess, list[str]]:
    for name, body in (("cdk", FAKE_CDK), ("aws", FAKE_AWS)):
        (tmp_path / name).write_text(body)
        (tmp_path / name).chmod(0o755)
    state = tmp_path / "state"
    state.mkdir()
    log = tmp_path / "calls.log"
    env = {
        **os.environ,
        "PY": sys.executable, "CDK": str(tmp_path / "cdk"), "AWS": str(tmp_path / "aws"),
        "FAKE_LOG": str(log), "FAKE_STATE": str(state),
        "FAKE_OUTPUTS": json.dumps(outputs) if outputs is not None else "",
        **{f"FAKE_{k.upper()}": v for k, v in fake.items()},
    }
    env.pop("KEEP", None)
    result = subprocess.run(["bash", str(SCRIPT), "t"], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    calls = log.read_text().splitlines() if log.exists() else []
    return result, calls


def commands(calls: list[str]) -> list[str]:
    """The calls as "cdk deploy" / "aws kms describe-key" (tool, then one or two command words)."""
    out = []
    for call in calls:
        words = call.split()
        out.append(" ".join(words[:2] if words[0] == "cdk" else words[:3]))
    return out


def test_full_run_fails_first_redeploys_then_tears_down_and_checks_what_remains(tmp_path: Path) -> None:
    result, calls = run_script(tmp_path, outputs=PASSED)
    assert result.returncode == 0, result.stdout + result.stderr
    assert commands(calls) == [
        "cdk deploy",  # 1. the deliberately failing first deploy
        "aws cloudformation describe-stacks",
        "aws eks describe-cluster", "aws kms list-aliases",
        "aws cloudformation update-termination-protection", "aws cloudformation delete-stack", "aws cloudformation wait",
        "cdk deploy",  # 2. the redeploy with the same names
        "aws cloudformation describe-stack-resources",
        "cdk deploy",  # 3. the teardown deploy, then destroy and what remains
        "aws cloudformation describe-stacks", "cdk destroy", "aws cloudformation describe-stacks",
        "aws eks describe-cluster", "aws kms describe-key", "aws kms describe-key",
        "aws cloudformation describe-stacks",  # the trap: nothing left to destroy, the keys can go
        "aws cloudformation describe-stacks", "aws kms schedule-key-deletion", "aws kms schedule-key-deletion",
    ]
    failing, redeploy, teardown, destroy = calls[0], calls[7], calls[9], calls[11]
    assert "verifier_pod_image=registry.invalid/" in failing and "ephemeral=false" in failing and " EksEnvelope-t " in failing + " "
    assert "--all" in redeploy and "verifier_pod_image" not in redeploy and "deletion_protection" not in redeploy
    assert "deletion_protection=false" in teardown and "deletion_protection=false" in destroy and "--force" in destroy
    assert "--pending-window-in-days 7" in calls[-1]
    assert "PASS  failed first deploy rolled back: EksEnvelope-t is ROLLBACK_COMPLETE" in result.stdout
    assert "PASS  EksEnvelope-t-assertions.AssertionResultsAwsApiCallEKSdescribeClusterabc" in result.stdout
    assert "what remains: the two keys (key-1 key-2), Enabled" in result.stdout


def test_fails_when_the_first_deploy_does_not_roll_back_completely(tmp_path: Path) -> None:
    result, calls = run_script(tmp_path, outputs=PASSED, rollback_status="ROLLBACK_FAILED")
    assert result.returncode == 1
    assert "EksEnvelope-t is ROLLBACK_FAILED, expected ROLLBACK_COMPLETE" in result.stderr
    destroy = [c for c in calls if c.startswith("cdk")][-1]
    assert destroy.startswith("cdk destroy") and "deletion_protection=false" in destroy


def test_fails_when_the_unpullable_image_deploy_succeeds(tmp_path: Path) -> None:
    result, calls = run_script(tmp_path, outputs=PASSED, bad_deploy_rc="0")
    assert result.returncode == 1
    assert "the verifier's pod check did not run" in result.stderr
    assert "cdk destroy" in commands(calls)


def test_fails_when_the_rollback_leaves_the_alias(tmp_path: Path) -> None:
    result, _ = run_script(tmp_path, outputs=PASSED, alias_left="alias/eks-envelope-t-secrets")
    assert result.returncode == 1
    assert "key alias alias/eks-envelope-t-secrets still exists after the rollback" in result.stderr


def test_teardown_lifts_termination_protection_left_on_and_says_so(tmp_path: Path) -> None:
    result, calls = run_script(tmp_path, outputs=PASSED, teardown_tp="True")
    assert result.returncode == 0, result.stderr
    assert "termination protection is still on after the teardown deploy" in result.stdout
    assert commands(calls).count("aws cloudformation update-termination-protection") == 2


def test_fails_when_a_key_is_not_kept_after_the_teardown(tmp_path: Path) -> None:
    result, _ = run_script(tmp_path, outputs=PASSED, key_state="PendingDeletion")
    assert result.returncode == 1
    assert "key key-1 is PendingDeletion after the teardown, expected Enabled (kept)" in result.stderr


def test_fails_when_an_assertion_fails_and_still_destroys(tmp_path: Path) -> None:
    result, calls = run_script(tmp_path, outputs=FAILED)
    assert result.returncode == 1
    assert [c for c in commands(calls) if c.startswith("cdk")][-1] == "cdk destroy"
    assert "FAIL  EksEnvelope-t-assertions.AssertionResultsAwsApiCallEKSdescribeClusterabc" in result.stdout
    assert "endpointPublicAccess true" in result.stdout


def test_fails_when_the_redeploy_fails_and_still_destroys(tmp_path: Path) -> None:
    result, calls = run_script(tmp_path, outputs=None, deploy_rc="3")
    assert result.returncode == 3
    assert [c for c in commands(calls) if c.startswith("cdk")][-1] == "cdk destroy"
    assert "DEPLOY FAILED (exit 3)" in result.stderr


def test_fails_when_the_destroy_fails_and_says_what_to_delete(tmp_path: Path) -> None:
    result, calls = run_script(tmp_path, outputs=PASSED, destroy_rc="1")
    assert result.returncode == 1
    assert "DESTROY FAILED" in result.stderr and "EksEnvelope-t-assertions" in result.stderr
    assert "--no-deletion-protection" in result.stderr
    # The keys still belong to a stack that exists: they are not scheduled for deletion.
    assert "aws kms schedule-key-deletion" not in commands(calls)
    assert "keys key-1 key-2 not scheduled for deletion: EksEnvelope-t still exists" in result.stderr


@pytest.mark.parametrize("outputs", [{}, {"EksEnvelope-t": {"ClusterName": "eks-envelope-t"}}])
def test_fails_report_without_any_assertion_result(tmp_path: Path, outputs: dict[str, Any]) -> None:
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(outputs))
    result = subprocess.run([sys.executable, str(REPORT), str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "no assertion results" in result.stdout
