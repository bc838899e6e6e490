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


def test_wheel_carries_library_and_handler_asset(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "eks_envelope/cluster.py" in names
    assert "eks_envelope/_verifier_handler/index.py" in names
    assert not any(name.startswith("constructs/") for name in names)
    assert not any("tests/" in name for name in names)


def test_installed_wheel_synthesizes_a_consumer_stack_outside_the_repo(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next(venv.glob("lib/python*/site-packages"))
    # Dependencies come from the test environment; the library itself only from the wheel.
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    with zipfile.ZipFile(wheel) as whl:
        whl.extractall(site)
    project = tmp_path / "consumer"
    project.mkdir()
    shutil.copy(REPO / "examples" / "consumer" / "consumer_app.py", project / "app.py")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    env["CDK_OUTDIR"] = str(project / "cdk.out")  # what the aws-cdk CLI would set
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-c",
         "import eks_envelope, sys; print(eks_envelope.__file__); import runpy; runpy.run_path('app.py', run_name='__main__')"],
        cwd=project, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert str(site) in result.stdout, "eks_envelope must come from the installed wheel"
    template = json.loads((project / "cdk.out" / "TeamCluster.template.json").read_text())
    types = {r["Type"] for r in template["Resources"].values()}
    assert {"AWS::EKS::Cluster", "Custom::EnvelopeEncryptionVerification", "AWS::Lambda::Function"} <= types
    handler_assets = [p for p in (project / "cdk.out").glob("asset.*") if (p / "index.py").is_file()]
    assert handler_assets and (handler_assets[0] / "checks.py").is_file()


def test_readme_shows_the_tested_example_verbatim() -> None:
    readme = (REPO / "README.md").read_text()
    example = (REPO / "examples" / "consumer" / "consumer_app.py").read_text()
    marker = "<!-- example:consumer_app.py -->\n```python\n"
    assert marker in readme
    shown = readme.split(marker, 1)[1].split("```", 1)[0]
    assert shown == example
