"""The AWS Control Tower proactive controls for `make scan`: cfn-guard with the Control Tower rules that
cdklabs ships in `cdklabs.cdk-validator-cfnguard`, unpacked from that package and run as a binary (not
as a synth-time plugin: docs/scan.md says why). Standard library only."""
from __future__ import annotations

import json
import os
import platform
import re
import shutil
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from scan_common import MIN_SKIP_REASON, Outcome, ScanError, load_resources, rel, run_tool as _run


#: The pack name in context `compliance_packs` (stacks.settings) that selects this scanner.
CONTROL_TOWER_PACK = "ControlTower"
#: Where the app records the packs it was synthesized with (written by app.py into the assembly).
PACK_SELECTION_FILE = "compliance-packs.json"
CFNGUARD_DIST = "cdklabs.cdk-validator-cfnguard"
#: Exit codes of `cfn-guard validate`: 0 all compliant, 19 some rule not compliant.
GUARD_OK_CODES = (0, 19)
_CONTROL_ID = re.compile(r"\[(CT\.[A-Z0-9-]+\.PR\.\d+)\]:\s*(.*)")
_TEMPLATE_RULE = re.compile(r"^rule\s+(\w+)\s+when\s+is_cfn_template", re.M)
_RESOURCE_PATH = re.compile(r"^/Resources/([^/]+)")


@dataclass
class ControlTowerRules:
    guard: Path  # the cfn-guard binary
    rules: Path  # directory of the Control Tower .guard files
    guard_version: str
    package_version: str
    #: Guard rule name -> (control id, title), e.g. kms_key_rotation_enabled_check -> CT.KMS.PR.1
    controls: dict[str, tuple[str, str]]


def _guard_platform() -> tuple[str, str]:
    system = {"Linux": "ubuntu", "Darwin": "macos"}.get(platform.system())
    arch = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}.get(platform.machine().lower())
    if not system or not arch:
        raise ScanError(f"cfn-guard is bundled for Linux and macOS on x86_64/arm64, not {platform.system()} {platform.machine()}")
    return system, arch


def control_tower_rules(venv: Path) -> ControlTowerRules:
    """The cfn-guard binary and Control Tower rules of the cdklabs package installed in ``venv``.

    The package ships both inside its jsii tarball; they are unpacked once next to it (atomically,
    so concurrent scans never see half a binary) and reused while the package version is unchanged.
    """
    tarballs = sorted(venv.glob("lib/python*/site-packages/cdklabs/cdk_validator_cfnguard/_jsii/*.jsii.tgz"))
    if not tarballs:
        raise ScanError(f"{CFNGUARD_DIST} is not installed in {rel(venv)}: run `make scan` (it creates .venv-scan "
                        "from requirements-scan.txt)")
    tarball = tarballs[-1]
    package_version = tarball.name.split("@", 1)[1].removesuffix(".jsii.tgz")
    system, arch = _guard_platform()
    unpacked = tarball.parent / f"unpacked-{package_version}"
    if not (unpacked / "package" / "guard-version.json").is_file():
        staging = Path(tempfile.mkdtemp(prefix="unpacking-", dir=tarball.parent))
        with tarfile.open(tarball) as archive:
            wanted = [m for m in archive.getmembers()
                      if m.name.startswith(("package/rules/control-tower/cfn-guard/", f"package/bin/{system}/{arch}/"))
                      or m.name == "package/guard-version.json"]
            archive.extractall(staging, members=wanted, filter="data")
        try:
            os.rename(staging, unpacked)
        except OSError:  # another scan got there first
            shutil.rmtree(staging, ignore_errors=True)
    base = unpacked / "package"
    guard = base / "bin" / system / arch / "cfn-guard"
    guard.chmod(guard.stat().st_mode | 0o111)
    rules = base / "rules" / "control-tower" / "cfn-guard"
    controls: dict[str, tuple[str, str]] = {}
    for rule_file in sorted(rules.rglob("*.guard")):
        text = rule_file.read_text()
        control = _CONTROL_ID.search(text)
        for name in _TEMPLATE_RULE.findall(text):
            controls[name] = (control[1], control[2].strip()) if control else (name, "")
    guard_version = json.loads((base / "guard-version.json").read_text()).get("version", "?")
    return ControlTowerRules(guard, rules, guard_version, package_version, controls)


_RESOURCE_TYPE = re.compile(r"\bAWS::[A-Za-z0-9]+::[A-Za-z0-9]+\b")


def resource_types(templates: list[Path]) -> set[str]:
    """Every resource type in ``templates``."""
    return {resource.type for template in templates for resource in load_resources(template).values()}


def rule_files_that_can_apply(rules: Path, types: set[str]) -> list[Path]:
    """The .guard files under ``rules`` that name one of ``types``, or name no resource type at all.

    A Control Tower rule selects the resources it checks by type (``Resources.*[ Type == 'AWS::EKS::Cluster' ]``):
    on a template with none of the types its file names, it can only SKIP. Leaving such files out of the run
    changes no PASS or FAIL, and saves most of cfn-guard's time, which grows with the number of rule files
    it evaluates against each template (237 files: about 2 s per template; docs/scan.md).
    """
    return [f for f in sorted(rules.rglob("*.guard"))
            if not (named := set(_RESOURCE_TYPE.findall(f.read_text()))) or named & types]


def run_control_tower(templates: list[Path], bin_dir: Path) -> dict:
    """Every Control Tower rule that can apply over every template, in one cfn-guard run; the raw report with
    the rule map of all of them (a rule left out could only have skipped: :func:`rule_files_that_can_apply`)."""
    ct = control_tower_rules(bin_dir.parent)
    rule_files = rule_files_that_can_apply(ct.rules, resource_types(templates))
    if not rule_files:
        # No control can apply (e.g. a template of Config rules only); cfn-guard refuses a run without rules.
        return {"guard_version": ct.guard_version, "package_version": ct.package_version,
                "controls": {name: list(v) for name, v in ct.controls.items()},
                "results": [{"name": str(t), "compliant": [], "not_compliant": []} for t in templates]}
    cmd = [str(ct.guard), "validate", *[arg for f in rule_files for arg in ("--rules", str(f))],
           *[arg for t in templates for arg in ("--data", str(t))],
           "--output-format", "json", "--show-summary", "none", "--structured"]
    proc = _run(cmd, dict(os.environ, NO_COLOR="1"))
    if proc.returncode not in GUARD_OK_CODES:
        raise ScanError(f"cfn-guard exited {proc.returncode}:\n{proc.stderr.strip()[-2000:]}")
    try:
        results = json.loads(proc.stdout)
    except json.JSONDecodeError as err:
        raise ScanError(f"cfn-guard printed no JSON report ({err}):\n{proc.stdout[:2000]}\n{proc.stderr[-2000:]}")
    return {"guard_version": ct.guard_version, "package_version": ct.package_version,
            "controls": {name: list(v) for name, v in ct.controls.items()}, "results": results}


def _violating_resources(node: object) -> set[str]:
    """Logical ids of the resources a not-compliant Guard rule traversed to."""
    found: set[str] = set()
    if isinstance(node, dict):
        path = node.get("path")
        if isinstance(path, str) and (m := _RESOURCE_PATH.match(path)):
            found.add(m[1])
        for value in node.values():
            found |= _violating_resources(value)
    elif isinstance(node, list):
        for value in node:
            found |= _violating_resources(value)
    return found


def guard_acknowledgements(template: Path) -> dict[str, dict[str, str]]:
    """Logical id -> {control id: reason} from resource metadata ``guard.SuppressedRules`` (+ ``guard.Reasons``)."""
    data = json.loads(template.read_text())
    out: dict[str, dict[str, str]] = {}
    for logical_id, body in (data.get("Resources") or {}).items():
        guard = ((body.get("Metadata") or {}).get("guard")) or {}
        reasons = guard.get("Reasons") or {}
        for control in guard.get("SuppressedRules") or []:
            out.setdefault(logical_id, {})[control] = str(reasons.get(control, "")).strip()
    return out


@dataclass
class TemplateControls:
    """What the Control Tower controls found in one template."""

    template: Path
    evaluated: int  # every control runs on every template
    applicable: set[str] = field(default_factory=set)  # controls whose resource type the template has
    #: control -> resources failing it, before any acknowledgement (cfn-guard reads no suppressions)
    failing: dict[str, set[str]] = field(default_factory=dict)
    acknowledged: dict[str, dict[str, str]] = field(default_factory=dict)  # control -> resource -> reason
    unacknowledged: dict[str, set[str]] = field(default_factory=dict)  # control -> resources
    stale: list[tuple[str, str]] = field(default_factory=list)  # (resource, control) acknowledged but passing
    unreasoned: list[tuple[str, str]] = field(default_factory=list)  # (resource, control) without a reason

    @property
    def passed(self) -> int:
        return len(self.applicable) - len(self.failing)

    @property
    def failed(self) -> int:
        return len(self.unacknowledged) + len(self.stale) + len(self.unreasoned)


def control_tower_results(raw: dict, templates: list[Path]) -> list[TemplateControls]:
    controls = {name: tuple(v) for name, v in raw["controls"].items()}
    by_file = {Path(r["name"]).resolve(): r for r in raw["results"]}
    out = []
    for template in templates:
        result = by_file.get(template.resolve())
        if result is None:
            raise ScanError(f"cfn-guard reported nothing for {rel(template)}")
        tc = TemplateControls(template, evaluated=len(controls))
        control_of = lambda name: controls.get(name, (name, ""))[0]  # noqa: E731
        tc.applicable = {control_of(n) for n in result.get("compliant") or []}
        for entry in result.get("not_compliant") or []:
            name = (entry.get("Rule") or {}).get("name", "?")
            control = control_of(name)
            tc.applicable.add(control)
            tc.failing.setdefault(control, set()).update(_violating_resources(entry) or {"(template)"})
        acks = guard_acknowledgements(template)
        for resource, by_control in sorted(acks.items()):
            for control, reason in sorted(by_control.items()):
                if len(reason) < MIN_SKIP_REASON:
                    tc.unreasoned.append((resource, control))
                if resource not in tc.failing.get(control, set()):
                    tc.stale.append((resource, control))
        for control, resources in sorted(tc.failing.items()):
            for resource in sorted(resources):
                reason = acks.get(resource, {}).get(control)
                if reason:
                    tc.acknowledged.setdefault(control, {})[resource] = reason
                else:
                    tc.unacknowledged.setdefault(control, set()).add(resource)
        out.append(tc)
    return out


def summarise_control_tower(raw: dict, templates: list[Path], version: str) -> Outcome:
    results = control_tower_results(raw, templates)
    titles = {cid: title for cid, title in raw["controls"].values()}
    details: list[str] = []
    for tc in results:
        resources = load_resources(tc.template)
        where = lambda lid: f"{lid} ({resources[lid].path or resources[lid].type})" if lid in resources else lid  # noqa: E731
        for control, lids in sorted(tc.unacknowledged.items()):
            details.append(f"FAILED {control}: {titles.get(control, '')}")
            details += [f"    resource  {where(lid)}" for lid in sorted(lids)]
            details.append(f"    template  {rel(tc.template)}")
        for lid, control in tc.stale:
            details.append(f"STALE ACKNOWLEDGEMENT {control} on {where(lid)}: the control passes there without it; "
                           f"remove it ({rel(tc.template)})")
        for lid, control in tc.unreasoned:
            details.append(f"ACKNOWLEDGEMENT WITHOUT REASON {control} on {where(lid)}: give guard.Reasons a reason "
                           f"of at least {MIN_SKIP_REASON} characters")
    acknowledged = sorted({c for tc in results for c in tc.acknowledged})
    summary = (
        f"control-tower ({version}, cfn-guard {raw['guard_version']}): {results[0].evaluated if results else 0} controls, "
        f"{sum(len(tc.applicable) for tc in results)} applicable, "
        f"{sum(tc.passed for tc in results)} passed, "
        f"{sum(len(tc.acknowledged) for tc in results)} acknowledged"
        f"{' (' + ', '.join(acknowledged) + ')' if acknowledged else ''}, "
        f"{sum(tc.failed for tc in results)} failed"
        f" on {len(templates)} template{'s' if len(templates) != 1 else ''}"
    )
    return Outcome("control-tower", summary, details, failed=any(tc.failed for tc in results))


def control_tower_selected(assembly: Path) -> bool:
    """Whether the app that wrote ``assembly`` selected the ControlTower pack (yes when it did not say)."""
    selection = assembly / PACK_SELECTION_FILE
    if not selection.is_file():
        return True
    return CONTROL_TOWER_PACK in json.loads(selection.read_text()).get("packs", [])


REPORT_BEGIN, REPORT_END = "<!-- control-tower:begin -->", "<!-- control-tower:end -->"


def control_tower_report(raw: dict, templates: list[Path]) -> str:
    """The Markdown section `make scan` adds to the compliance report."""
    results = control_tower_results(raw, templates)
    titles = {cid: title for cid, title in raw["controls"].values()}
    md = [REPORT_BEGIN, "## AWS Control Tower proactive controls (`make scan`)", "",
          f"{CFNGUARD_DIST} {raw['package_version']} (cfn-guard {raw['guard_version']}). Every control runs on every "
          "template; it *applies* when the template has a resource of its type. cfn-guard and Control Tower's hooks read no "
          "suppressions, so an acknowledged control still fails at deploy unless an administrator exempts the stack "
          "(README: Governed organizations).", "",
          "| template | controls | applicable | passed | acknowledged | failed |", "|---|---:|---:|---:|---:|---:|"]
    md += [f"| {tc.template.name} | {tc.evaluated} | {len(tc.applicable)} | {tc.passed} | {len(tc.acknowledged)} | "
           f"{tc.failed} |" for tc in results]
    md += ["", "| control | resource | reason |", "|---|---|---|"]
    for tc in results:
        resources = load_resources(tc.template)
        for control, by_resource in sorted(tc.acknowledged.items()):
            for lid, reason in sorted(by_resource.items()):
                path = resources[lid].path if lid in resources else lid
                md.append(f"| `{control}` {titles.get(control, '')} | `{path}` | {reason.replace('|', '/')} |")
    return "\n".join(md + [REPORT_END])


def add_to_compliance_report(assembly: Path, section: str) -> Path | None:
    """Put ``section`` into the assembly's compliance-report.md (replacing an earlier one); None if there is none."""
    report = assembly / "compliance-report.md"
    if not report.is_file():
        return None
    text = report.read_text()
    if REPORT_BEGIN in text:
        text = text[: text.index(REPORT_BEGIN)].rstrip("\n") + text[text.index(REPORT_END) + len(REPORT_END):]
    report.write_text(text.rstrip("\n") + "\n\n" + section + "\n")
    return report
