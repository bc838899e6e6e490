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


@pytest.mark.parametrize("name", ["cluster.py", "key.py", "verifier.py", "protection.py", "monitoring.py", "existing.py", "guardrail.py"])
def test_every_public_construct_attribute_is_documented(name: str) -> None:
    assert undocumented_attributes(LIBRARY / name) == []



# --- import graph and module size ---------------------------------------------------------------

#: Flat module folders (imported by bare name) beside the library package.
HANDLER = REPO / "lambda" / "verifier"
SCRIPTS = REPO / "scripts"
#: A module longer than this says why in its docstring, with these words.
MAX_LINES, SIZE_REASON = 400, "Over 400 lines"


def _module_name(path: Path) -> str:
    parts = path.relative_to(LIBRARY.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _load_time_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Imports that run when the module loads: top level, not under ``if TYPE_CHECKING`` (nor inside functions)."""
    found: list[ast.Import | ast.ImportFrom] = []
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        elif isinstance(node, ast.If) and not (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"):
            pending += node.body + node.orelse
        elif isinstance(node, ast.Try):
            pending += node.body + node.orelse + node.finalbody + [s for h in node.handlers for s in h.body]
    return found


def library_import_graph() -> dict[str, set[str]]:
    """Module -> the library modules it imports at load time (relative and absolute ``eks_envelope`` imports)."""
    modules = {_module_name(m): m for m in MODULES}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges: set[str] = set()
        for node in _load_time_imports(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                base = package
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                base = ".".join(filter(None, [base if node.level else "", node.module or ""]))
                # `from . import x` imports the submodule x when there is one, else a name of the package
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            edges |= {t for t in targets if t in modules and t != name}
        graph[name] = edges
    return graph


def flat_import_graph(folder: Path) -> dict[str, set[str]]:
    """The same for a folder of modules that import each other by bare name (the handler, the scripts)."""
    names = {m.stem for m in folder.glob("*.py")}
    graph = {}
    for module in folder.glob("*.py"):
        imports = _load_time_imports(ast.parse(module.read_text(), str(module)))
        graph[module.stem] = {a.name.split(".")[0] for n in imports if isinstance(n, ast.Import) for a in n.names} | {
            (n.module or "").split(".")[0] for n in imports if isinstance(n, ast.ImportFrom) and not n.level}
        graph[module.stem] &= names - {module.stem}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every import circle, each once, as the path that closes it."""
    found, state = [], dict.fromkeys(graph, 0)  # 0 unseen, 1 on the current path, 2 done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                found.append(path[path.index(nxt):] + [nxt])
            elif state.get(nxt) == 0:
                visit(nxt, path + [nxt])
        state[node] = 2

    for start in sorted(graph):
        if state[start] == 0:
            visit(start, [start])
    return found


def test_the_graph_sees_the_imports() -> None:
    library = library_import_graph()
    assert "eks_envelope.verifier" in library["eks_envelope.cluster"]
    assert "eks_envelope.compliance.rule" in library["eks_envelope.compliance.rules.eks"]
    assert "eks_envelope.validation" not in library["eks_envelope"]  # only under TYPE_CHECKING
    assert "kube_transport" in flat_import_graph(HANDLER)["kube"]


@pytest.mark.parametrize("graph", ["library", "handler", "scripts"])
def test_no_import_circle(graph: str) -> None:
    built = {"library": library_import_graph, "handler": lambda: flat_import_graph(HANDLER),
             "scripts": lambda: flat_import_graph(SCRIPTS)}[graph]()
    assert cycles(built) == []


def test_the_cycle_check_finds_a_circle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert cycles({"cluster": {"verifier"}, "verifier": set()}) == []


def _sized_modules() -> list[Path]:
    roots = [LIBRARY, HANDLER, SCRIPTS, REPO / "stacks", REPO / "bench"]
    return sorted({*(m for root in roots for m in root.rglob("*.py")), REPO / "app.py"})


@pytest.mark.parametrize("module", _sized_modules(), ids=lambda m: str(m.relative_to(REPO)))
def test_a_module_over_400_lines_says_why(module: Path) -> None:
    text = module.read_text()
    if text.count("\n") > MAX_LINES:
        assert SIZE_REASON in (ast.get_docstring(ast.parse(text)) or ""), (
            f"{module.relative_to(REPO)} has {text.count(chr(10))} lines: split it, or say why in its docstring "
            f"({SIZE_REASON} because ...)")


# --- constructors read as steps --------------------------------------------------------------------

#: A constructor longer than this is doing the steps' work itself (issue #23: "no constructor over 120 lines").
MAX_CONSTRUCTOR_LINES = 120


def constructors() -> dict[str, int]:
    """``module::Class`` -> lines of its ``__init__``, for every class of the library."""
    found = {}
    for module in MODULES:
        for cls in ast.walk(ast.parse(module.read_text(), str(module))):
            if isinstance(cls, ast.ClassDef):
                for node in cls.body:
                    if isinstance(node, ast.FunctionDef) and node.name == "__init__":
                        found[f"{module.relative_to(LIBRARY)}::{cls.name}"] = node.end_lineno - node.lineno + 1
    return found


def test_the_constructor_walk_sees_every_construct() -> None:
    found = constructors()
    assert {"cluster.py::EnvelopeEncryptedCluster", "key.py::ClusterSecretsKey", "monitoring.py::EnvelopeEncryptionMonitoring",
            "guardrail.py::SecretsEncryptionGuardrail", "verifier.py::EnvelopeEncryptionVerifier"} <= set(found)


@pytest.mark.parametrize("constructor", sorted(constructors()))
def test_no_constructor_is_over_120_lines(constructor: str) -> None:
    assert constructors()[constructor] <= MAX_CONSTRUCTOR_LINES, (
        f"{constructor}.__init__ has {constructors()[constructor]} lines: make it a list of named steps")


#: The modules EnvelopeEncryptedCluster and EnvelopeEncryptionMonitoring were split into: none needs a size excuse.
SPLIT_MODULES = ["cluster.py", "cluster_props.py", "cluster_steps.py", "cluster_assurance.py", "retention.py",
                 "monitoring.py", "monitoring_props.py", "key_threats.py", "scheduled_verification.py"]


@pytest.mark.parametrize("name", SPLIT_MODULES)
def test_the_cluster_and_monitoring_modules_fit_in_400_lines_without_an_excuse(name: str) -> None:
    text = (LIBRARY / name).read_text()
    assert text.count("\n") <= MAX_LINES and SIZE_REASON not in text


def test_removal_policies_are_decided_in_retention_only() -> None:
    """The cluster's steps take every removal policy from Retention (retention.py); none decides one itself."""
    for name in ("cluster.py", "cluster_props.py", "cluster_steps.py", "cluster_assurance.py", "monitoring.py"):
        assert "RemovalPolicy" not in (LIBRARY / name).read_text(), name
    assert "RemovalPolicy.DESTROY if" in (LIBRARY / "retention.py").read_text()
