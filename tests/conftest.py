"""Test-wide setup, done before jsii starts.

Node 24 from node_modules goes first on PATH, so tests run on the Node version `make` uses and
never print jsii's Node end-of-life banner. Every temporary directory of the run (pytest's,
CDK's, jsii's, subprocesses') goes into one private directory removed at exit, so a test run leaves
the system temp directory as it found it. Synth judges the EKS calendar as on the day the facts
were last checked (EKS_ENVELOPE_TODAY), so the suite passes on any later day.
"""
from __future__ import annotations

import os
from pathlib import Path

from eks_envelope.facts import TODAY_ENV, last_checked
from tests.tempdirs import contain_temp_dirs
from tests.tiering import pytest_configure, pytest_runtest_protocol  # noqa: F401  (the e2e tier's guard)

_NODE_BIN = Path(__file__).resolve().parents[1] / "node_modules" / ".bin"
if _NODE_BIN.is_dir() and str(_NODE_BIN) not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = f"{_NODE_BIN}{os.pathsep}{os.environ.get('PATH', '')}"

contain_temp_dirs()

# The suite runs as on the day its facts were last checked, in this process and every subprocess
# (synths, the README walk): what a synth warns about the EKS calendar then never changes with the
# day the suite runs. Date logic is tested with explicit dates (tests/test_support.py).
os.environ.setdefault(TODAY_ENV, last_checked().isoformat())

def pytest_sessionstart(session) -> None:
    """`pytest -q` (make test) off a terminal: pytest-xdist 3.8 replaces its "N workers [M items]" line by
    "bringing up nodes..." when quiet, and prints it twice (when the workers start and when they have
    collected). Quiet means quiet: drop both; the summary line still says how many tests ran."""
    reporter = session.config.pluginmanager.getplugin("terminaldistreporter")
    if reporter is not None and session.config.option.verbose < 0 and not getattr(reporter, "_isatty", True):
        reporter.ensure_show_status = lambda: None
