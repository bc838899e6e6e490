"""A readable compliance report: per pack, rules evaluated / passed / acknowledged / failed.

cdk-nag v3 leaves no per-rule record of a passing synth (``validation-report.json`` lists only
violations, and an acknowledged finding leaves no trace). Observing every rule evaluation from
Python costs a jsii round trip each (about 16 s for six packs), so the report is built at
JavaScript speed instead:

- *rules evaluated*: cdk-nag applies every rule of a pack to every resource, so a pack's rule count
  is the number of rules it applies to one probe resource;
- *findings before acknowledgement*: the app is built with its acknowledgements held back
  (:func:`eks_envelope.acknowledgements.held_acknowledgements`), each pack's ``validate_scope`` runs on it,
  then the acknowledgements are released and that same app is synthesized (one build, one synth);
- *failed*: the violations of the real synth, from ``validation-report.json``.

Acknowledgements and their reasons are read back from the template metadata that
``write_suppressions_to_cloud_formation`` writes, so the report shows what scanners downstream see.
"""
from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from aws_cdk import App, CfnResource, Stack

if TYPE_CHECKING:  # cdk-nag is loaded by the packs themselves, when any is selected
    import cdk_nag


def rule_count(pack_class: type[cdk_nag.NagPack]) -> int:
    """How many rules ``pack_class`` evaluates: its ``rule_ids`` (cdk-nag's ``ruleIds``, unset in
    cdk-nag's own packs), or what it applies to a probe resource (cdk-nag's packs apply every rule
    to every resource)."""
    declared = pack_class().rule_ids
    if declared is not None:
        return len(declared)
    calls = 0

    class Counting(pack_class):  # type: ignore[misc, valid-type]
        def _apply_rule(self, params: cdk_nag.IApplyRule) -> None:
            nonlocal calls
            calls += 1

    probe = CfnResource(Stack(App(), "Probe"), "Resource", type="AWS::CloudFormation::WaitConditionHandle")
    Counting()._check_resource(probe)
    return calls


def findings_before_acknowledgement(
    app: App, pack_classes: Mapping[str, type[cdk_nag.NagPack]]
) -> dict[str, dict[str, int]]:
    """Pack -> rule id -> non-compliant resources, on an app built while its acknowledgements are held back."""
    found: dict[str, dict[str, int]] = {}
    for name, pack_class in pack_classes.items():
        per_rule: dict[str, int] = defaultdict(int)
        for violation in pack_class().validate_scope(app).violations:
            per_rule[violation.rule_name.split("[", 1)[0]] += len(violation.violating_resources)
        found[name] = dict(per_rule)
    return found


_RULE_ID = re.compile(r"^(?:[^:\[]+::)?(?P<pack>[^\[]+?)-(?P<rule>[^-\[]+)(?:\[.*)?$")


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
                # "AwsSolutions-IAM4[Policy::arn:...]", possibly prefixed "AwsSolutions::"
                match = _RULE_ID.match(violation.get("ruleName", ""))
                if match:
                    failed[match["pack"]].add(f"{match['pack']}-{match['rule']}")
    return failed


def summarise(
    pack_classes: Mapping[str, type[cdk_nag.NagPack]], findings: Mapping[str, Mapping[str, int]], outdir: Path
) -> list[PackSummary]:
    failed_by_pack = _violations_by_pack(outdir)
    summaries = []
    for name, pack_class in pack_classes.items():
        evaluated = rule_count(pack_class)
        flagged = findings.get(name, {})
        failed = failed_by_pack.get(name, set())
        acknowledged = [rule for rule in flagged if rule not in failed]
        summaries.append(
            PackSummary(
                pack=name,
                evaluated=evaluated,
                passed=evaluated - len(set(flagged) | failed),
                acknowledged=len(acknowledged),
                failed=len(failed),
                acknowledged_findings=sum(flagged[rule] for rule in acknowledged),
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
            guard = metadata.get("guard", {})
            for control in guard.get("SuppressedRules", []):
                rows.append({"stack": template_path.name.split(".")[0], "resource": path, "id": control,
                             "reason": guard.get("Reasons", {}).get(control, ""), "kind": "Control Tower"})
    return rows


def render_table(summaries: list[PackSummary]) -> str:
    header = f"{'pack':<20}{'evaluated':>10}{'passed':>8}{'acknowledged':>14}{'failed':>8}"
    lines = ["compliance packs (rules):", header]
    for s in summaries:
        lines.append(f"{s.pack:<20}{s.evaluated:>10}{s.passed:>8}{s.acknowledged:>14}{s.failed:>8}")
    return "\n".join(lines)


def write_report(
    pack_classes: Mapping[str, type[cdk_nag.NagPack]],
    findings: Mapping[str, Mapping[str, int]],
    outdir: Path,
) -> tuple[str, Path]:
    """Write ``compliance-report.md`` into the cloud assembly ``outdir``; return the console table and its path.

    ``findings`` is :func:`findings_before_acknowledgement` of the app that wrote ``outdir``.
    """
    summaries = summarise(pack_classes, findings, outdir)
    rows = acknowledgements(outdir)
    md = ["# Compliance report", "",
          "Generated by `make synth` from the synthesized templates. cdk-nag evaluates every rule of a pack on",
          "every resource. A rule *passed* when every resource complied; *acknowledged* when each non-compliant",
          "finding carries an acknowledgement with a reason (listed below); *failed* when a finding has none.", "",
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
