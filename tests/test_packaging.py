"""The library as other projects get it: the right `constructs`, and a wheel that works on its own."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.helpers import REPO


def test_constructs_is_the_pypi_package() -> None:
    import constructs

    assert hasattr(constructs, "Construct")
    assert "site-packages" in Path(constructs.__file__).parts
    assert not (REPO / "constructs" / "__init__.py").exists(), "constructs/ must stay a plain source root"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    build_dir = tmp_path_factory.mktemp("src")
    # Build from a copy without local state, as `pip install <git URL>` would see it.
    shutil.copytree(REPO, build_dir / "src", ignore=shutil.ignore_patterns(
        ".venv*", "node_modules", "cdk.out*", ".git", "__pycache__", "*.egg-info", "build", "dist", ".pytest_cache"))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(out), str(build_dir / "src")],
        check=True,
    )
    (built,) = out.glob("eks_envelope-*.whl")
    return built


@pytest.mark.e2e
def test_wheel_carries_library_and_handler_asset(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "eks_envelope/cluster.py" in names
    assert "eks_envelope/compliance/rules/eks.py" in names
    assert "eks_envelope/_handler/verifier/contract.py" in names
    # every handler module ships (a new one missing from the asset would fail only in Lambda, at import)
    handler = {f"eks_envelope/_handler/{m.relative_to(REPO / 'lambda').as_posix()}" for m in (REPO / "lambda" / "verifier").rglob("*.py")}
    assert handler - set(names) == set()
    assert not any(name.startswith("constructs/") for name in names)
    assert not any("tests/" in name for name in names)


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv outside the repository with the wheel installed the way pip installs it (console script included)."""
    venv = tmp_path_factory.mktemp("venv")
    # No pip of its own (bootstrapping one is most of a virtualenv's cost): the test environment's pip
    # installs into it (`pip --python`), exactly as that virtualenv's own pip would.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next(venv.glob("lib/python*/site-packages"))
    # Dependencies come from the test environment (offline); the library itself only from the wheel.
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--quiet",
                    "--no-deps", "--no-index", str(wheel)],
                   check=True, env={**_outside_env(), "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    return venv


def _outside_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",) and not k.startswith("CDK_")}
    return {**env, "CDK_DISABLE_CLI_TELEMETRY": "true"}  # a test never reports to AWS


@pytest.mark.e2e
def test_wheel_ships_type_information_and_a_single_sourced_version(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "eks_envelope/py.typed" in names
    pyproject = (REPO / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in pyproject and 'attr = "eks_envelope.__version__"' in pyproject
    import eks_envelope

    assert wheel.name.startswith(f"eks_envelope-{eks_envelope.__version__}-")
    metadata = zipfile.ZipFile(wheel).read(f"eks_envelope-{eks_envelope.__version__}.dist-info/METADATA").decode()
    assert "Provides-Extra: verify" in metadata and "Requires-Dist: boto3" in metadata


@pytest.mark.e2e
def test_installed_console_command_offers_verify_help_without_node(installed: Path, tmp_path: Path) -> None:
    env = {**_outside_env(), "PATH": f"{installed / 'bin'}{os.pathsep}/usr/bin:/bin"}  # system Node (20) at most
    result = subprocess.run([str(installed / "bin" / "eks-envelope"), "verify", "--help"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: eks-envelope verify") and "--cluster" in result.stdout
    assert "end-of-life" not in result.stderr and "Traceback" not in result.stderr
    version = subprocess.run([str(installed / "bin" / "eks-envelope"), "--version"], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=60)
    import eks_envelope

    assert version.stdout.strip() == f"eks-envelope {eks_envelope.__version__}"


@pytest.mark.e2e
def test_installed_console_command_audits_through_aws_endpoint_url(installed: Path, tmp_path: Path) -> None:
    """`eks-envelope audit --help`, then a whole audit against a loopback AWS named only by AWS_ENDPOINT_URL."""
    from tests import audit_world

    env = {**_outside_env(), "PATH": f"{installed / 'bin'}{os.pathsep}/usr/bin:/bin"}
    command = str(installed / "bin" / "eks-envelope")
    usage = subprocess.run([command, "audit", "--help"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert usage.returncode == 0, usage.stderr
    assert usage.stdout.startswith("usage: eks-envelope audit") and "--organization" in usage.stdout and "exit codes:" in usage.stdout
    bad = subprocess.run([command, "audit", "--accounts", "12"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "12-digit account ids" in bad.stderr

    server, seen = audit_world.serve_loopback()
    try:
        aws = {k: v for k, v in env.items() if not k.startswith("AWS_")}
        aws.update(AWS_ENDPOINT_URL=f"http://127.0.0.1:{server.server_address[1]}", AWS_ACCESS_KEY_ID="AKIDEXAMPLE",
                   AWS_SECRET_ACCESS_KEY="secret", AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE=str(tmp_path / "none"),
                   AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"), AWS_EC2_METADATA_DISABLED="true")
        run = subprocess.run([command, "audit", "--regions", "us-east-1", "--json", "audit.json"], cwd=tmp_path, env=aws,
                             capture_output=True, text=True, timeout=120)
    finally:
        server.shutdown()
    assert run.returncode == 0, run.stdout + run.stderr
    doc = json.loads((tmp_path / "audit.json").read_text())
    from eks_envelope import __version__

    assert doc["tool"] == {"name": "eks-envelope audit", "version": __version__}  # the command tells the handler's report
    assert [(c["account"], c["cluster"], c["verdict"]) for c in doc["clusters"]] == [(audit_world.LOOPBACK_ACCOUNT, "web", "cmk-verified")]
    assert "RESULT: every cluster cmk-verified" in run.stdout
    # every call went to the loopback endpoint: STS, EKS (list, describe, versions) and KMS (key, rotation, grants)
    targets = {t for _m, _p, t in seen}
    assert {"Action=GetCallerIdentity", "TrentService.DescribeKey", "TrentService.GetKeyRotationStatus", "TrentService.ListGrants"} <= targets
    assert {"/clusters", "/cluster-versions"} <= {p.split("?")[0] for _m, p, _t in seen}


@pytest.mark.e2e
def test_installed_package_is_seen_as_typed(installed: Path) -> None:
    site = next(installed.glob("lib/python*/site-packages"))
    assert (site / "eks_envelope" / "py.typed").is_file()
    assert (site / "eks_envelope" / "_handler" / "verifier" / "entry" / "cli.py").is_file()


@pytest.mark.e2e
def test_library_example_runs_as_documented_outside_the_repo(installed: Path, tmp_path: Path) -> None:
    """cdk.json and app.py as docs/library.md says, `cdk synth` with the installed wheel: no warning, no banner."""
    project = tmp_path / "consumer"
    project.mkdir()
    shutil.copy(REPO / "examples" / "consumer" / "consumer_app.py", project / "app.py")
    shutil.copy(REPO / "examples" / "consumer" / "cdk.json", project / "cdk.json")
    env = _outside_env()
    env["PATH"] = f"{installed / 'bin'}{os.pathsep}{REPO / 'node_modules' / '.bin'}{os.pathsep}{env['PATH']}"
    result = subprocess.run([str(REPO / "node_modules" / ".bin" / "cdk"), "synth", "--quiet"], cwd=project, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    output = result.stdout + result.stderr
    assert "WARNING" not in output and "feature flags are not configured" not in output, output[-3000:]
    assert "end-of-life" not in output
    template = json.loads((project / "cdk.out" / "TeamCluster.template.json").read_text())
    types = {r["Type"] for r in template["Resources"].values()}
    assert {"AWS::EKS::Cluster", "Custom::EnvelopeEncryptionVerification", "AWS::Lambda::Function"} <= types
    # The asset's root holds the package `verifier` alone: the handler strings are dotted paths into it.
    handler_assets = [p for p in (project / "cdk.out").glob("asset.*") if (p / "verifier" / "entry" / "dispatch.py").is_file()]
    assert handler_assets and [c.name for c in handler_assets[0].iterdir()] == ["verifier"]
    ours = {m.relative_to(REPO / "lambda").as_posix() for m in (REPO / "lambda" / "verifier").rglob("*.py")}
    assert ours <= {m.relative_to(handler_assets[0]).as_posix() for m in handler_assets[0].rglob("*.py")}
    assert not list(handler_assets[0].rglob("__pycache__")) and not list(handler_assets[0].rglob("*.pyc"))
    site = next(installed.glob("lib/python*/site-packages"))
    assert not (REPO / "constructs").as_posix() in (project / "cdk.out" / "manifest.json").read_text()
    assert site.is_dir()


def test_consumer_cdk_json_carries_the_feature_flags_the_package_is_tested_with() -> None:
    ours = json.loads((REPO / "cdk.json").read_text())["context"]
    consumer = json.loads((REPO / "examples" / "consumer" / "cdk.json").read_text())
    assert consumer["app"] == "python3 app.py"
    assert consumer["context"] == {k: v for k, v in ours.items() if k.startswith("@")}
    guide = (REPO / "docs" / "library.md").read_text()
    assert '"app": "python3 app.py"' in guide and "examples/consumer/cdk.json" in guide


def test_library_guide_shows_the_tested_example_verbatim() -> None:
    guide = (REPO / "docs" / "library.md").read_text()
    example = (REPO / "examples" / "consumer" / "consumer_app.py").read_text()
    marker = "<!-- example:consumer_app.py -->\n```python\n"
    assert marker in guide
    shown = guide.split(marker, 1)[1].split("```", 1)[0]
    assert shown == example


@pytest.mark.parametrize("name", ["VERIFIER_HANDLER", "ASSOCIATION_HANDLER"])
def test_handler_strings_resolve_in_the_asset_as_lambda_loads_them(name: str) -> None:
    """Lambda puts the asset's root on sys.path and imports the handler string's module: nothing else is there."""
    from eks_envelope import contract
    from eks_envelope.handler import asset_dir

    assert sorted(p.name for p in asset_dir().iterdir() if p.name != "__pycache__") == ["verifier"]
    module, _, function = getattr(contract, name).rpartition(".")
    code = ("import importlib, sys; sys.path.insert(0, sys.argv[1]); m = importlib.import_module(sys.argv[2]); "
            "assert callable(getattr(m, sys.argv[3])), 'no handler function'; "
            "outside = sorted(n for n in sys.modules if n.split('.')[0] in ('eks_envelope', 'aws_cdk', 'jsii', 'constructs')); "
            "assert not outside, outside")
    run = subprocess.run([sys.executable, "-I", "-c", code, str(asset_dir()), module, function], capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0, run.stderr
