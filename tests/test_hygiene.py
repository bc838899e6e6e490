"""A run leaves the system temp directory as it found it (each `make test` used to leave ~60 dirs, ~78 MB)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.helpers import REPO
from tests.tempdirs import leftovers


def test_a_test_run_leaves_the_temp_dir_as_it_found_it(tmp_path: Path) -> None:
    system_tmp = tmp_path / "system-tmp"
    system_tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(system_tmp)}
    # Test apps from helpers, CDK's default outdir (cdk.App() without outdir), pytest's tmp_path and jsii,
    # in an xdist worker as `make test` runs them.
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "1", "tests/test_key.py",
         "tests/compliance/test_compliance_rules.py::test_rules_ignore_other_resource_types"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " passed" in result.stdout
    assert leftovers(system_tmp) == []
