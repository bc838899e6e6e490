"""docs/compliance.md's scanner comparison, generated from real templates (tests/compliance/careless.py).

For each careless configuration it synthesizes the template and records what cdk-nag's
AwsSolutions pack, checkov and the AWS Control Tower proactive controls (both when `.venv-scan`
exists, as `make scan` creates it) and our EnvelopeEncryption pack report, then renders a Markdown
table per configuration.

    .venv/bin/python scripts/compliance_comparison.py --write   # update docs/compliance.md between the markers
    .venv/bin/python scripts/compliance_comparison.py --check   # exit 1 when docs/compliance.md is stale
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "constructs"), str(REPO)]
# Node 24 from package.json before jsii starts (an end-of-life Node makes it print a banner).
os.environ["PATH"] = f"{REPO / 'node_modules' / '.bin'}{os.pathsep}{os.environ.get('PATH', '')}"
from tests.tempdirs import contain_temp_dirs  # noqa: E402

# Before jsii starts: its kernel, the synth and checkov's scratch files go into one directory removed at exit.
contain_temp_dirs(prefix="eks-envelope-comparison-")

import cdk_nag  # noqa: E402

from eks_envelope.compliance import RULES, evaluate  # noqa: E402
from tests.compliance.careless import CARELESS_STACKS, build_careless_app  # noqa: E402
from tests.helpers import new_app  # noqa: E402

BEGIN, END = "<!-- comparison:begin -->", "<!-- comparison:end -->"
#: Where the comparison is shown, between the markers (the compliance doc; README links to it).
DOC = "docs/compliance.md"
TOOLS = ("AwsSolutions", "checkov", "ControlTower", "EnvelopeEncryption")
#: Other tools' findings that speak to one of our rules' concerns (by our rule suffix).
SAME_CONCERN = {
    "AwsSolutions-EKS1": "EKS4",
    "AwsSolutions-EKS2": "EKS5",
    "AwsSolutions-KMS5": "EKS2",
    "CKV_AWS_58": "EKS1",
    "CKV_AWS_7": "EKS2",
    "CKV_AWS_38": "EKS4",
    "CKV_AWS_39": "EKS4",
    "CKV_AWS_37": "EKS5",
    "CKV_AWS_158": "CWL1",
    "CKV_AWS_66": "CWL1",
    "CT.EKS.PR.1": "EKS4",
    "CT.EKS.PR.2": "EKS1",
    "CT.KMS.PR.1": "EKS2",
    "CT.CLOUDWATCH.PR.2": "CWL1",
    "CT.CLOUDWATCH.PR.3": "CWL1",
}


SCAN_BIN = REPO / ".venv-scan" / "bin"


def _scan_module() -> Any:
    if "scan" not in sys.modules:
        spec = importlib.util.spec_from_file_location("scan", REPO / "scripts" / "scan.py")
        scan = importlib.util.module_from_spec(spec)
        sys.modules["scan"] = scan  # its dataclasses look their module up while being defined
        spec.loader.exec_module(scan)
    return sys.modules["scan"]


def _control_tower(templates: list[Path]) -> dict[str, set[str]] | None:
    """Stack -> Control Tower controls that fail (the careless templates acknowledge nothing)."""
    scan = _scan_module()
    try:
        raw = scan.run_control_tower(templates, SCAN_BIN)
    except scan.ScanError:
        return None
    return {tc.template.name.split(".")[0]: set(tc.failing) for tc in scan.control_tower_results(raw, templates)}


def _checkov(templates: list[Path]) -> dict[str, set[str]] | None:
    bin_dir = SCAN_BIN
    if not (bin_dir / "checkov").exists():
        return None
    scan = _scan_module()
    failed: dict[str, set[str]] = {}
    for report in scan.run_checkov(templates, bin_dir):
        for check in report.get("results", {}).get("failed_checks", []):
            stack = Path(check["file_path"]).name.split(".")[0]
            failed.setdefault(stack, set()).add(check["check_id"])
    return failed


def collect(*, with_checkov: bool = True) -> dict[str, dict[str, set[str] | None]]:
    """Stack -> tool -> finding ids (None: the tool was not run)."""
    app = new_app()
    outdir = Path(app.outdir)
    stacks = build_careless_app(app)
    nag = {s.stack_name: {v.rule_name.split("[", 1)[0] for v in cdk_nag.AwsSolutionsChecks().validate_scope(s).violations}
           for s in stacks}
    assembly = app.synth()
    templates = [outdir / f"{s.stack_name}.template.json" for s in stacks]
    checkov = _checkov(templates) if with_checkov else None
    control_tower = _control_tower(templates) if with_checkov else None
    results: dict[str, dict[str, set[str] | None]] = {}
    for stack in stacks:
        template = assembly.get_stack_by_name(stack.stack_name).template
        results[stack.stack_name] = {
            "AwsSolutions": nag[stack.stack_name],
            "checkov": None if checkov is None else checkov.get(stack.stack_name, set()),
            "ControlTower": None if control_tower is None else control_tower.get(stack.stack_name, set()),
            "EnvelopeEncryption": {f.rule_id for f in evaluate(template)},
        }
    return results


def _cell(found: set[str] | None, concern: str | None, others: bool = False) -> str:
    if found is None:
        return "(not run)"
    ids = sorted(
        i for i in found
        if (SAME_CONCERN.get(i) is None and not i.startswith("EnvelopeEncryption-")) == others
        and (others or SAME_CONCERN.get(i) == concern or i == f"EnvelopeEncryption-{concern}")
    )
    return ", ".join(f"`{i}`" for i in ids) if ids else "—"


def render(results: dict[str, dict[str, Any]]) -> str:
    lines = []
    for stack, found in results.items():
        lines += [f"**{stack}** — {CARELESS_STACKS[stack]}", "",
                  "| concern | " + " | ".join(TOOLS) + " |", "|---|" + "---|" * len(TOOLS)]
        for rule in RULES:
            lines.append(f"| {rule.info.rstrip('.')} | " + " | ".join(_cell(found[t], rule.suffix) for t in TOOLS) + " |")
        lines.append("| other findings | " + " | ".join(_cell(found[t], None, others=True) for t in TOOLS) + " |")
        ours = len(found["EnvelopeEncryption"])
        nag_on_concerns = {SAME_CONCERN[i] for i in found["AwsSolutions"] if i in SAME_CONCERN}
        others = "".join(
            f", {name} {len({SAME_CONCERN[i] for i in found[tool] if i in SAME_CONCERN})}"
            for tool, name in (("checkov", "checkov"), ("ControlTower", "Control Tower")) if found[tool] is not None
        )
        lines += ["", f"Our pack flags {ours} rules here; AwsSolutions reports {len(nag_on_concerns)} of those concerns"
                  f"{others}.", ""]
    return "\n".join(lines).rstrip() + "\n"


def shown_section(doc: str) -> str:
    return doc.split(BEGIN, 1)[1].split(END, 1)[0].strip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help="update docs/compliance.md between the comparison markers")
    parser.add_argument("--check", action="store_true", help="exit 1 when docs/compliance.md differs from a fresh run")
    args = parser.parse_args(argv)
    table = render(collect())
    doc_path = REPO / DOC
    doc = doc_path.read_text()
    if args.write:
        before, rest = doc.split(BEGIN, 1)
        after = rest.split(END, 1)[1]
        doc_path.write_text(f"{before}{BEGIN}\n{table}{END}{after}")
        print(f"scanner comparison written to {DOC} ({len(table.splitlines())} lines between the comparison markers)")
    elif args.check:
        if shown_section(doc) != table:
            print(f"{DOC}'s scanner comparison is stale: run `make comparison`", file=sys.stderr)
            return 1
        print(f"scanner comparison in {DOC} is current")
    else:
        print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
