"""Library vs app: the eks_envelope library reads no CDK context and imports nothing from the app side.

The app (app.py, stacks/) turns context into settings and props; the library only takes props.
Static (ast), so it costs no synth.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.helpers import REPO

LIBRARY = REPO / "constructs" / "eks_envelope"
MODULES = sorted(LIBRARY.rglob("*.py"))
#: Construct-node methods that read CDK context.
CONTEXT_READERS = {"try_get_context", "get_context", "get_all_context"}
#: Top-level modules of the app side.
APP_MODULES = {"stacks", "app"}


def _offences(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in CONTEXT_READERS:
            found.append(f"line {node.lineno}: reads CDK context (.{node.attr})")
        elif isinstance(node, ast.Import):
            found += [f"line {node.lineno}: imports {a.name}" for a in node.names if a.name.split(".")[0] in APP_MODULES]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] in APP_MODULES:
            found.append(f"line {node.lineno}: imports from {node.module}")
    return found


def test_the_walk_sees_the_library() -> None:
    assert {"cluster.py", "key.py", "verifier.py", "acknowledgements.py"} <= {m.name for m in MODULES}


@pytest.mark.parametrize("module", MODULES, ids=lambda m: str(m.relative_to(LIBRARY)))
def test_library_module_reads_no_context_and_imports_no_app_code(module: Path) -> None:
    assert _offences(ast.parse(module.read_text(), str(module))) == []


@pytest.mark.parametrize("source, offence", [
    ("x = scope.node.try_get_context('k')", "try_get_context"),
    ("x = app.node.get_all_context()", "get_all_context"),
    ("from stacks.settings import AppSettings", "stacks.settings"),
    ("import app", "imports app"),
])
def test_the_check_catches_each_offence(source: str, offence: str) -> None:
    (found,) = _offences(ast.parse(source))
    assert offence in found
