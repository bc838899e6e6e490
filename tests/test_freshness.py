"""`make freshness`: lists every dated fact, and fails on an injected day when one is due."""
from __future__ import annotations

import datetime
import os
import subprocess
import sys
from pathlib import Path

import pytest

from eks_envelope.facts import MAX_AGE_DAYS, Fact, all_facts, last_checked
from eks_envelope.freshness import main, report, status

ROOT = Path(__file__).resolve().parents[1]
D = datetime.date


def test_every_fact_has_a_source_and_a_checked_day() -> None:
    names = [f.name for f in all_facts()]
    assert len(names) == len(set(names))
    for fact in all_facts():
        assert fact.source.startswith("https://") and fact.checked <= last_checked(), fact
    for expected in ("node.24.end_of_life", "lambda.python3.14.deprecation", "aws-cdk-lib.newest", "aws-cdk.newest"):
        assert expected in names


def test_facts_name_what_the_project_pins() -> None:
    facts = {f.name: f.value for f in all_facts()}
    assert f"aws-cdk-lib=={facts['aws-cdk-lib.newest']}" in (ROOT / "requirements.txt").read_text()
    package = (ROOT / "package.json").read_text()
    assert f'"aws-cdk": "{facts["aws-cdk.newest"]}"' in package and '"node": "24.' in package


def test_status_expired_stale_and_ok() -> None:
    fact = Fact("x", "v", "https://example.com", D(2026, 1, 1), expires=D(2026, 3, 1))
    assert status(fact, D(2026, 3, 1)) == "ok"
    assert status(fact, D(2026, 3, 2)) == "EXPIRED on 2026-03-01"
    ageing = Fact("y", "v", "https://example.com", D(2026, 1, 1))
    assert status(ageing, D(2026, 1, 1) + datetime.timedelta(days=MAX_AGE_DAYS)) == "ok"
    assert status(ageing, D(2026, 1, 1) + datetime.timedelta(days=MAX_AGE_DAYS + 1)).startswith("STALE: checked 121 days ago")


def test_fresh_on_the_day_the_facts_were_checked(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--today", last_checked().isoformat()]) == 0
    out = capsys.readouterr().out
    assert f"all {len(all_facts())} facts fresh" in out
    for fact in all_facts():
        assert fact.name in out and fact.source in out


def test_fails_when_a_fact_is_due_on_an_injected_day(capsys: pytest.CaptureFixture[str]) -> None:
    later = last_checked() + datetime.timedelta(days=MAX_AGE_DAYS + 1)
    assert main(["--today", later.isoformat()]) == 1
    assert f"facts due on {later}" in capsys.readouterr().out
    lines, due = report(D(2028, 5, 1))
    assert due == len(all_facts())
    assert any("node.24.end_of_life" in line and "EXPIRED on 2028-04-30" in line for line in lines)


@pytest.mark.e2e
def test_make_freshness_exit_codes(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHON": sys.executable}
    ok = subprocess.run(["make", "-s", "freshness", f"TODAY={last_checked()}"], cwd=ROOT, env=env,
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    due = subprocess.run(["make", "-s", "freshness", "TODAY=2099-01-01"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert due.returncode != 0 and "facts due on 2099-01-01" in due.stdout
