#!/usr/bin/env python3
"""`make scan`: checkov, cfn-lint and the AWS Control Tower proactive controls on the synthesized templates.

Runs with the scanners' own virtualenv (.venv-scan, see requirements-scan.txt) but uses only the
standard library itself, so the test suite can import it from the main virtualenv.

The Control Tower controls are the Guard rules and the `cfn-guard` binary that cdklabs ships in
`cdklabs.cdk-validator-cfnguard` (pinned in requirements-scan.txt); they are unpacked from that
package once and run as a binary, not as a synth-time plugin (docs/scan.md says why).

Quiet on success (one summary line per scanner), details on failure, no colour, no progress bars,
no network: checkov's update check, platform mapping and downloads are switched off.

Exit status: 0 clean, 1 findings (failed checks, lint errors, skips without a reason),
2 the scan itself could not run (no templates, a scanner crashed, unreadable output).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

#: cfn-lint warnings reviewed once and accepted for every template; they are counted, not listed.
#: Any other warning is listed on every run (it does not fail the scan: review it, then fix or add it here).
REVIEWED_CFN_LINT_WARNINGS = {
    "W3005": "redundant DependsOn: CDK adds explicit dependencies (Lambda on its role and policy, "
    "node.add_dependency on whole construct subtrees) next to Ref/GetAtt; harmless to CloudFormation",
}

#: A skip's comment must say why, in words a reviewer can check.
MIN_SKIP_REASON = 20

#: Environment that keeps checkov offline and plain (see docs/scan.md).
CHECKOV_ENV = {
    "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true",  # no PyPI version check in the banner module
    "BC_SKIP_MAPPING": "TRUE",  # no Bridgecrew/Prisma id-mapping download
    "ANSI_COLORS_DISABLED": "1",
    "NO_COLOR": "1",
    "LOG_LEVEL": "WARNING",
    "REQUEST_MAX_TRIES": "1",
    "SLEEP_BETWEEN_REQUEST_TRIES": "0",
}
#: Never talk to a platform, whatever the caller's environment holds.
CHECKOV_ENV_DROP = ("BC_API_KEY", "PRISMA_API_URL", "BC_API_URL")

SCANNER_TIMEOUT_S = 900


class ScanError(Exception):
    """The scan could not run (exit 2), as opposed to findings (exit 1)."""


# --------------------------------------------------------------------------- templates


def find_templates(assembly: Path) -> list[Path]:
    """Every CloudFormation template of a cloud assembly, nested assemblies (stages) included."""
    if not assembly.is_dir():
        raise ScanError(f"{assembly}/ does not exist: run `make synth` first (or `make scan`, which does)")
    templates = sorted(
        p for p in assembly.rglob("*.template.json") if not any(part.startswith("asset.") for part in p.parts)
    )
    if not templates:
        raise ScanError(f"no *.template.json in {assembly}/: run `make synth` first")
    return templates


@dataclass
class Resource:
    logical_id: str
    type: str
    path: str  # aws:cdk:path, or "" for hand-written templates
    checkov_skips: list[dict] = field(default_factory=list)


def load_resources(template: Path) -> dict[str, Resource]:
    data = json.loads(template.read_text())
    out = {}
    for logical_id, body in (data.get("Resources") or {}).items():
        meta = body.get("Metadata") or {}
        skips = ((meta.get("checkov") or {}).get("skip")) or []
        out[logical_id] = Resource(logical_id, body.get("Type", "?"), meta.get("aws:cdk:path", ""), list(skips))
    return out


def rel(path: Path | str) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


# --------------------------------------------------------------------------- checkov


@dataclass
class Outcome:
    name: str
    summary: str
    details: list[str] = field(default_factory=list)  # always printed: findings, unreviewed warnings, notes
    verbose: list[str] = field(default_factory=list)  # printed with --verbose only
    failed: bool = False


def run_checkov(templates: list[Path], bin_dir: Path) -> list[dict]:
    env = {k: v for k, v in os.environ.items() if k not in CHECKOV_ENV_DROP}
    env.update(CHECKOV_ENV)
    cmd = [
        str(bin_dir / "checkov"),
        "--framework", "cloudformation",
        "--skip-download",
        "--skip-results-upload",
        "--output", "json",
        "--file", *map(str, templates),
    ]
    proc = _run(cmd, env)
    if proc.returncode not in (0, 1):
        raise ScanError(f"checkov exited {proc.returncode}:\n{proc.stderr.strip()}")
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError as err:
        raise ScanError(f"checkov printed no JSON report ({err}):\n{proc.stdout[:2000]}\n{proc.stderr[-2000:]}")
    # One framework gives one report (a dict); checkov gives a list for several, and a bare summary
    # dict when nothing was scanned.
    reports = report if isinstance(report, list) else [report]
    return reports


def summarise_checkov(reports: list[dict], templates: list[Path], version: str) -> Outcome:
    resources: dict[tuple[str, str], Resource] = {}
    by_name: dict[str, list[Resource]] = {}
    for t in templates:
        for lid, res in load_resources(t).items():
            resources[(t.name, lid)] = res
            by_name.setdefault(lid, []).append(res)

    passed = failed_n = skipped_n = parse_errors = 0
    failed, skipped, parsing = [], [], []
    for rep in reports:
        s = rep.get("summary", rep)
        passed += int(s.get("passed", 0))
        failed_n += int(s.get("failed", 0))
        skipped_n += int(s.get("skipped", 0))
        parse_errors += int(s.get("parsing_errors", 0))
        results = rep.get("results") or {}
        failed += results.get("failed_checks") or []
        skipped += results.get("skipped_checks") or []
        parsing += results.get("parsing_errors") or []

    def locate(check: dict) -> tuple[str, str, str]:
        rtype, _, lid = check.get("resource", "?.?").partition(".")
        file = Path(check.get("file_abs_path") or check.get("file_path") or "").name
        res = resources.get((file, lid)) or (by_name.get(lid) or [None])[0]
        return lid, rtype, res.path if res and res.path else "(no aws:cdk:path)"

    details: list[str] = []
    for c in sorted(failed, key=lambda c: (c["check_id"], c.get("resource", ""))):
        lid, rtype, path = locate(c)
        lines = c.get("file_line_range") or ["?", "?"]
        details += [
            f"FAILED {c['check_id']}: {c.get('check_name', '')}",
            f"    resource  {lid} ({rtype})",
            f"    construct {path}",
            f"    template  {rel(c.get('file_abs_path') or c.get('file_path', '?'))}:{lines[0]}-{lines[1]}",
        ]
        if c.get("guideline"):
            details.append(f"    guide     {c['guideline']}")
    for p in parsing:
        details.append(f"PARSE ERROR {p}")

    # Every skip needs a reason a reviewer can check; flag skips that no longer match anything.
    bad_skips: list[str] = []
    stale: list[str] = []
    applied = {(c["check_id"], c.get("resource", "").partition(".")[2]) for c in skipped}
    for (file, lid), res in sorted(resources.items()):
        for skip in res.checkov_skips:
            sid = skip.get("id", "?") if isinstance(skip, dict) else str(skip)
            reason = (skip.get("comment") or "").strip() if isinstance(skip, dict) else ""
            if len(reason) < MIN_SKIP_REASON:
                bad_skips.append(
                    f"SKIP WITHOUT REASON {sid} on {lid} ({res.path or file}): give a comment of at least "
                    f"{MIN_SKIP_REASON} characters that a reviewer can check"
                )
            if (sid, lid) not in applied:
                stale.append(f"note: skip {sid} on {lid} ({res.path or file}) matched no check: remove it?")
    details += bad_skips

    skip_ids = Counter(c["check_id"] for c in skipped)
    skip_txt = ", ".join(f"{k}x{v}" if v > 1 else k for k, v in sorted(skip_ids.items()))
    summary = (
        f"checkov {version}: {passed} passed, {failed_n} failed, {skipped_n} skipped"
        f"{' (' + skip_txt + ')' if skip_txt else ''}"
        f"{f', {parse_errors} parsing errors' if parse_errors else ''}"
        f" on {len(templates)} template{'s' if len(templates) != 1 else ''}"
    )
    bad = bool(failed_n or failed or parse_errors or parsing or bad_skips)
    return Outcome("checkov", summary, details + stale, failed=bad)


# --------------------------------------------------------------------------- cfn-lint


def run_cfn_lint(templates: list[Path], bin_dir: Path) -> list[dict]:
    cmd = [str(bin_dir / "cfn-lint"), "--format", "json", "--non-zero-exit-code", "none", "--", *map(str, templates)]
    proc = _run(cmd, dict(os.environ, NO_COLOR="1"))
    if proc.returncode != 0:
        raise ScanError(f"cfn-lint exited {proc.returncode}:\n{proc.stderr.strip()}")
    try:
        return json.loads(proc.stdout or "[]")
    except json.JSONDecodeError as err:
        raise ScanError(f"cfn-lint printed no JSON report ({err}):\n{proc.stdout[:2000]}\n{proc.stderr[-2000:]}")


def summarise_cfn_lint(matches: list[dict], templates: list[Path], version: str) -> Outcome:
    resources = {t.name: load_resources(t) for t in templates}
    levels = Counter(m.get("Level", "?") for m in matches)
    details: list[str] = []
    verbose: list[str] = []
    reviewed: Counter[str] = Counter()
    for m in sorted(matches, key=lambda m: (m.get("Level") != "Error", m["Rule"]["Id"], m.get("Filename", ""))):
        rule = m["Rule"]["Id"]
        level = m.get("Level", "?")
        if level not in ("Error", "Warning"):
            continue
        target = details
        if level == "Warning" and rule in REVIEWED_CFN_LINT_WARNINGS:
            reviewed[rule] += 1
            target = verbose
        path = m.get("Location", {}).get("Path") or []
        lid = path[1] if len(path) > 1 and path[0] == "Resources" else ""
        res = resources.get(Path(m.get("Filename", "")).name, {}).get(lid)
        start = m.get("Location", {}).get("Start", {}).get("LineNumber", "?")
        target.append(f"{level.upper()} {rule}: {m.get('Message', '').strip()}")
        if lid:
            target.append(f"    resource  {lid} ({res.type if res else '?'})")
            target.append(f"    construct {res.path if res and res.path else '(no aws:cdk:path)'}")
        target.append(f"    template  {rel(m.get('Filename', '?'))}:{start}  ({'/'.join(map(str, path))})")
    rev = ", ".join(f"{k}x{v}" for k, v in sorted(reviewed.items()))
    summary = (
        f"cfn-lint {version}: {levels.get('Error', 0)} errors, {levels.get('Warning', 0)} warnings"
        f"{' (reviewed: ' + rev + ')' if rev else ''}, {levels.get('Informational', 0)} informational"
        f" on {len(templates)} template{'s' if len(templates) != 1 else ''}"
    )
    return Outcome("cfn-lint", summary, details, verbose, failed=bool(levels.get("Error")))


# --------------------------------------------------------------------------- Control Tower

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


# --------------------------------------------------------------------------- main


def _run(cmd: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(
            cmd, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=SCANNER_TIMEOUT_S
        )
    except FileNotFoundError:
        raise ScanError(f"{cmd[0]} not found: run `make scan` (it creates .venv-scan from requirements-scan.txt)")
    except subprocess.TimeoutExpired:
        raise ScanError(f"{Path(cmd[0]).name} took longer than {SCANNER_TIMEOUT_S}s")


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "?"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("assembly", nargs="?", default="cdk.out", type=Path, help="cloud assembly directory")
    ap.add_argument("--report-dir", type=Path, default=Path("build/scan"), help="raw JSON reports go here")
    ap.add_argument("--verbose", action="store_true", help="list reviewed cfn-lint warnings too")
    args = ap.parse_args(argv)
    bin_dir = Path(sys.executable).parent
    try:
        templates = find_templates(args.assembly)
        args.report_dir.mkdir(parents=True, exist_ok=True)
        # (report name, distribution, run, summarise)
        scanners = [
            ("checkov", "checkov", run_checkov, summarise_checkov),
            ("cfn-lint", "cfn-lint", run_cfn_lint, summarise_cfn_lint),
        ]
        notes = []
        if control_tower_selected(args.assembly):
            scanners.append(("control-tower", CFNGUARD_DIST, run_control_tower, summarise_control_tower))
        else:
            notes.append(f"--   control-tower: not run ({CONTROL_TOWER_PACK} is not in context compliance_packs)")

        def timed(run):
            t0 = time.monotonic()
            return run(templates, bin_dir), time.monotonic() - t0

        # All scanners at once: a scan costs the slowest of them.
        with ThreadPoolExecutor(max_workers=len(scanners)) as pool:
            futures = [pool.submit(timed, run) for _, _, run, _ in scanners]
            raws = [f.result() for f in futures]
        outcomes = []
        for (name, dist, _, summarise), (raw, seconds) in zip(scanners, raws):
            (args.report_dir / f"{name}.json").write_text(json.dumps(raw, indent=1, default=str))
            out = summarise(raw, templates, _version(dist))
            out.summary += f" ({seconds:.0f}s)"
            outcomes.append(out)
            if name == "control-tower" and (report := add_to_compliance_report(args.assembly, control_tower_report(raw, templates))):
                out.details.append(f"per template: {rel(report)}")
    except ScanError as err:
        print(f"scan: error: {err}", file=sys.stderr)
        return 2

    for note in notes:
        print(note)
    for out in outcomes:
        print(("FAIL " if out.failed else "ok   ") + out.summary)
        for line in out.details + (out.verbose if args.verbose else []):
            print("  " + line)
    if any(o.failed for o in outcomes):
        print(
            f"scan: failed. Fix the construct that owns each resource, or add a skip with a reason on it: "
            f"see docs/scan.md. Raw reports: {rel(args.report_dir)}/",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
