"""The suite's tiers (tests/tiering.py): an end-to-end test cannot sit in the fast tier unmarked."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO
from tests.tiering import fast_tier_allows

PY = str(REPO / ".venv" / "bin" / "python")

#: Commands the e2e tests start (one of each kind): none may start from a fast test.
PRODUCT = [
    (["make", "--no-print-directory", "-n", "synth"], False),
    ("make synth CONTEXT='-c nat_gateways=2'", True),
    ("python3 app.py", True),
    ([PY, "app.py"], False),
    ([str(REPO / "node_modules" / ".bin" / "cdk"), "synth", "--quiet"], False),
    ([PY, "-m", "pip", "wheel", "--no-deps", "-w", "dist", "."], False),
    ([PY, "-m", "venv", "--without-pip", "venv"], False),
    ([PY, "-m", "pytest", "-q", "tests/test_tempdirs.py"], False),
    ([str(REPO / ".venv-scan" / "bin" / "python"), str(REPO / "scripts" / "scan.py"), "cdk.out"], False),
    ([PY, str(REPO / "lambda" / "verifier" / "cli.py"), "--key", "x"], False),
    ([PY, str(REPO / "tests" / "integ" / "integ_envelope.py")], False),
    (["bash", str(REPO / "tests" / "integ" / "deploy_and_destroy.sh"), "t"], False),
    (["/tmp/venv/bin/eks-envelope", "verify", "--help"], False),
    (["git", "ls-files", "-z"], False),
    ([str(REPO / ".venv-scan" / "bin" / "cfn-lint"), "--format", "json", "--", "t.json"], False),
    ([str(REPO / ".venv-scan" / "lib" / "cdk_validator_cfnguard" / "bin" / "cfn-guard"), "validate", "--rules", "r"], False),
    ([str(REPO / ".venv-scan" / "bin" / "checkov"), "--framework", "cloudformation"], False),
    (["node", str(REPO / "app.js")], False),
]
#: What a fast test may start: jsii's kernel, Python snippets, what Python starts itself.
TOOLS = [
    (["node", "--max-old-space-size=4069", "/tmp/jsii-kernel/bin/jsii-runtime.js"], False),
    ([sys.executable, "-c", "pass"], False),
    ([PY, "-u", "-c", "import sys;exec(eval(sys.stdin.readline()))"], False),
    (["uname", "-p"], False),
]


@pytest.mark.parametrize(("args", "shell"), PRODUCT, ids=lambda a: a if isinstance(a, str) else None)
def test_fails_a_fast_test_that_starts_the_product(args: object, shell: bool) -> None:
    assert not fast_tier_allows(args, shell=shell)


@pytest.mark.parametrize(("args", "shell"), TOOLS)
def test_a_fast_test_may_run_jsii_and_python_snippets(args: object, shell: bool) -> None:
    assert fast_tier_allows(args, shell=shell)


def test_a_fast_test_may_run_a_fake_it_wrote_under_its_tmp_path(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    fake = tmp_path / "bin" / "checkov"
    assert fast_tier_allows([str(fake), "--version"], fakes=tmp_path_factory.getbasetemp())
    assert not fast_tier_allows([str(fake), "--version"], fakes=None)
    # a link out of tmp_path is the program it points at
    (tmp_path / "venv").symlink_to(REPO / ".venv")
    assert not fast_tier_allows([str(tmp_path / "venv" / "bin" / "python"), "app.py"], fakes=tmp_path_factory.getbasetemp())


def test_fails_this_fast_test_the_moment_it_starts_make() -> None:
    """The guard is live in this run: an unmarked test fails before the process exists, whatever it catches."""
    with pytest.raises(pytest.fail.Exception, match=r"test_tiering\.py::\S+ starts `make --version`: a test that starts a real program .* mark it @pytest\.mark\.e2e"):
        try:
            subprocess.run(["make", "--version"], capture_output=True, check=False)
        except Exception:  # noqa: BLE001  (a test that swallows errors still fails: pytest.fail is no Exception)
            pass
    with pytest.raises(pytest.fail.Exception, match="starts `python3 app.py`"):
        subprocess.run("python3 app.py", shell=True, capture_output=True, check=False)
    assert subprocess.run([sys.executable, "-c", "print('ok')"], capture_output=True, text=True).stdout == "ok\n"


@pytest.mark.e2e
def test_an_e2e_test_may_start_the_product() -> None:
    assert subprocess.run(["make", "--version"], capture_output=True, text=True, check=True).stdout.startswith("GNU Make")


def test_make_test_runs_both_tiers_and_test_fast_only_the_fast_one() -> None:
    makefile = (REPO / "Makefile").read_text()
    check = makefile.split("\ncheck:", 1)[1].split("\n\n", 1)[0]
    assert re.search(r"-m pytest -q$", check, re.M) and " -m e2e" not in check and "not e2e" not in check, check
    fast = makefile.split("\ntest-fast:", 1)[1].split("\n\n", 1)[0]
    assert "-m pytest -q -m 'not e2e'" in fast, fast
    assert "make test-fast" in subprocess_free_help(makefile)


def subprocess_free_help(makefile: str) -> str:
    """`make help`'s lines as the Makefile spells them (test_make_targets runs `make help` itself, in the e2e tier)."""
    return "\n".join(re.findall(r'^\t@echo "(make [^"]*)"', makefile, re.M))
