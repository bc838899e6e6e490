"""`make check` runs the suite through tests.tempdirs: a run that leaves temporary files fails."""
from __future__ import annotations

import sys

from tests.tempdirs import run_leaving_nothing

_WRITE = "import os, pathlib; pathlib.Path(os.environ['TMPDIR'], 'left-behind').mkdir()"


def test_a_run_that_leaves_a_temp_dir_fails(capsys) -> None:
    assert run_leaving_nothing([sys.executable, "-c", _WRITE]) == 1
    assert "left temporary files behind in TMPDIR: left-behind" in capsys.readouterr().err


def test_a_clean_run_keeps_its_exit_code() -> None:
    assert run_leaving_nothing([sys.executable, "-c", "pass"]) == 0
    assert run_leaving_nothing([sys.executable, "-c", "raise SystemExit(3)"]) == 3
