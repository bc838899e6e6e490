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


def undocumented_attributes(module: Path) -> list[str]:
    """Public attributes a class's ``__init__`` sets without a ``#:`` comment on the line above (Sphinx's form)."""
    lines = module.read_text().splitlines()
    missing = []
    for cls in ast.walk(ast.parse("\n".join(lines))):
        if not isinstance(cls, ast.ClassDef) or cls.name.startswith("_"):
            continue
        init = next((f for f in cls.body if isinstance(f, ast.FunctionDef) and f.name == "__init__"), None)
        seen: set[str] = set()
        for node in ast.walk(init) if init else ():
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
            for target in targets:
                if (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id == "self"
                        and not target.attr.startswith("_") and target.attr not in seen):
                    seen.add(target.attr)
                    if not lines[node.lineno - 2].strip().startswith("#:"):
                        missing.append(f"{cls.name}.{target.attr} (line {node.lineno})")
    return missing


@pytest.mark.parametrize("name", ["cluster.py", "key.py", "verifier.py", "protection.py", "monitoring.py", "existing.py"])
def test_every_public_construct_attribute_is_documented(name: str) -> None:
    assert undocumented_attributes(LIBRARY / name) == []

