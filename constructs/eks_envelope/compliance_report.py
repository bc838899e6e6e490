"""A readable compliance report: per pack, rules evaluated / passed / acknowledged / failed.

cdk-nag v3 leaves no per-rule record of a passing synth (``validation-report.json`` lists only
violations), so a pack can be *recorded*: a subclass observes each rule evaluation on its way to
cdk-nag. Recording costs about three seconds for the six packs, so the app records only when
asked (``make synth`` asks). Acknowledgements and their reasons are read back from the template
metadata that ``write_suppressions_to_cloud_formation`` writes, so the report shows exactly what
scanners downstream see.
"""
from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, TypeVar

import cdk_nag

P = TypeVar("P", bound=type)


@dataclass
class PackTally:
    """What one pack saw. Rules are keyed by suffix, or by their text where a pack sets no suffix."""

    name: str
    applicable: set[str] = field(default_factory=set)
    non_compliant: dict[str, int] = field(default_factory=lambda: defaultdict(int))


def recording(pack_class: P) -> P:
    """A subclass of ``pack_class`` that tallies every rule evaluation in ``self.tally``."""

    class Recorded(pack_class):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.tally = PackTally(self.read_pack_name or pack_class.__name__)

        def _apply_rule(self, params: cdk_nag.IApplyRule) -> None:
            rule_key = params.rule_suffix_override or params.info
            try:
                result = params.rule(params.node)
            except Exception:  # cdk-nag reports a throwing rule as a violation itself
                result = cdk_nag.NagRuleCompliance.NON_COMPLIANT
            if result != cdk_nag.NagRuleCompliance.NOT_APPLICABLE:
                self.tally.applicable.add(rule_key)
            if result == cdk_nag.NagRuleCompliance.NON_COMPLIANT:
                self.tally.non_compliant[rule_key] += 1
            elif isinstance(result, list) and result:
                self.tally.non_compliant[rule_key] += len(result)
            super()._apply_rule(params)

    Recorded.__name__ = Recorded.__qualname__ = f"Recorded{pack_class.__name__}"
    return Recorded  # type: ignore[return-value]


@dataclass(frozen=True)
class PackSummary:
    pack: str
    evaluated: int
    passed: int
    acknowledged: int
    failed: int
    acknowledged_findings: int


def _violations_by_pack(outdir: Path) -> dict[str, set[str]]:
    report_path = outdir / "validation-report.json"
    failed: dict[str, set[str]] = defaultdict(set)
    if report_path.is_file():
        for plugin in json.loads(report_path.read_text()).get("pluginReports", []):
            for violation in plugin.get("violations", []):
                rule = violation.get("ruleName", "")
                failed[rule.split("-", 1)[0]].add(rule.split("[", 1)[0])
    return failed


def summarise(packs: Iterable[Any], outdir: Path) -> list[PackSummary]:
    failed_by_pack = _violations_by_pack(outdir)
    summaries = []
    for pack in packs:
        tally: PackTally = pack.tally
        failed = len(failed_by_pack.get(tally.name, ()))
        flagged = [rule for rule, count in tally.non_compliant.items() if count]
        acknowledged = max(len(flagged) - failed, 0)
        summaries.append(
            PackSummary(
                pack=tally.name,
                evaluated=len(tally.applicable),
                passed=len(tally.applicable) - len(flagged),
                acknowledged=acknowledged,
                failed=failed,
                acknowledged_findings=sum(tally.non_compliant.values()) if not failed else 0,
            )
        )
    return summaries


def acknowledgements(outdir: Path) -> list[dict[str, str]]:
    """Every acknowledgement in the synthesized templates, with its resource and reason."""
    rows = []
    for template_path in sorted(outdir.glob("*.template.json")):
        template = json.loads(template_path.read_text())
        for logical_id, resource in sorted(template.get("Resources", {}).items()):
            metadata = resource.get("Metadata", {})
            path = metadata.get("aws:cdk:path", logical_id)
            for entry in metadata.get("cdk_nag", {}).get("rules_to_suppress", []):
                kind = "aws-cdk built-in" if entry["id"].startswith("CloudFormation-Validate") else "cdk-nag"
                rows.append({"stack": template_path.name.split(".")[0], "resource": path,
                             "id": entry["id"], "reason": entry["reason"], "kind": kind})
            for entry in metadata.get("checkov", {}).get("skip", []):
                rows.append({"stack": template_path.name.split(".")[0], "resource": path,
                             "id": entry["id"], "reason": entry.get("comment", ""), "kind": "checkov"})
    return rows


def render_table(summaries: list[PackSummary]) -> str:
    header = f"{'pack':<20}{'evaluated':>10}{'passed':>8}{'acknowledged':>14}{'failed':>8}"
    lines = ["compliance packs (rules):", header]
    for s in summaries:
        lines.append(f"{s.pack:<20}{s.evaluated:>10}{s.passed:>8}{s.acknowledged:>14}{s.failed:>8}")
    return "\n".join(lines)


def write_report(packs: Iterable[Any], outdir: Path) -> tuple[str, Path]:
    """Write ``compliance-report.md`` into the cloud assembly; return the console table and its path."""
    packs = list(packs)
    summaries = summarise(packs, outdir)
    rows = acknowledgements(outdir)
    md = ["# Compliance report", "",
          "Generated by `make synth` from the synthesized templates. A rule *passed* when every resource it",
          "applies to complied; *acknowledged* when each non-compliant finding carries an acknowledgement with",
          "a reason (listed below); *failed* when a finding has none.", "",
          "| pack | rules evaluated | passed | acknowledged | failed | acknowledged findings |",
          "|---|---:|---:|---:|---:|---:|"]
    md += [f"| {s.pack} | {s.evaluated} | {s.passed} | {s.acknowledged} | {s.failed} | {s.acknowledged_findings} |"
           for s in summaries]
    grouped: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for r in rows:
        grouped[(r["kind"], r["id"], r["reason"])].append(f"{r['stack']}/{r['resource'].split('/', 1)[-1]}")
    md += ["", f"## Acknowledgements ({len(rows)} on {len({r['resource'] for r in rows})} resources)", "",
           "| kind | finding | reason | resources |", "|---|---|---|---|"]
    for (kind, finding, reason), resources in sorted(grouped.items()):
        shown = "<br>".join(f"`{r}`" for r in resources[:6])
        more = f"<br>… and {len(resources) - 6} more" if len(resources) > 6 else ""
        md.append(f"| {kind} | `{finding}` | {reason.replace('|', '/')} | {shown}{more} |")
    path = outdir / "compliance-report.md"
    path.write_text("\n".join(md) + "\n")
    return render_table(summaries), path
