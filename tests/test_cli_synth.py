"""The app synthesizes in tests exactly as the real aws-cdk CLI synthesizes it from cdk.json."""
from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.helpers import REPO, synth_bundled_app

CDK = REPO / "node_modules" / ".bin" / "cdk"


@pytest.mark.skipif(not CDK.exists(), reason="aws-cdk CLI not installed: run `make test`, which installs it")
def test_cli_synth_matches_the_test_app(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_"))}
    env["PATH"] = f"{CDK.parent}{os.pathsep}{env['PATH']}"
    result = subprocess.run(
        [str(CDK), "synth", "--quiet", "--output", str(tmp_path / "cdk.out")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "end-of-life" not in result.stderr, "jsii's Node end-of-life banner must not reach users"
    (stack,) = synth_bundled_app().stacks
    cli_template = json.loads((tmp_path / "cdk.out" / f"{stack.stack_name}.template.json").read_text())
    assert cli_template == stack.template
