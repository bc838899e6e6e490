#!/usr/bin/env python3
"""`make scan`: checkov, cfn-lint and the AWS Control Tower proactive controls on the synthesized templates.

Runs with the scanners' own virtualenv (.venv-scan, see requirements-scan.txt) but uses only the
standard library itself, so the test suite can import it from the main virtualenv.

The Control Tower controls are the Guard rules and the `cfn-guard` binary that cdklabs ships in
`cdklabs.cdk-validator-cfnguard` (pinned in requirements-scan.txt): scan_control_tower.py. What the
scanners share (templates, resources, the outcome format) is in scan_common.py.

Quiet on success (one summary line per scanner), details on failure, no colour, no progress bars,
no network: checkov's update check, platform mapping and downloads are switched off.

Exit status: 0 clean, 1 findings (failed checks, lint errors, skips without a reason),
2 the scan itself could not run (no templates, a scanner crashed, unreadable output).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # its sibling modules, also when loaded by path (tests)
import constraints  # noqa: E402
from scan_common import (  # noqa: E402
    MIN_SKIP_REASON, Outcome, Resource, ScanError, find_templates, load_resources, rel,
    run_tool as _run,
)
from scan_control_tower import (  # noqa: E402
    CFNGUARD_DIST, CONTROL_TOWER_PACK, PACK_SELECTION_FILE, REPORT_BEGIN, REPORT_END, ControlTowerRules,
    TemplateControls, add_to_compliance_report, control_tower_report, control_tower_results, control_tower_rules,
    control_tower_selected, guard_acknowledgements, resource_types, rule_files_that_can_apply, run_control_tower,
    summarise_control_tower,
)

#: The scan's API as the tests (and a reader) use it: this module's scanners and main, plus the shared model
#: and the Control Tower part it is built from.
__all__ = [
    "CFNGUARD_DIST", "CONTROL_TOWER_PACK", "PACK_SELECTION_FILE", "REPORT_BEGIN", "REPORT_END", "ControlTowerRules",
    "Outcome", "Resource", "ScanError", "TemplateControls", "add_to_compliance_report", "control_tower_report",
    "control_tower_results", "control_tower_rules", "control_tower_selected", "find_templates", "guard_acknowledgements",
    "load_resources", "main", "resource_types", "rule_files_that_can_apply", "run_cfn_lint", "run_checkov",
    "run_control_tower", "summarise_cfn_lint", "summarise_checkov", "summarise_control_tower",
]

#: cfn-lint warnings reviewed once and accepted for every template; they are counted, not listed.
#: Any other warning is listed on every run (it does not fail the scan: review it, then fix or add it here).
REVIEWED_CFN_LINT_WARNINGS = {
    "W3005": "redundant DependsOn: CDK adds explicit dependencies (Lambda on its role and policy, "
    "node.add_dependency on whole construct subtrees) next to Ref/GetAtt; harmless to CloudFormation",
}

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


# --------------------------------------------------------------------------- checkov


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


# --------------------------------------------------------------------------- main


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
            ("constraints", "constraints", constraints.run, constraints.summarise),  # scripts/constraints.py
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
