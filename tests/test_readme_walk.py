"""The commands of README.md and docs/*.md as written, in a fresh clone: offline ones succeed, account ones
stop in one line.

Apart from tests/test_first_hour.py so that the test run can give this file (a few CLI synths) its own worker.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from aws_cdk.assertions import Template

from tests.helpers import REPO, no_credentials_env, synth_bundled_app
from tests.tempdirs import leftovers

#: The README and every page under docs/: a command shown anywhere is walked.
DOCUMENTS = ("README.md", *sorted(p.relative_to(REPO).as_posix() for p in (REPO / "docs").glob("*.md")))
#: `<!-- sh: KIND -->` right before each fenced sh block: offline (run, must succeed), account (run
#: without credentials, must stop with one line), cluster (needs AWS resources: a deployed cluster,
#: kubectl, or a tool that deploys one; not run).
SH_BLOCK = re.compile(r"(?:<!-- sh: (\w+) -->\n)?```sh\n(.*?)```", re.S)
#: Offline commands that `make test` runs itself (.ci/run runs `make test`), so the walk does not run them
#: again: the suite (this test among it), the scan its `make check` starts, and tests/integ in its pytest run.
RUN_BY_MAKE_TEST = ("make test", "make scan", "make integ")


def sh_blocks() -> list[tuple[str, str | None, list[str]]]:
    """(document, kind, commands) of every fenced sh block, in document order."""
    blocks = []
    for document in DOCUMENTS:
        for kind, body in SH_BLOCK.findall((REPO / document).read_text()):
            commands = [re.sub(r"\s+#.*$", "", line).strip() for line in body.splitlines()]
            blocks.append((document, kind or None, [c for c in commands if c]))
    return blocks


def _commands(kind: str) -> list[str]:
    return [c for _, k, cmds in sh_blocks() if k == kind for c in cmds]


@pytest.fixture(scope="module")
def fresh_clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tracked files as a clone has them, with the installed .venv/.venv-scan/node_modules linked in."""
    clone = tmp_path_factory.mktemp("clone")
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    for name in filter(None, tracked.split("\0")):
        source = REPO / name
        if source.is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, clone / name)  # mtimes kept: make sees its install markers as current
    for env in (".venv", ".venv-scan", "node_modules"):
        if (REPO / env).exists():
            (clone / env).symlink_to((REPO / env).resolve())
    return clone


def test_every_sh_block_of_the_readme_and_docs_is_marked() -> None:
    blocks = sh_blocks()
    unmarked = [(document, commands) for document, kind, commands in blocks if kind not in ("offline", "account", "cluster")]
    assert blocks and not unmarked, unmarked
    assert {document for document, _, _ in blocks} > {"README.md"}, "the walk reads docs/ too"
    assert "make test" in (REPO / ".ci" / "run").read_text(), "the README's `make test` is what CI runs"


def test_commands_left_to_make_test_are_documented_and_run_by_it() -> None:
    offline = _commands("offline")
    assert all(command in offline for command in RUN_BY_MAKE_TEST), offline
    check = (REPO / "Makefile").read_text().split("\ncheck:", 1)[1].split("\n\n", 1)[0]
    assert "$(MAKE) --no-print-directory scan" in check and "-m pytest -q" in check, check
    assert (REPO / "mk" / "integ.mk").read_text().count("-m pytest -q tests/integ") == 1


def test_readme_walk_covers_the_context_examples() -> None:
    commands = _commands("offline")
    assert any("nat_gateways=2" in c for c in commands) and any("allow_public_endpoint_from_anywhere" in c for c in commands)


@pytest.mark.parametrize("command", [c for c in dict.fromkeys(_commands("offline")) if c not in RUN_BY_MAKE_TEST])
def test_readme_offline_command_succeeds_in_a_fresh_clone(command: str, fresh_clone: Path, tmp_path: Path) -> None:
    """Each command as written, with no AWS credentials; the default synth, whether through make and the
    real aws-cdk CLI or `python3 app.py`, writes exactly the template the tests' apps build."""
    result = subprocess.run(command, shell=True, cwd=fresh_clone, env=no_credentials_env(tmp_path),
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{command}\n{result.stdout[-1500:]}\n{result.stderr[-3000:]}"
    assert "end-of-life" not in result.stderr, "jsii's Node end-of-life banner must not reach users"
    assert leftovers(tmp_path) == [], f"{command} left temporary files behind"
    if not command.startswith(("make synth", "python3 app.py")):
        return
    assert "templates written to cdk.out/" in result.stdout + result.stderr
    written = {path.name: json.loads(path.read_text()) for path in (fresh_clone / "cdk.out").glob("*.template.json")}
    if "CONTEXT=" not in command:
        (stack,) = synth_bundled_app().stacks
        assert written == {f"{stack.stack_name}.template.json": stack.template}
    if "nat_gateways=2" in command:  # CONTEXT passes any key through (it used to pass only ENV/EPHEMERAL)
        Template.from_json(written["EksEnvelope.template.json"]).resource_count_is("AWS::EC2::NatGateway", 2)


def test_fails_on_a_make_variable_the_makefile_does_not_read(fresh_clone: Path, tmp_path: Path) -> None:
    result = subprocess.run(["make", "synth", "NAT_GATEWAYS=2"], cwd=fresh_clone, env=no_credentials_env(tmp_path),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "NAT_GATEWAYS is not a setting of this Makefile" in result.stderr
    assert "CONTEXT='-c nat_gateways=<value>'" in result.stderr


@pytest.mark.parametrize("command", list(dict.fromkeys(_commands("account"))))
def test_fails_on_readme_account_commands_without_credentials_in_one_line(
    command: str, fresh_clone: Path, tmp_path: Path
) -> None:
    result = subprocess.run(command, shell=True, cwd=fresh_clone, env=no_credentials_env(tmp_path),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    explanation = [line for line in result.stderr.splitlines() if line.strip() and not line.startswith("make")]
    assert explanation == ["eks-envelope: no AWS credentials found: set AWS_PROFILE, or run `aws configure` / `aws sso login`"]


def test_python_app_py_without_the_venv_says_what_to_run(fresh_clone: Path, tmp_path: Path) -> None:
    bare = tmp_path / "bare"
    shutil.copytree(fresh_clone, bare, symlinks=True, ignore=shutil.ignore_patterns(".venv*", "node_modules"))
    python = shutil.which("python3", path="/usr/local/bin:/usr/bin:/bin") or "python3"
    result = subprocess.run([python, "app.py"], cwd=bare, env=no_credentials_env(tmp_path),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        line for line in result.stderr.strip().splitlines() if "make synth" in line] and result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr


def test_fails_on_bad_context_in_python_app_py_with_one_message_and_no_traceback(
    fresh_clone: Path, tmp_path: Path
) -> None:
    (fresh_clone / "cdk.context.json").write_text(json.dumps({"verify": "nope", "kubernetes_version": "1.27"}))
    try:
        result = subprocess.run([str(fresh_clone / ".venv" / "bin" / "python"), "app.py"], cwd=fresh_clone,
                                env=no_credentials_env(tmp_path), capture_output=True, text=True, timeout=300)
    finally:
        (fresh_clone / "cdk.context.json").unlink()
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "-c verify=nope: use true or false" in result.stderr
    assert "kubernetes_version=1.27: use 1.28 or newer" in result.stderr and "did you mean" not in result.stderr
