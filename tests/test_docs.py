"""The README as a front door and docs/ by purpose: tables generated or checked against the code, links
that resolve, pointers in messages that lead somewhere, and the README's example as it runs."""
from __future__ import annotations

import dataclasses
import re
import unicodedata
from pathlib import Path

import pytest
from aws_cdk.assertions import Template

from tests.helpers import REPO, load_module, new_app

README = (REPO / "README.md").read_text()
DOCUMENTS = [REPO / "README.md", REPO / "CHANGELOG.md", *sorted((REPO / "docs").glob("*.md")), REPO / "bench" / "results.md"]
props_table = load_module("props_table", REPO / "scripts" / "props_table.py")


def _section(text: str, heading: str) -> str:
    return text.split(f"\n## {heading}", 1)[1].split("\n## ", 1)[0]


def test_readme_is_a_front_door_of_at_most_300_lines() -> None:
    assert len(README.splitlines()) <= 300
    first_code = README.index("```python")
    assert len(README[:first_code].splitlines()) <= 110, "the library example belongs on the first screens"


# --- the props table: generated from ClusterProps' field documentation -------------------------------

def test_readme_props_table_is_the_props_objects_documentation() -> None:
    assert props_table.shown(README) == props_table.render(), "run `python3 scripts/props_table.py --write`"


def test_props_table_has_a_row_per_prop_with_its_default() -> None:
    import inspect

    from eks_envelope import ClusterProps, EnvelopeEncryptedCluster

    keyword_only = [p.name for p in inspect.signature(EnvelopeEncryptedCluster.__init__).parameters.values()
                    if p.kind is inspect.Parameter.KEYWORD_ONLY]
    rows = props_table.props(props_table.SOURCE.read_text())
    assert [name for name, *_ in rows] == [f.name for f in dataclasses.fields(ClusterProps)]
    assert keyword_only == ["props", *(name for name, *_ in rows)], "the construct takes every prop as a keyword argument"
    assert all(default for _, _, default, _ in rows), "every prop says its default"


def test_fails_when_a_prop_has_no_documentation_or_no_default() -> None:
    source = '''
class ClusterProps:
    #: the key.
    key: str | None = None
    #: the VPC. :default: 1
    vpc: int = 1
    gone: bool = False
    #: removed long ago. :default: - none

    @property
    def stale(self) -> int:
        return 1
'''
    with pytest.raises(props_table.PropsDocError) as err:
        props_table.props(source)
    message = str(err.value)
    assert "key: its '#:' comment has no ':default:'" in message
    assert "gone: no '#: ... :default: ...' comment above it" in message
    assert "line 8: a '#:' comment that documents no field" in message


def test_props_table_check_fails_on_a_stale_readme(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    stale = tmp_path / "README.md"
    stale.write_text(README.replace("| `nat_gateways` | `int` | 1 |", "| `nat_gateways` | `int` | 2 |"))
    monkeypatch.setattr(props_table, "DOC", stale)
    assert props_table.main(["--check"]) == 1
    assert "props table is stale" in capsys.readouterr().err
    assert props_table.main(["--write"]) == 0 and props_table.main(["--check"]) == 0


# --- the configuration table: every context key, and the construct prop it feeds -------------------

CONFIG_ROWS = re.findall(r"^\| `([a-z_]+)` \| ([^|]+) \|", _section(README, "Configuration"), re.M)


def test_configuration_table_lists_every_context_key_once() -> None:
    from stacks.settings import CONTEXT_KEYS, AppSettings

    keys = [key for key, _ in CONFIG_ROWS]
    assert sorted(keys) == sorted(CONTEXT_KEYS) == sorted(f.name for f in dataclasses.fields(AppSettings))
    assert len(keys) == len(set(keys))


def test_configuration_table_names_real_construct_props() -> None:
    from eks_envelope import MonitoringOptions, VerifierOptions

    props = {name for name, *_ in props_table.props(props_table.SOURCE.read_text())}
    options = {"VerifierOptions": {f.name for f in dataclasses.fields(VerifierOptions)},
               "MonitoringOptions": {f.name for f in dataclasses.fields(MonitoringOptions)}}
    stack_source = (REPO / "stacks" / "envelope_stack.py").read_text()
    app_source = (REPO / "app.py").read_text()
    for key, cell in CONFIG_ROWS:
        if cell.startswith("— (app"):
            assert f"settings.{key}" in stack_source or f"\"{key}\"" in app_source or key == "compliance_packs", key
            continue
        named = re.match(r"`(?:(\w+)\((\w+)\)|(\w+))`", cell)
        assert named, f"{key}: construct prop cell {cell!r} is neither `prop`, `Options(field)` nor '— (app: ...)'"
        options_class, field, prop = named.groups()
        if options_class:
            assert field in options[options_class], f"{key}: {options_class} has no field {field}"
        else:
            assert prop in props, f"{key}: EnvelopeEncryptedCluster has no prop {prop}"
        assert f"settings.{key}" in stack_source, f"{key}: stacks/envelope_stack.py does not read it"


# --- links and pointers ------------------------------------------------------------------------------

_LINK = re.compile(r"\]\(([^)\s]+)\)")
_FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def _anchor(heading: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens."""
    text = unicodedata.normalize("NFC", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = _FENCE.sub("", path.read_text())
    return {_anchor(m) for m in re.findall(r"^#{1,6} (.+)$", text, re.M)}


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.relative_to(REPO).as_posix())
def test_every_relative_link_resolves(document: Path) -> None:
    broken = []
    for target in _LINK.findall(_FENCE.sub("", document.read_text())):
        if re.match(r"[a-z]+:", target):
            continue
        file_part, _, anchor = target.partition("#")
        path = (document.parent / file_part).resolve() if file_part else document
        if not path.exists():
            broken.append(f"{target}: no such file")
        elif anchor and path.suffix == ".md" and anchor not in _anchors(path):
            broken.append(f"{target}: no heading with that anchor in {path.relative_to(REPO)}")
    assert not broken, broken


def test_anchor_is_githubs() -> None:
    assert _anchor("Dated facts: `make freshness`") == "dated-facts-make-freshness"
    assert _anchor("The walkthrough's kubectl steps, against your deployed cluster") == \
        "the-walkthroughs-kubectl-steps-against-your-deployed-cluster"


#: Messages and comments that send a reader to documentation ("docs/operations.md#removing-a-production-stack").
_POINTER = re.compile(r"\bdocs/([a-z0-9-]+\.md)(?:#([a-z0-9-]+))?")
_POINTER_SOURCES = [*(REPO / "constructs").rglob("*.py"), *(REPO / "lambda").rglob("*.py"), *(REPO / "stacks").rglob("*.py"),
                    REPO / "Makefile", *(REPO / "mk").glob("*.mk")]


def test_every_docs_pointer_in_code_names_a_file_and_heading() -> None:
    pointers = {(path.name, m) for path in _POINTER_SOURCES for m in _POINTER.findall(path.read_text())}
    assert ("protection.py", ("operations.md", "removing-a-production-stack")) in pointers, "the pattern still finds the pointers"
    missing = [f"{source}: docs/{doc}#{anchor}" for source, (doc, anchor) in sorted(pointers)
               if not (REPO / "docs" / doc).is_file() or (anchor and anchor not in _anchors(REPO / "docs" / doc))]
    assert not missing, f"pointers to no file or heading: {missing}"


def test_no_message_sends_a_reader_to_a_readme_section() -> None:
    """Most sections moved to docs/ (issue 23): a "README: <section>" pointer must name a heading the README still has."""
    headings = re.findall(r"^#{1,6} (.+)$", _FENCE.sub("", README), re.M)
    found = [(path.name, m.group(1)) for path in _POINTER_SOURCES
             for m in re.finditer(r"README(?:,|:)? (?:section )?['\"]?([A-Z][A-Za-z0-9 ]+?)['\")]", path.read_text())]
    assert ("Makefile", "Configuration") in found, "the pattern still finds the pointers"
    assert [f"{source}: README, {name}" for source, name in found if not any(h.startswith(name) for h in headings)] == []


# --- the README's library example, as written ---------------------------------------------------------

def test_readme_library_example_synthesizes_as_written(monkeypatch: pytest.MonkeyPatch) -> None:
    import aws_cdk

    marker = "<!-- example:readme -->\n```python\n"
    code = README.split(marker, 1)[1].split("```", 1)[0]
    assert len(code.splitlines()) <= 15
    app = new_app()  # cdk.json's feature flags, as a user with the example's cdk.json has them
    monkeypatch.setattr(aws_cdk, "App", lambda: app)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - the README's own example, as written
    assert namespace["app"] is app
    template = Template.from_stack(namespace["stack"])
    template.has_resource_properties("AWS::EKS::Cluster", {"Name": "team-a"})
    template.resource_count_is("Custom::EnvelopeEncryptionVerification", 1)
    template.resource_count_is("AWS::KMS::Key", 2)  # the secrets key and the logs key
    assert (Path(app.outdir) / "Platform.template.json").is_file(), "app.synth() wrote the template"


def test_library_docs_props_object_example_runs_as_written(monkeypatch: pytest.MonkeyPatch) -> None:
    import aws_cdk

    marker = "<!-- example:props-object -->\n```python\n"
    code = (REPO / "docs" / "library.md").read_text().split(marker, 1)[1].split("```", 1)[0]
    app = new_app()
    monkeypatch.setattr(aws_cdk, "App", lambda: app)
    namespace: dict = {}
    exec(compile(code, "docs/library.md", "exec"), namespace)  # noqa: S102 - the page's own example, as written
    assert namespace["review"].props.fargate_namespaces == ("apps",) and namespace["review"].ephemeral
