"""scripts/scan.py (`make scan`): how it finds templates and reads checkov's, cfn-lint's and cfn-guard's reports.

The scanners themselves live in .venv-scan and run in `make scan`; scan.py uses only the standard
library, so these tests run in the main virtualenv with canned reports and a fake scanner.
"""
from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest

from tests.helpers import scan_script

ROOT = Path(__file__).resolve().parents[1]
scan = scan_script()

REASON = "Invoked synchronously by the CDK Provider framework: a DLQ never receives anything."


def _template(tmp_path: Path, resources: dict, name: str = "Stack.template.json") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"Resources": resources}))
    return path


def _function(skips: list | None = None, path: str = "Stack/Verifier/Handler/Resource") -> dict:
    meta: dict = {"aws:cdk:path": path}
    if skips is not None:
        meta["checkov"] = {"skip": skips}
    return {"Type": "AWS::Lambda::Function", "Properties": {}, "Metadata": meta}


def _check(check_id: str, logical_id: str, file: Path, result: str = "FAILED") -> dict:
    return {
        "check_id": check_id,
        "check_name": "Ensure that AWS Lambda function is configured for a Dead Letter Queue(DLQ)",
        "resource": f"AWS::Lambda::Function.{logical_id}",
        "file_abs_path": str(file),
        "file_line_range": [3, 9],
        "check_result": {"result": result},
    }


def _report(passed=0, failed=(), skipped=()) -> list[dict]:
    return [
        {
            "check_type": "cloudformation",
            "results": {"passed_checks": [], "failed_checks": list(failed), "skipped_checks": list(skipped),
                        "parsing_errors": []},
            "summary": {"passed": passed, "failed": len(failed), "skipped": len(skipped), "parsing_errors": 0},
        }
    ]


# --------------------------------------------------------------------------- templates


def test_find_templates_includes_stage_assemblies_and_skips_assets(tmp_path):
    top = _template(tmp_path, {}, "A.template.json")
    staged = _template(tmp_path, {}, "assembly-Prod/ProdA.template.json")
    _template(tmp_path, {}, "asset.abc123/not-a-stack.template.json")
    assert scan.find_templates(tmp_path) == sorted([top, staged])


def test_find_templates_explains_what_to_run(tmp_path):
    with pytest.raises(scan.ScanError, match="make synth"):
        scan.find_templates(tmp_path / "missing")
    with pytest.raises(scan.ScanError, match="no \\*.template.json"):
        scan.find_templates(tmp_path)


# --------------------------------------------------------------------------- checkov


def test_failed_check_names_logical_id_and_construct_path(tmp_path):
    t = _template(tmp_path, {"Handler1234": _function()})
    out = scan.summarise_checkov(_report(passed=5, failed=[_check("CKV_AWS_116", "Handler1234", t)]), [t], "3.3.30")
    assert out.failed
    assert out.summary.startswith("checkov 3.3.30: 5 passed, 1 failed, 0 skipped")
    text = "\n".join(out.details)
    assert "FAILED CKV_AWS_116" in text
    assert "Handler1234 (AWS::Lambda::Function)" in text
    assert "Stack/Verifier/Handler/Resource" in text


def test_reasoned_skip_passes_and_is_counted(tmp_path):
    t = _template(tmp_path, {"Handler1234": _function([{"id": "CKV_AWS_116", "comment": REASON}])})
    report = _report(passed=5, skipped=[_check("CKV_AWS_116", "Handler1234", t, "SKIPPED")])
    out = scan.summarise_checkov(report, [t], "3.3.30")
    assert not out.failed
    assert "1 skipped (CKV_AWS_116)" in out.summary
    assert out.details == []


@pytest.mark.parametrize("skip", [{"id": "CKV_AWS_116"}, {"id": "CKV_AWS_116", "comment": "ok"}])
def test_skip_without_a_reason_fails(tmp_path, skip):
    t = _template(tmp_path, {"Handler1234": _function([skip])})
    report = _report(skipped=[_check("CKV_AWS_116", "Handler1234", t, "SKIPPED")])
    out = scan.summarise_checkov(report, [t], "3.3.30")
    assert out.failed
    assert any(d.startswith("SKIP WITHOUT REASON CKV_AWS_116 on Handler1234") for d in out.details)


def test_skip_that_matches_nothing_is_pointed_out_without_failing(tmp_path):
    t = _template(tmp_path, {"Handler1234": _function([{"id": "CKV_AWS_999", "comment": REASON}])})
    out = scan.summarise_checkov(_report(passed=3), [t], "3.3.30")
    assert not out.failed
    assert out.details == [
        "note: skip CKV_AWS_999 on Handler1234 (Stack/Verifier/Handler/Resource) matched no check: remove it?"
    ]


def test_parsing_errors_fail(tmp_path):
    t = _template(tmp_path, {})
    report = _report()
    report[0]["summary"]["parsing_errors"] = 1
    report[0]["results"]["parsing_errors"] = [str(t)]
    assert scan.summarise_checkov(report, [t], "3.3.30").failed


# --------------------------------------------------------------------------- cfn-lint


def _match(rule: str, level: str, file: Path, logical_id: str = "Handler1234") -> dict:
    return {
        "Filename": str(file),
        "Level": level,
        "Message": f"{rule} message",
        "Rule": {"Id": rule},
        "Location": {"Path": ["Resources", logical_id, "Properties"], "Start": {"LineNumber": 4}},
    }


def test_cfn_lint_error_fails_with_construct_path(tmp_path):
    t = _template(tmp_path, {"Handler1234": _function()})
    out = scan.summarise_cfn_lint([_match("E3002", "Error", t)], [t], "1.58.0")
    assert out.failed
    assert out.summary.startswith("cfn-lint 1.58.0: 1 errors, 0 warnings")
    assert "ERROR E3002: E3002 message" in out.details
    assert "    construct Stack/Verifier/Handler/Resource" in out.details


def test_cfn_lint_warnings_do_not_fail_and_reviewed_ones_are_only_counted(tmp_path):
    t = _template(tmp_path, {"Handler1234": _function()})
    matches = [_match("W3005", "Warning", t), _match("W1234", "Warning", t)]
    out = scan.summarise_cfn_lint(matches, [t], "1.58.0")
    assert not out.failed
    assert "2 warnings (reviewed: W3005x1)" in out.summary
    assert any(d.startswith("WARNING W1234") for d in out.details)
    assert not any("W3005" in d for d in out.details)
    assert any(d.startswith("WARNING W3005") for d in out.verbose)


# --------------------------------------------------------------------------- running a scanner


def test_checkov_runs_offline_and_without_platform_credentials(tmp_path, monkeypatch):
    """A fake checkov reports the environment it got: no API key, update check and mapping off."""
    fake = tmp_path / "bin" / "checkov"
    fake.parent.mkdir()
    fake.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        "keys = ('BC_API_KEY', 'CKV_SKIP_PACKAGE_UPDATE_CHECK', 'BC_SKIP_MAPPING', 'ANSI_COLORS_DISABLED')\n"
        "print(json.dumps({'summary': {'passed': 0, 'failed': 0, 'skipped': 0, 'parsing_errors': 0},\n"
        "                  'env': {k: os.environ.get(k) for k in keys}, 'argv': sys.argv[1:]}))\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("BC_API_KEY", "must-not-leak")
    t = _template(tmp_path, {})
    [report] = scan.run_checkov([t], fake.parent)
    assert report["env"] == {
        "BC_API_KEY": None,
        "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true",
        "BC_SKIP_MAPPING": "TRUE",
        "ANSI_COLORS_DISABLED": "1",
    }
    assert {"--skip-download", "--skip-results-upload"} <= set(report["argv"])
    assert report["argv"][report["argv"].index("--framework") + 1] == "cloudformation"


def test_missing_scanner_says_how_to_get_it(tmp_path):
    with pytest.raises(scan.ScanError, match="make scan"):
        scan.run_cfn_lint([_template(tmp_path, {})], tmp_path / "nowhere")


def test_requirements_pin_every_scanner_exactly():
    pins = {
        line.split("==")[0]: line.split("==")[1]
        for line in (ROOT / "requirements-scan.txt").read_text().splitlines()
        if line and not line.startswith("#")
    }
    assert set(pins) == {"checkov", "cfn-lint", scan.CFNGUARD_DIST}
    assert all(v and v[0].isdigit() for v in pins.values())
    assert os.path.isfile(ROOT / "mk" / "scan.mk")


# --------------------------------------------------------------------------- Control Tower (canned cfn-guard output)


def _guard_raw(template: Path, failing: dict[str, list[str]], compliant=("kms_key_rotation_enabled_check",)) -> dict:
    """cfn-guard's --structured JSON shape: a not-compliant rule names the resources it traversed to."""
    not_compliant = [
        {"Rule": {"name": name, "checks": [{"Clause": {"Unary": {"check": {"UnResolved": {"value": {
            "traversed_to": {"path": f"/Resources/{lid}/Properties", "value": {}}}}}}}} for lid in lids]}}
        for name, lids in failing.items()
    ]
    return {"guard_version": "3.1.1", "package_version": "0.0.62",
            "controls": {"kms_key_rotation_enabled_check": ["CT.KMS.PR.1", "Require any AWS KMS key to have rotation"],
                         "kms_create_grant_aws_service_check": ["CT.KMS.PR.3", "Limit grants to AWS services"]},
            "results": [{"name": str(template), "compliant": list(compliant), "not_compliant": not_compliant,
                         "not_applicable": []}]}


def _key(guard: dict | None = None) -> dict:
    meta = {"aws:cdk:path": "Stack/Key/Resource"}
    if guard is not None:
        meta["guard"] = guard
    return {"Type": "AWS::KMS::Key", "Properties": {}, "Metadata": meta}


def test_control_tower_acknowledged_finding_passes_and_is_counted(tmp_path):
    t = _template(tmp_path, {"Key1": _key({"SuppressedRules": ["CT.KMS.PR.3"], "Reasons": {"CT.KMS.PR.3": REASON}})})
    out = scan.summarise_control_tower(_guard_raw(t, {"kms_create_grant_aws_service_check": ["Key1"]}), [t], "0.0.62")
    assert not out.failed
    assert "2 controls, 2 applicable, 1 passed, 1 acknowledged (CT.KMS.PR.3), 0 failed" in out.summary


def test_control_tower_finding_without_acknowledgement_fails_with_construct_path(tmp_path):
    t = _template(tmp_path, {"Key1": _key()})
    out = scan.summarise_control_tower(_guard_raw(t, {"kms_create_grant_aws_service_check": ["Key1"]}), [t], "0.0.62")
    assert out.failed
    assert out.details[:2] == ["FAILED CT.KMS.PR.3: Limit grants to AWS services", "    resource  Key1 (Stack/Key/Resource)"]


def test_control_tower_acknowledgement_without_reason_fails(tmp_path):
    t = _template(tmp_path, {"Key1": _key({"SuppressedRules": ["CT.KMS.PR.3"]})})
    out = scan.summarise_control_tower(_guard_raw(t, {"kms_create_grant_aws_service_check": ["Key1"]}), [t], "0.0.62")
    assert out.failed
    assert any(d.startswith("ACKNOWLEDGEMENT WITHOUT REASON CT.KMS.PR.3 on Key1") for d in out.details)


def test_control_tower_section_replaces_the_previous_one_in_the_compliance_report(tmp_path):
    t = _template(tmp_path, {"Key1": _key()})
    (tmp_path / "compliance-report.md").write_text("# Compliance report\n")
    raw = _guard_raw(t, {})
    for _ in range(2):
        scan.add_to_compliance_report(tmp_path, scan.control_tower_report(raw, [t]))
    text = (tmp_path / "compliance-report.md").read_text()
    assert text.startswith("# Compliance report\n") and text.count(scan.REPORT_BEGIN) == 1
    assert "| Stack.template.json | 2 | 1 | 1 | 0 | 0 |" in text
