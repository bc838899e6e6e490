"""The commands of README.md and docs/*.md as written, in a fresh clone: offline ones succeed, account ones
stop in one line.

Apart from tests/test_first_hour.py so that the test run can give this file (a few CLI synths) its own worker.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest
from aws_cdk.assertions import Template

from tests.helpers import REPO, no_credentials_env, synth_bundled_app
from tests.tempdirs import leftovers

#: The README and every page under docs/: a command shown anywhere is walked.
DOCUMENTS = ("README.md", *sorted(p.relative_to(REPO).as_posix() for p in (REPO / "docs").glob("*.md")))
#: `<!-- sh: KIND -->` right before each fenced sh block: offline (run, must succeed), account (run
#: without credentials, must stop with one line), cluster (needs AWS resources: a deployed cluster,
#: kubectl, or a tool that deploys one; not run), setup (a consumer project's set-up, downloads from
#: package registries: checked, not run).
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
    unmarked = [(document, commands) for document, kind, commands in blocks if kind not in ("offline", "account", "cluster", "setup")]
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


@dataclass
class OfflineRun:
    result: subprocess.CompletedProcess
    written: dict[str, Any]  # cdk.out's templates right after the command
    left: list[str]  # what it left in its TMPDIR


@pytest.fixture(scope="module")
def offline_run(fresh_clone: Path, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], OfflineRun]:
    """Run a README command in the fresh clone with no AWS credentials and an empty TMPDIR, once per command."""
    runs: dict[str, OfflineRun] = {}

    def run(command: str) -> OfflineRun:
        if command not in runs:
            tmp = tmp_path_factory.mktemp("tmpdir")
            result = subprocess.run(command, shell=True, cwd=fresh_clone, env=no_credentials_env(tmp),
                                    capture_output=True, text=True, timeout=600)
            written = {path.name: json.loads(path.read_text()) for path in (fresh_clone / "cdk.out").glob("*.template.json")}
            runs[command] = OfflineRun(result, written, leftovers(tmp))
        return runs[command]

    return run


@pytest.mark.e2e
@pytest.mark.parametrize("command", [c for c in dict.fromkeys(_commands("offline")) if c not in RUN_BY_MAKE_TEST])
def test_readme_offline_command_succeeds_in_a_fresh_clone(command: str, offline_run: Callable[[str], OfflineRun]) -> None:
    """Each command as written, with no AWS credentials; the default synth, whether through make and the
    real aws-cdk CLI or `python3 app.py`, writes exactly the template the tests' apps build."""
    run = offline_run(command)
    result, written = run.result, run.written
    assert result.returncode == 0, f"{command}\n{result.stdout[-1500:]}\n{result.stderr[-3000:]}"
    assert "end-of-life" not in result.stderr, "jsii's Node end-of-life banner must not reach users"
    assert run.left == [], f"{command} left temporary files behind (the CLI's telemetry payload among them?)"
    if not command.startswith(("make synth", "python3 app.py")):
        return
    assert "templates written to cdk.out/" in result.stdout + result.stderr
    if "CONTEXT=" not in command and "ADMIN=" not in command:
        (stack,) = synth_bundled_app().stacks
        assert written == {f"{stack.stack_name}.template.json": stack.template}
    if "nat_gateways=2" in command:  # CONTEXT passes any key through (it used to pass only ENV/EPHEMERAL)
        Template.from_json(written["EksEnvelope.template.json"]).resource_count_is("AWS::EC2::NatGateway", 2)
    if "ADMIN=" in command:  # an explicit ARN needs no credentials and silences the no-admin warning
        (admin,) = re.findall(r"ADMIN=(\S+)", command)
        Template.from_json(written["EksEnvelope.template.json"]).has_resource_properties(
            "AWS::EKS::AccessEntry", {"PrincipalArn": admin})
        assert "eks-envelope:no-admin" not in result.stderr
    if "allow_public_endpoint_from_anywhere" in command:  # the documented opt-in is a note, not a warning
        warnings = [line for line in result.stderr.splitlines() if line.startswith("WARNING")]
        assert warnings and all("No admin_principal_arns" in w for w in warnings), warnings
        assert "eks-envelope:public-endpoint" not in result.stderr


@pytest.mark.e2e
def test_python_app_py_prints_what_make_synth_prints_as_the_readme_says(offline_run: Callable[[str], OfflineRun]) -> None:
    """README, Two commands: the same lines, the warnings before the table, plus aws-cdk-lib's report line."""
    def lines(run: OfflineRun) -> list[str]:
        assert run.result.returncode == 0, run.result.stderr[-3000:]
        return sorted(line for line in (run.result.stdout + run.result.stderr).splitlines() if line.strip())

    make, app = lines(offline_run("make synth")), lines(offline_run("python3 app.py"))
    extra = "A copy of this report can be found in: cdk.out/validation-report.json"
    assert any(extra in (REPO / document).read_text() for document in DOCUMENTS)
    assert app == sorted([*make, extra])
    assert any(line.startswith("compliance packs") for line in app)


@pytest.mark.e2e
def test_fails_on_make_synth_admin_me_without_credentials_in_one_line(fresh_clone: Path, tmp_path: Path) -> None:
    """ADMIN=me asks STS who you are, so `make synth ADMIN=me` needs credentials (an ARN list does not)."""
    result = subprocess.run(["make", "synth", "ADMIN=me"], cwd=fresh_clone, env=no_credentials_env(tmp_path),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    explanation = [line for line in result.stderr.splitlines() if line.strip() and not line.startswith("make")]
    assert explanation == ["eks-envelope: no AWS credentials found: set AWS_PROFILE, or run `aws configure` / `aws sso login`"]


def test_consumer_setup_block_installs_this_version_with_the_pinned_cli() -> None:
    """README's consumer set-up names the wheel `make wheel` builds and the CLI package.json pins."""
    from eks_envelope import __version__

    setup = " ".join(_commands("setup"))
    cli_pin = json.loads((REPO / "package.json").read_text())["devDependencies"]["aws-cdk"]
    assert f"eks_envelope-{__version__}-py3-none-any.whl[verify]" in setup
    assert f"aws-cdk@{cli_pin}" in setup and "npx cdk synth" in setup


@pytest.mark.e2e
def test_fails_on_a_make_variable_the_makefile_does_not_read(fresh_clone: Path, tmp_path: Path) -> None:
    result = subprocess.run(["make", "synth", "NAT_GATEWAYS=2"], cwd=fresh_clone, env=no_credentials_env(tmp_path),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "NAT_GATEWAYS is not a setting of this Makefile" in result.stderr
    assert "CONTEXT='-c nat_gateways=<value>'" in result.stderr


@pytest.mark.e2e
@pytest.mark.parametrize("command", list(dict.fromkeys(_commands("account"))))
def test_fails_on_readme_account_commands_without_credentials_in_one_line(
    command: str, fresh_clone: Path, tmp_path: Path
) -> None:
    result = subprocess.run(command, shell=True, cwd=fresh_clone, env=no_credentials_env(tmp_path),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    explanation = [line for line in result.stderr.splitlines() if line.strip() and not line.startswith("make")]
    assert explanation == ["eks-envelope: no AWS credentials found: set AWS_PROFILE, or run `aws configure` / `aws sso login`"]


@pytest.mark.e2e
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


@pytest.mark.e2e
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
