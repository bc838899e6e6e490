"""README's props table of EnvelopeEncryptedCluster, generated from its props object, ClusterProps.

Each field of ``ClusterProps`` (constructs/eks_envelope/cluster_props.py) gives a row: its name, its type
annotation, and from the ``#:`` comment above it its text and ``:default:``. The construct takes the same
props as keyword arguments or as ``props=ClusterProps(...)``. The source is read with ``ast`` and its lines
(standard library only, no jsii start-up), so the table is exactly what the code says.

    python3 scripts/props_table.py            # print the table
    python3 scripts/props_table.py --write    # update README.md between the props markers
    python3 scripts/props_table.py --check    # exit 1 when README.md's table is stale
"""
from __future__ import annotations

import argparse
import ast
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "constructs" / "eks_envelope" / "cluster_props.py"
CLASS = "ClusterProps"
DOC = REPO / "README.md"
BEGIN, END = "<!-- props:begin -->", "<!-- props:end -->"
_DOC_COMMENT = re.compile(r"^\s*#:\s?(.*)$")


class PropsDocError(ValueError):
    """The props object's fields and their ``#:`` documentation disagree."""


def props(source: str, class_name: str = CLASS) -> list[tuple[str, str, str, str]]:
    """(name, type, default, description) per field of the props dataclass, in field order."""
    lines = source.splitlines()
    tree = ast.parse(source)
    cls = next((n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == class_name), None)
    if cls is None:
        raise PropsDocError(f"{class_name} not found: point scripts/props_table.py at the class that holds the props")
    fields = [n for n in cls.body if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)]
    documented: dict[int, str] = {}  # line of the field -> its #: text
    problems = []
    for field in fields:
        above, line = [], field.lineno - 2
        while line >= 0 and _DOC_COMMENT.match(lines[line]):
            above.insert(0, _DOC_COMMENT.match(lines[line])[1])
            line -= 1
        if above:
            documented[field.lineno] = " ".join(" ".join(above).split())
    field_lines = {f.lineno for f in fields}
    for number in range(cls.lineno, cls.end_lineno or cls.lineno):
        if _DOC_COMMENT.match(lines[number - 1]) and not _DOC_COMMENT.match(lines[number]) and number + 1 not in field_lines:
            problems.append(f"line {number}: a '#:' comment that documents no field")
    rows = []
    for field in fields:
        name = field.target.id  # type: ignore[attr-defined]
        text = documented.get(field.lineno)
        if text is None:
            problems.append(f"{name}: no '#: ... :default: ...' comment above it")
            continue
        if ":default:" not in text:
            problems.append(f"{name}: its '#:' comment has no ':default:' (write ':default: - none' when there is none)")
            continue
        description, _, default = text.partition(":default:")
        default = default.strip()
        default = default[2:] if default.startswith("- ") else default  # CDK's "- " marks a described default
        rows.append((name, ast.unparse(field.annotation), _md(default), _md(description.strip())))
    if problems:
        raise PropsDocError(f"{class_name}'s documentation does not match its fields:\n  " + "\n  ".join(problems))
    return rows


def _md(text: str) -> str:
    """reStructuredText literals (````x````) as Markdown code (```x```)."""
    return text.replace("``", "`")


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render(source: str | None = None) -> str:
    rows = props(SOURCE.read_text() if source is None else source)
    lines = ["| prop | type | default | what it is |", "|---|---|---|---|"]
    lines += [f"| `{name}` | `{_cell(kind)}` | {_cell(default)} | {_cell(description)} |" for name, kind, default, description in rows]
    return "\n".join(lines) + "\n"


def shown(doc: str) -> str:
    return doc.split(BEGIN + "\n", 1)[1].split(END, 1)[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help="update README.md between the props markers")
    parser.add_argument("--check", action="store_true", help="exit 1 when README.md's props table is stale")
    args = parser.parse_args(argv)
    try:
        table = render()
    except PropsDocError as err:
        print(err, file=sys.stderr)
        return 1
    doc = DOC.read_text()
    if args.write:
        before, rest = doc.split(BEGIN, 1)
        DOC.write_text(f"{before}{BEGIN}\n{table}{END}{rest.split(END, 1)[1]}")
        print(f"props table written to README.md ({len(table.splitlines()) - 2} props)")
    elif args.check:
        if shown(doc) != table:
            print("README.md's props table is stale: run `python3 scripts/props_table.py --write`", file=sys.stderr)
            return 1
        print("props table in README.md is current")
    else:
        print(table, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
