"""Library vs app: the eks_envelope library reads no CDK context and imports nothing from the app side.

The app (app.py, stacks/) turns context into settings and props; the library only takes props.
Static (ast), so it costs no synth.
"""
from __future__ import annotations

import ast
import functools
import sys
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

#: The handler package (``verifier``) and the directory that holds it (the Lambda asset's root).
HANDLER_ROOT = REPO / "lambda"
HANDLER = HANDLER_ROOT / "verifier"
#: A flat module folder (imported by bare name) beside the library package.
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


@functools.cache  # parsed once for the module's many parametrized tests (none changes it)
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


def package_import_graph(root: Path, package: str) -> dict[str, set[str]]:
    """Module -> the modules of ``package`` (under ``root``) it imports anywhere: at load time or inside a function.

    A function-level import closes a circle just as well, only later (the handler's scheduled.py and index.py
    did that). Relative and absolute imports both count; ``from . import x`` is the submodule x when there is one.
    """
    modules = {}
    for path in (root / package).rglob("*.py"):
        parts = path.relative_to(root).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        here = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = here
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                base = ".".join(filter(None, [base if node.level else "", node.module or ""]))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            else:
                continue
            edges |= {t for t in targets if t in modules and t != name}
        graph[name] = edges
    return graph


@functools.cache  # parsed once for the module's many parametrized tests (none changes it)
def handler_import_graph() -> dict[str, set[str]]:
    return package_import_graph(HANDLER_ROOT, "verifier")


def flat_import_graph(folder: Path) -> dict[str, set[str]]:
    """The same for a folder of modules that import each other by bare name (the scripts)."""
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
    handler = handler_import_graph()
    assert "verifier.kube.transport" in handler["verifier.kube.client"]  # relative, at load time
    assert "verifier.aws.session" in handler["verifier.stages.audit"]  # inside a function
    assert "verifier.kube" in handler["verifier.aws.clients"]  # `from .. import kube`: the package
    assert "constraints" in flat_import_graph(SCRIPTS)["scan"]


@pytest.mark.parametrize("graph", ["library", "handler", "scripts"])
def test_no_import_circle(graph: str) -> None:
    built = {"library": library_import_graph, "handler": handler_import_graph,
             "scripts": lambda: flat_import_graph(SCRIPTS)}[graph]()
    assert cycles(built) == []


def test_a_function_level_import_closes_a_circle_too(tmp_path: Path) -> None:
    """The shape the handler had: scheduled imported index's helpers, index imported scheduled inside a function."""
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "index.py").write_text("def on_event():\n    from . import scheduled\n    return scheduled.run()\n")
    (package / "scheduled.py").write_text("from .index import on_event\n\ndef run():\n    return on_event\n")
    assert cycles(package_import_graph(tmp_path, "pkg")) == [["pkg.index", "pkg.scheduled", "pkg.index"]]


# --- the handler's layers ----------------------------------------------------------------------------------

#: Each layer of the handler imports only its own and the layers before it: the data first, then the Kubernetes
#: client, the AWS plumbing, the stages; the entry points (Lambda handlers and commands) last.
HANDLER_LAYERS = [
    ("data", {"verifier", "verifier.contract", "verifier.text", "verifier.jsonlog", "verifier.model"}),
    ("kube", "verifier.kube"),
    ("aws", "verifier.aws"),
    ("stages", "verifier.stages"),
    ("entry", "verifier.entry"),
]


def _layer(module: str) -> int:
    for rank, (_name, members) in enumerate(HANDLER_LAYERS):
        if module in members if isinstance(members, set) else module == members or module.startswith(members + "."):
            return rank
    raise AssertionError(f"{module} belongs to no layer of the handler: add it to HANDLER_LAYERS")


def test_every_handler_module_has_a_layer() -> None:
    assert {_layer(m) for m in handler_import_graph()} == set(range(len(HANDLER_LAYERS)))


@pytest.mark.parametrize("module", sorted(handler_import_graph()))
def test_a_handler_module_imports_no_later_layer(module: str) -> None:
    later = sorted(t for t in handler_import_graph()[module] if _layer(t) > _layer(module))
    assert later == [], f"{module} ({HANDLER_LAYERS[_layer(module)][0]}) imports {later}"


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, pending = set(), [start]
    while pending:
        for nxt in graph.get(pending.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                pending.append(nxt)
    return seen


@pytest.mark.parametrize("module", ["verifier.model", "verifier.contract", "verifier.text"])
def test_the_data_imports_no_client(module: str) -> None:
    """The data layer never reaches the Kubernetes client, the AWS plumbing or an SDK, however indirectly."""
    graph = handler_import_graph()
    assert {m for m in _reachable(graph, module) if not m.startswith(("verifier.kube", "verifier.aws"))} == _reachable(graph, module)
    for name in {module, *_reachable(graph, module)}:
        path = HANDLER_ROOT.joinpath(*name.split(".")).with_suffix(".py")
        tree = ast.parse(path.read_text())
        sdks = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names} | {
            (n.module or "").split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and not n.level}
        assert not sdks & {"boto3", "botocore", "aws_cdk", "constructs", "jsii"}, f"{name} imports {sdks}"


def test_one_contract_imported_by_both_sides() -> None:
    """The library re-exports the handler's contract.py (the same file), and the handler reads it."""
    library_side = ast.parse((LIBRARY / "contract.py").read_text())
    assert any(isinstance(n, ast.ImportFrom) and n.level == 1 and n.module == "_handler.verifier.contract"
               for n in ast.walk(library_side))
    readers = {m for m, edges in handler_import_graph().items() if "verifier.contract" in edges}
    assert {"verifier.model", "verifier.entry.verification", "verifier.entry.scheduled", "verifier.entry.protection",
            "verifier.entry.association", "verifier.entry.cli"} <= readers
    import eks_envelope.contract  # noqa: F401  (registers and loads the handler's file under the library's name)
    from verifier import contract

    assert Path(sys.modules["eks_envelope._handler.verifier.contract"].__file__).resolve() == Path(contract.__file__).resolve()


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


@functools.cache  # parsed once for the module's many parametrized tests (none changes it)
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


@pytest.mark.parametrize("module", sorted(HANDLER.rglob("*.py")), ids=lambda m: str(m.relative_to(HANDLER_ROOT)))
def test_the_handler_imports_nothing_of_the_library_or_cdk(module: Path) -> None:
    """The Lambda asset holds the handler alone: an import of the library, CDK or jsii would fail there (or pull CDK in)."""
    tree = ast.parse(module.read_text())
    absolute = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names} | {
        (n.module or "").split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and not n.level}
    assert not absolute & {"eks_envelope", "aws_cdk", "constructs", "jsii", "cdk_nag", "stacks", "app"}
