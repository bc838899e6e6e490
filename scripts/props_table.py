"""README's props table of EnvelopeEncryptedCluster, generated from its constructor's docstring.

Each keyword-only argument of ``EnvelopeEncryptedCluster.__init__`` gives a row: its name, its type
annotation, and from the docstring its ``:param name:`` text and ``:default:``. The source is read
with ``ast`` (standard library only, no jsii start-up), so the table is exactly what the code says.

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
SOURCE = REPO / "constructs" / "eks_envelope" / "cluster.py"
CLASS = "EnvelopeEncryptedCluster"
DOC = REPO / "README.md"
BEGIN, END = "<!-- props:begin -->", "<!-- props:end -->"
_PARAM = re.compile(r":param (\w+):(.*?)(?=:param \w+:|\Z)", re.S)


class PropsDocError(ValueError):
    """The constructor's docstring and its signature disagree."""


def props(source: str, class_name: str = CLASS) -> list[tuple[str, str, str, str]]:
    """(name, type, default, description) per keyword-only prop, in signature order."""
    tree = ast.parse(source)
    cls = next((n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == class_name), None)
    init = next((n for n in (cls.body if cls else []) if isinstance(n, ast.FunctionDef) and n.name == "__init__"), None)
    if init is None:
        raise PropsDocError(f"{class_name}.__init__ not found: point scripts/props_table.py at the class that owns the props")
    documented = {name: " ".join(text.split()) for name, text in _PARAM.findall(ast.get_docstring(init) or "")}
    args = init.args.kwonlyargs
    names = [a.arg for a in args]
    problems = [f"{name}: no ':param {name}: ... :default: ...' in the docstring" for name in names if name not in documented]
    problems += [f"{name}: documented with :param but not a keyword argument" for name in documented if name not in names]
    rows = []
    for arg in args:
        text = documented.get(arg.arg, "")
        if arg.arg in documented and ":default:" not in text:
            problems.append(f"{arg.arg}: its :param has no ':default:' (write ':default: - none' when there is none)")
            continue
        description, _, default = text.partition(":default:")
        default = default.strip()
        default = default[2:] if default.startswith("- ") else default  # CDK's "- " marks a described default
        rows.append((arg.arg, ast.unparse(arg.annotation) if arg.annotation else "", _md(default), _md(description.strip())))
    if problems:
        raise PropsDocError(f"{class_name}'s docstring does not match its props:\n  " + "\n  ".join(problems))
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
