"""The tests' apps get the context the real aws-cdk CLI passes from cdk.json.

That the CLI's synth then writes the template the tests build is checked on the README's own
commands, in a fresh clone (tests/test_first_hour.py)."""
from __future__ import annotations

import json
import os
import subprocess

import pytest

from stacks import REPORT_ENV
from tests.helpers import REPO

CDK = REPO / "node_modules" / ".bin" / "cdk"


#: What the CLI passes that the tests leave out on purpose (app.py's CLI_CONTEXT says why).
_CLI_ONLY = {"@aws-cdk/core:failSynthOnValidationErrors"}


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The real app.py through the real `cdk synth`, with no compliance pack and make synth's report on."""
    if not CDK.exists():
        pytest.skip("aws-cdk CLI not installed: run `make test`, which installs it")
    tmp = tmp_path_factory.mktemp("cli")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_"))}
    # Telemetry off, as every make target runs the CLI: a test never reports to AWS.
    env.update(PATH=f"{CDK.parent}{os.pathsep}{env['PATH']}", CDK_DISABLE_CLI_TELEMETRY="true", **{REPORT_ENV: "1"})
    probe = f"{REPO / '.venv' / 'bin' / 'python'} {REPO / 'tests' / 'cli_probe.py'} {tmp / 'seen.json'}"
    result = subprocess.run(
        [str(CDK), "synth", "--quiet", "--app", probe, "--output", str(tmp / "cdk.out"), "-c", "compliance_packs=none"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads((tmp / "seen.json").read_text())


@pytest.mark.e2e
def test_cli_context_equals_the_tests_context(cli_run: dict) -> None:
    """cdk.json keeps feature flags and real overrides; the app's defaults live in AppSettings. Whatever
    cdk.json holds, the tests' apps (helpers.new_app) get exactly the context a real `cdk synth` passes."""
    from tests.helpers import cdk_json_context

    cli_context = {k: v for k, v in cli_run["context"].items() if k not in _CLI_ONLY}
    assert cli_context.pop("compliance_packs") == "none"  # this run's -c
    assert cli_context == cdk_json_context()


@pytest.mark.e2e
def test_an_app_without_compliance_packs_never_loads_cdk_nag(cli_run: dict) -> None:
    """cdk-nag (and its jsii assembly) is loaded by the packs, only when one is selected: not even the report loads it."""
    assert cli_run["cdk_nag"] == []


def test_cdk_json_restates_no_app_default() -> None:
    from stacks.settings import CONTEXT_KEYS

    context = json.loads((REPO / "cdk.json").read_text())["context"]
    assert sorted(set(context) & set(CONTEXT_KEYS)) == [], "app defaults live in stacks/settings.py's AppSettings"
