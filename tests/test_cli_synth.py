"""The tests' apps get the context the real aws-cdk CLI passes from cdk.json.

That the CLI's synth then writes the template the tests build is checked on the README's own
commands, in a fresh clone (tests/test_first_hour.py)."""
from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.helpers import REPO

CDK = REPO / "node_modules" / ".bin" / "cdk"


#: What the CLI passes that the tests leave out on purpose (app.py's CLI_CONTEXT says why).
_CLI_ONLY = {"@aws-cdk/core:failSynthOnValidationErrors"}


@pytest.mark.skipif(not CDK.exists(), reason="aws-cdk CLI not installed: run `make test`, which installs it")
def test_cli_context_equals_the_tests_context(tmp_path) -> None:
    """cdk.json keeps feature flags and real overrides; the app's defaults live in AppSettings. Whatever
    cdk.json holds, the tests' apps (helpers.new_app) get exactly the context a real `cdk synth` passes."""
    from tests.helpers import cdk_json_context

    dump = tmp_path / "context.json"
    dumper = ("import json, sys, aws_cdk as cdk; app = cdk.App(); "
              "open(sys.argv[1], 'w').write(json.dumps(app.node.get_all_context())); "
              "cdk.CfnWaitConditionHandle(cdk.Stack(app, 'ContextProbe'), 'Probe'); app.synth()")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_"))}
    env["PATH"] = f"{CDK.parent}{os.pathsep}{env['PATH']}"
    result = subprocess.run(
        [str(CDK), "synth", "--quiet", "--app", f"{REPO / '.venv' / 'bin' / 'python'} -c \"{dumper}\" {dump}",
         "--output", str(tmp_path / "cdk.out")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    cli_context = {k: v for k, v in json.loads(dump.read_text()).items() if k not in _CLI_ONLY}
    assert cli_context == cdk_json_context()


def test_cdk_json_restates_no_app_default() -> None:
    from stacks.settings import CONTEXT_KEYS

    context = json.loads((REPO / "cdk.json").read_text())["context"]
    assert sorted(set(context) & set(CONTEXT_KEYS)) == [], "app defaults live in stacks/settings.py's AppSettings"
