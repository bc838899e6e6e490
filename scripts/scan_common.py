"""What every scanner of `make scan` shares: the templates of a cloud assembly, their resources, the
outcome format, and running a scanner's command with a bounded time. Standard library only."""
from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

#: A skip's comment must say why, in words a reviewer can check.
MIN_SKIP_REASON = 20
SCANNER_TIMEOUT_S = 900


class ScanError(Exception):
    """The scan could not run (exit 2), as opposed to findings (exit 1)."""


# --------------------------------------------------------------------------- templates


def find_templates(assembly: Path) -> list[Path]:
    """Every CloudFormation template of a cloud assembly, nested assemblies (stages) included."""
    if not assembly.is_dir():
        raise ScanError(f"{assembly}/ does not exist: run `make synth` first (or `make scan`, which does)")
    templates = sorted(
        p for p in assembly.rglob("*.template.json") if not any(part.startswith("asset.") for part in p.parts)
    )
    if not templates:
        raise ScanError(f"no *.template.json in {assembly}/: run `make synth` first")
    return templates


@dataclass
class Resource:
    logical_id: str
    type: str
    path: str  # aws:cdk:path, or "" for hand-written templates
    checkov_skips: list[dict] = field(default_factory=list)


def load_resources(template: Path) -> dict[str, Resource]:
    data = json.loads(template.read_text())
    out = {}
    for logical_id, body in (data.get("Resources") or {}).items():
        meta = body.get("Metadata") or {}
        skips = ((meta.get("checkov") or {}).get("skip")) or []
        out[logical_id] = Resource(logical_id, body.get("Type", "?"), meta.get("aws:cdk:path", ""), list(skips))
    return out


def rel(path: Path | str) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


# --------------------------------------------------------------------------- outcomes


@dataclass
class Outcome:
    name: str
    summary: str
    details: list[str] = field(default_factory=list)  # always printed: findings, unreviewed warnings, notes
    verbose: list[str] = field(default_factory=list)  # printed with --verbose only
    failed: bool = False


def run_tool(cmd: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(
            cmd, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=SCANNER_TIMEOUT_S
        )
    except FileNotFoundError:
        raise ScanError(f"{cmd[0]} not found: run `make scan` (it creates .venv-scan from requirements-scan.txt)")
    except subprocess.TimeoutExpired:
        raise ScanError(f"{Path(cmd[0]).name} took longer than {SCANNER_TIMEOUT_S}s")
