"""The Makefile as a newcomer meets it: one flag convention, ADMIN wherever it synthesizes, prompts that
never hang, the `eks-envelope` command from one target, warnings the README explains, a quiet test run."""
from __future__ import annotations

import io
import os
import re
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.helpers import REPO, load_module

ADMIN_ARN = "arn:aws:iam::111122223333:role/PlatformAdmin"
FLAGS = ("EPHEMERAL", "POD", "CLOUDTRAIL", "DRY_RUN", "FORCE", "BENCH_UPDATE", "BENCH_SKIP_TESTS")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE") and k != "CI"}
    return {**env, **extra}


def make(*args: str, env: dict[str, str] | None = None, timeout: int = 60) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "--no-print-directory", *args], cwd=REPO, env=env or _env(),
                          capture_output=True, text=True, timeout=timeout)


def dry(*args: str, **env: str) -> str:
    """`make -n`: the commands a target would run, none run."""
    result = make("-n", *args, env=_env(**env))
    assert result.returncode == 0, result.stderr
    return result.stdout


# --- one convention for make flags ------------------------------------------------------------

@pytest.mark.e2e
@pytest.mark.parametrize("value", ["1", "true", "yes"])
def test_every_flag_spelling_turns_a_flag_on(value: str) -> None:
    assert "-c ephemeral=true" in dry("synth", f"EPHEMERAL={value}")
    verify = dry("verify", "CLUSTER=c", f"POD={value}", f"CLOUDTRAIL={value}")
    assert "--pod-check" in verify and "--cloudtrail" in verify
    assert "--dry-run" in dry("encrypt-existing", "CLUSTER=c", "KEY=k", f"DRY_RUN={value}")
    assert "confirm-destroy" not in dry("destroy", f"FORCE={value}")
    assert "BENCH_UPDATE=1" in dry("bench", f"BENCH_UPDATE={value}")


@pytest.mark.e2e
@pytest.mark.parametrize("value", ["0", "false", "no", ""])
def test_every_off_spelling_leaves_a_flag_off(value: str) -> None:
    assert "ephemeral=true" not in dry("synth", f"EPHEMERAL={value}")
    verify = dry("verify", "CLUSTER=c", f"POD={value}", f"CLOUDTRAIL={value}")
    assert "--pod-check" not in verify and "--cloudtrail" not in verify
    assert "--dry-run" not in dry("encrypt-existing", "CLUSTER=c", "KEY=k", f"DRY_RUN={value}")
    assert "confirm-destroy" in dry("destroy", f"FORCE={value}")
    assert "BENCH_UPDATE=1" not in dry("bench", f"BENCH_UPDATE={value}")


@pytest.mark.e2e
@pytest.mark.parametrize("flag", FLAGS)
def test_fails_on_an_ambiguous_flag_value_in_one_line(flag: str) -> None:
    result = make("help", f"{flag}=maybe")
    assert result.returncode != 0
    (line,) = result.stderr.strip().splitlines()
    assert f"{flag}=maybe is not a flag value: use {flag}=1 (or true, yes) to turn it on" in line


@pytest.mark.e2e
def test_explicitly_off_ephemeral_reaches_the_app_as_false() -> None:
    assert "-c ephemeral=false" in dry("synth", "EPHEMERAL=0")


# --- ADMIN on every target that synthesizes ----------------------------------------------------

@pytest.mark.e2e
@pytest.mark.parametrize("target", ["synth", "diff", "deploy"])
def test_admin_reaches_every_synthesizing_target(target: str) -> None:
    commands = dry(target, f"ADMIN={ADMIN_ARN}")
    assert f'admin-arns "{ADMIN_ARN}" cdk.json' in commands
    assert re.search(r'cdk (synth|diff) [^\n]*-c "admin_principal_arns=\$admins"', commands), commands


# --- prompts: destroy asks, deploy never waits without a terminal --------------------------------

@pytest.mark.e2e
def test_destroy_asks_for_the_stack_name_unless_forced_or_in_ci() -> None:
    assert 'confirm-destroy "EksEnvelope"' in dry("destroy")
    assert 'confirm-destroy "EksEnvelope-pr-42"' in dry("destroy", "ENV=pr-42")
    assert "confirm-destroy" not in dry("destroy", "CI=true")
    commands = dry("destroy")
    assert commands.index("workstation credentials") < commands.index("confirm-destroy") < commands.index("cdk destroy")


class _Input(io.StringIO):
    def __init__(self, text: str, tty: bool) -> None:
        super().__init__(text)
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


def test_confirm_destroy_passes_when_the_stack_name_is_typed() -> None:
    from eks_envelope.workstation import confirm_destroy

    prompt = io.StringIO()
    confirm_destroy("EksEnvelope-pr-42", _Input("EksEnvelope-pr-42\n", tty=True), prompt)
    assert "Type its name to confirm" in prompt.getvalue()


def test_fails_on_confirm_destroy_with_another_name() -> None:
    from eks_envelope.workstation import WorkstationError, confirm_destroy

    with pytest.raises(WorkstationError, match="'y' is not 'EksEnvelope': nothing destroyed"):
        confirm_destroy("EksEnvelope", _Input("y\n", tty=True), io.StringIO())


def test_fails_on_confirm_destroy_without_a_terminal_in_one_line_naming_force() -> None:
    from eks_envelope.workstation import WorkstationError, confirm_destroy

    with pytest.raises(WorkstationError) as raised:
        confirm_destroy("EksEnvelope", _Input("", tty=False), io.StringIO())
    assert "no terminal" in str(raised.value) and "FORCE=1" in str(raised.value) and "\n" not in str(raised.value)


@pytest.mark.e2e
def test_deploy_asks_for_broadening_changes_and_ci_deploys_without_asking() -> None:
    assert "--require-approval broadening" in dry("deploy")
    assert "--require-approval never" in dry("deploy", CI="true")
    assert "--require-approval broadening" in dry("deploy", CI="false")


def test_the_pinned_cli_fails_rather_than_waits_without_a_terminal() -> None:
    """What README's Prompts paragraph says of aws-cdk's approval prompt, read from the pinned CLI's code."""
    bundled = (REPO / "node_modules" / "aws-cdk" / "lib" / "index.js")
    if not bundled.exists():
        pytest.skip("aws-cdk CLI not installed: run `make test`, which installs it")
    code = bundled.read_text()
    assert "terminal (TTY) is not attached so we are unable to get a confirmation from the user" in code
    assert "this.isTTY = props.isTTY ?? process.stdout.isTTY ?? false;" in code


@pytest.mark.e2e
def test_integ_deploy_checks_credentials_before_anything_else() -> None:
    commands = dry("integ-deploy", "ENV=it-1")
    assert commands.index("workstation credentials") < commands.index("deploy_and_destroy.sh")


@pytest.mark.e2e
def test_audit_checks_credentials_first_and_takes_flags_by_the_convention(tmp_path: Path) -> None:
    commands = dry("audit", "ORGANIZATION=yes", "KUBERNETES=1", "CLOUDTRAIL=true")
    assert commands.index("workstation credentials") < commands.index("console audit")
    assert "--organization" in commands and "--kubernetes" in commands and "--cloudtrail" in commands
    assert "--organization" not in dry("audit", "ORGANIZATION=0")
    refused = make("audit", "ORGANIZATION=maybe")
    assert refused.returncode != 0 and "ORGANIZATION=maybe is not a flag value" in refused.stderr
    bare = {k: v for k, v in _env().items() if not k.startswith("AWS_")}
    bare.update(AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"), AWS_CONFIG_FILE=str(tmp_path / "none"),
                AWS_EC2_METADATA_DISABLED="true")
    for profile, first_line in ((None, "eks-envelope: no AWS credentials found"),
                                ("typo", "eks-envelope: AWS profile 'typo' not found")):
        without = make("audit", env={**bare, **({"AWS_PROFILE": profile} if profile else {})}, timeout=300)
        assert without.returncode != 0
        lines = [line for line in without.stderr.splitlines() if line.strip() and not line.startswith("make")]
        assert len(lines) == 1 and lines[0].startswith(first_line), without.stderr[-2000:]
        assert lines[0].endswith("set AWS_PROFILE, or run `aws configure` / `aws sso login`")


# --- telemetry and temp hygiene ----------------------------------------------------------------

def test_make_runs_the_cdk_cli_with_its_documented_telemetry_switch_off() -> None:
    """The walk's `make synth` in an empty TMPDIR proves the effect (no payload file left behind)."""
    assert re.search(r"^export CDK_DISABLE_CLI_TELEMETRY \?= true$", (REPO / "Makefile").read_text(), re.M)
    bundled = REPO / "node_modules" / "aws-cdk" / "lib" / "index.js"
    if bundled.exists():  # the switch the pinned CLI reads
        assert '["true", "1"].includes(process.env.CDK_DISABLE_CLI_TELEMETRY' in bundled.read_text()


@pytest.mark.e2e
def test_make_check_runs_scan_and_suite_each_in_an_empty_tmpdir_that_must_stay_empty() -> None:
    commands = dry("check")
    assert re.search(r"-m tests\.tempdirs make[^\n]* scan", commands), commands
    assert re.search(r"-m tests\.tempdirs \S+ -m pytest -q", commands), commands
    scan = dry("scan-only")
    assert re.search(r"TMPDIR=\S+/\.venv-scan/tmp \S+/python scripts/scan\.py", scan), scan


# --- the eks-envelope command ------------------------------------------------------------------

@pytest.mark.e2e
def test_make_help_lists_clean_wheel_and_install_cli() -> None:
    out = make("help").stdout
    assert "make clean" in out and "make install-cli" in out and "make wheel" in out


def _git_state() -> tuple[str, list[str]]:
    """What git sees changed, and the build leftovers it ignores (setuptools' build/ and *.egg-info, dist/)."""
    status = subprocess.run(["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    leftovers = [p.relative_to(REPO).as_posix() for pattern in ("build", "dist", "*.egg-info", "*/*.egg-info", "*/*/*.egg-info")
                 for p in REPO.glob(pattern) if not p.relative_to(REPO).as_posix().startswith((".venv", "node_modules"))]
    return status, sorted(leftovers)


@pytest.fixture(scope="module")
def cli_install(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """`make install-cli` without pipx, offline: the virtualenv gets its dependencies from the test environment."""
    import sysconfig

    root = tmp_path_factory.mktemp("cli")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    (next(venv.glob("lib/python*/site-packages")) / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    before = _git_state()
    env = _env(PIP_NO_INDEX="1", PATH="/usr/local/bin:/usr/bin:/bin")
    result = make("install-cli", f"CLI_VENV={venv}", f"CLI_BIN={root / 'bin'}", f"WHEEL_DIR={root / 'dist'}",
                  env=env, timeout=300)
    return {"result": result, "root": root, "before": before, "after": _git_state()}


@pytest.mark.e2e
def test_install_cli_puts_eks_envelope_on_cli_bin_and_leaves_the_tree_as_it_was(cli_install: dict) -> None:
    result, root = cli_install["result"], cli_install["root"]
    assert result.returncode == 0, result.stderr
    assert f"eks-envelope installed: {root / 'bin' / 'eks-envelope'}" in result.stdout
    assert cli_install["after"] == cli_install["before"], "no build/, *.egg-info or dist/ left in the checkout"
    (wheel,) = (root / "dist").glob("eks_envelope-*.whl")
    assert "eks_envelope/console.py" in zipfile.ZipFile(wheel).namelist()


@pytest.mark.e2e
def test_installed_encrypt_existing_help_names_the_command_as_typed(cli_install: dict) -> None:
    assert cli_install["result"].returncode == 0, cli_install["result"].stderr
    help_text = subprocess.run([str(cli_install["root"] / "bin" / "eks-envelope"), "encrypt-existing", "--help"],
                               capture_output=True, text=True, timeout=60, env=_env())
    assert help_text.returncode == 0 and help_text.stdout.startswith("usage: eks-envelope encrypt-existing ")


@pytest.mark.e2e
def test_install_cli_uses_pipx_when_it_is_on_path(tmp_path: Path) -> None:
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    pipx = fake_bin / "pipx"
    pipx.write_text(f'#!/bin/sh\necho "$@" > {tmp_path / "pipx-args"}\n')
    pipx.chmod(pipx.stat().st_mode | stat.S_IEXEC)
    env = _env(PATH=f"{fake_bin}{os.pathsep}/usr/local/bin:/usr/bin:/bin")
    result = make("install-cli", f"WHEEL_DIR={tmp_path / 'dist'}", env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    args = (tmp_path / "pipx-args").read_text().split()
    assert args[:2] == ["install", "--force"]
    assert re.fullmatch(rf"{re.escape(str(tmp_path / 'dist'))}/eks_envelope-[^/]+\.whl\[verify\]", args[2]), args


# --- bench writes outside version control ------------------------------------------------------

def test_bench_writes_to_the_build_folder_and_the_committed_results_only_on_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bench = load_module("run_bench_under_test", REPO / "bench" / "run_bench.py")
    monkeypatch.delenv("BENCH_OUT", raising=False)
    assert bench.out_dir() == REPO / "build" / "bench"
    assert bench.publish.__defaults__[-1] == REPO / "bench" / "results.md"
    committed = tmp_path / "committed.md"
    committed.write_text("as committed")
    written = bench.publish("fresh numbers", tmp_path / "build", False, committed)
    assert written == [tmp_path / "build" / "results.md"] and committed.read_text() == "as committed"
    bench.publish("fresh numbers", tmp_path / "build", True, committed)
    assert committed.read_text() == "fresh numbers"


# --- every warning the product prints is in the README --------------------------------------------

README = (REPO / "README.md").read_text()
WARNINGS_SECTION = README.split("## Warnings you will see", 1)[1].split("\n## ", 1)[0]
_SOURCES = [*(REPO / "constructs").rglob("*.py"), *(REPO / "stacks").rglob("*.py"), REPO / "app.py"]


def _emitted() -> tuple[set[str], int]:
    ids: set[str] = set()
    infos = 0
    for path in _SOURCES:
        text = path.read_text()
        ids |= set(re.findall(r'add_warning_v2\(\s*"([^"]+)"', text))
        infos += len(re.findall(r"\.add_info\(", text))
        assert not re.search(r"\.add_warning\(", text), f"{path}: add_warning_v2 (with an id) so it can be acknowledged"
    return ids, infos


def test_readme_lists_every_warning_id_the_code_can_emit() -> None:
    ids, infos = _emitted()
    listed = set(re.findall(r"^\| `([a-z-]+:[a-z-]+)` \|", WARNINGS_SECTION, re.M))
    assert ids and listed == ids
    assert len(re.findall(r"^\| \(info\) \|", WARNINGS_SECTION, re.M)) == infos


def test_a_warning_is_acknowledged_the_way_the_readme_says() -> None:
    import aws_cdk as cdk
    from aws_cdk.assertions import Annotations, Match

    from eks_envelope import EnvelopeEncryptedCluster
    from tests.helpers import new_app

    snippet = re.search(r'`(cdk\.Annotations\.of\(cluster\)\.acknowledge_warning\("<id>", "<reason>"\))`', WARNINGS_SECTION)
    assert snippet, "README names the acknowledgement call"
    stack = cdk.Stack(new_app(), "Acknowledged")
    cluster = EnvelopeEncryptedCluster(stack, "Cluster", public_access_cidrs=["0.0.0.0/0"],
                                       allow_public_endpoint_from_anywhere="CI runners have no fixed egress; IAM still guards")
    eval(snippet[1].replace("<id>", "eks-envelope:no-admin").replace("<reason>", "access entries come from the platform team"),
         {"cdk": cdk, "cluster": cluster})
    annotations = Annotations.from_stack(stack)
    annotations.has_no_warning("*", Match.string_like_regexp("No admin_principal_arns"))
    # The opt-in to a public endpoint from anywhere is the owner's acknowledged choice: info, not a warning.
    annotations.has_no_warning("*", Match.string_like_regexp("endpoint is public"))
    annotations.has_info("/Acknowledged/Cluster", Match.string_like_regexp(
        "public for 0.0.0.0/0, as allow_public_endpoint_from_anywhere acknowledges: CI runners"))


# --- a quiet test run ----------------------------------------------------------------------------

@pytest.mark.e2e
def test_quiet_test_run_does_not_repeat_bringing_up_nodes(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-n", "2", "-p", "no:randomly", "-p", "no:cacheprovider",
                             "tests/test_tempdirs.py"], cwd=REPO, capture_output=True, text=True, timeout=120,
                            env=_env(TMPDIR=str(tmp_path)))
    assert result.returncode == 0, result.stdout[-2000:]
    assert "bringing up nodes" not in result.stdout
    assert result.stdout.strip().splitlines()[-1].startswith("2 passed")
