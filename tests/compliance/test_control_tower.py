"""The AWS Control Tower proactive controls over every template the project produces.

The controls run as `make scan` runs them: cfn-guard and the Control Tower rules unpacked from
`cdklabs.cdk-validator-cfnguard` in .venv-scan (requirements-scan.txt; `make test` runs `make scan`
first, which creates it). cfn-guard reads no acknowledgement, so its raw result is the result
without them: each acknowledged control must fail there on exactly the resources that carry it,
and every failing control must carry one with a reason. All configurations go through one cfn-guard
run (module fixture); the assemblies are the ones the other tests synthesize (cached in helpers). The tests
that run cfn-guard are end-to-end (``e2e``); the pack selection and rule filtering are not.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from stacks.compliance_packs import PACK_SELECTION_FILE, SCAN_PACKS, record_selection, selected
from stacks.settings import COMPLIANCE_PACKS, settings_from_context
from tests.compliance.careless import build_careless_app
from tests.helpers import (
    REPO,
    consumer_example_assembly,
    integ_app_assembly,
    new_app,
    scan_script,
    synth_bundled_app,
)


scan = scan_script()
SCAN_BIN = REPO / ".venv-scan" / "bin"
#: The ephemeral configuration tests/test_environments.py synthesizes (same cache entry).
EPHEMERAL = {"env_name": "pr-42", "ephemeral": "true"}

SECRETS_KEY = "Cluster/SecretsKey/Resource/Resource"
EPHEMERAL_LOG_GROUPS = {"Cluster/ControlPlaneLogs/Resource", "Cluster/FlowLogs/Resource",
                        "Cluster/Verifier/HandlerLogs/Resource", "Cluster/Verifier/ProviderLogs/Resource"}

#: Template -> control -> the resources (aws:cdk:path after the stack name) that acknowledge it.
#: Each one is explained in its reason and in README "Governed organizations".
EXPECTED_ACKNOWLEDGEMENTS = {
    "EksEnvelope": {"CT.KMS.PR.3": {SECRETS_KEY}},
    "EksEnvelope-pr-42": {"CT.KMS.PR.3": {SECRETS_KEY}, "CT.CLOUDWATCH.PR.2": EPHEMERAL_LOG_GROUPS},
    "SharedKey": {"CT.KMS.PR.3": {"EksSecretsKey/Resource"}},
    "TeamCluster": {"CT.EKS.PR.2": {"Cluster/Resource/Resource"}},
    "EksEnvelope-integ": {"CT.KMS.PR.3": {SECRETS_KEY}, "CT.CLOUDWATCH.PR.2": EPHEMERAL_LOG_GROUPS},
    "EksEnvelope-integ-assertions": {"CT.LAMBDA.PR.3": {"SingletonFunction1488541a7b23466481b69b4408076b81/Handler"}},
}


def _templates(assembly) -> list[Path]:
    return [Path(stack.template_full_path) for stack in assembly.stacks]


@pytest.fixture(scope="module")
def results() -> dict[str, scan.TemplateControls]:
    templates = [
        *_templates(synth_bundled_app()),
        *_templates(synth_bundled_app(**EPHEMERAL)),
        *_templates(consumer_example_assembly()),
        *_templates(integ_app_assembly()),
    ]
    raw = scan.run_control_tower(templates, SCAN_BIN)
    return {tc.template.name.split(".")[0]: tc for tc in scan.control_tower_results(raw, templates)}


def _paths(tc: scan.TemplateControls, logical_ids) -> set[str]:
    resources = scan.load_resources(tc.template)
    return {resources[lid].path.split("/", 1)[1] for lid in logical_ids}


@pytest.mark.e2e
def test_every_template_is_scanned(results) -> None:
    assert set(results) == set(EXPECTED_ACKNOWLEDGEMENTS)
    assert {tc.evaluated for tc in results.values()} == {237}


@pytest.mark.e2e
@pytest.mark.parametrize("stack", sorted(EXPECTED_ACKNOWLEDGEMENTS))
def test_template_has_no_unexplained_finding(results, stack: str) -> None:
    tc = results[stack]
    assert tc.unacknowledged == {}, f"unacknowledged Control Tower findings in {stack}"
    assert tc.stale == [] and tc.unreasoned == []
    assert tc.failed == 0 and tc.passed == len(tc.applicable) - len(tc.acknowledged)


@pytest.mark.e2e
@pytest.mark.parametrize("stack", sorted(EXPECTED_ACKNOWLEDGEMENTS))
def test_acknowledged_controls_still_fail_without_their_acknowledgement(results, stack: str) -> None:
    """cfn-guard ignores the metadata: what it reports failing is exactly what is acknowledged, no more, no less."""
    tc = results[stack]
    failing = {control: _paths(tc, lids) for control, lids in tc.failing.items()}
    assert failing == EXPECTED_ACKNOWLEDGEMENTS[stack]
    acknowledged = {control: _paths(tc, by_resource) for control, by_resource in tc.acknowledged.items()}
    assert acknowledged == EXPECTED_ACKNOWLEDGEMENTS[stack]


@pytest.mark.e2e
def test_default_template_satisfies_the_eks_and_kms_controls(results) -> None:
    tc = results["EksEnvelope"]
    passed = tc.applicable - set(tc.failing)
    assert {"CT.EKS.PR.1", "CT.EKS.PR.2", "CT.KMS.PR.1", "CT.LAMBDA.PR.3", "CT.CLOUDWATCH.PR.2",
            "CT.CLOUDWATCH.PR.3"} <= passed


@pytest.mark.e2e
def test_a_stale_acknowledgement_fails_the_scan(tmp_path) -> None:
    """An acknowledgement on a resource where the control passes is reported, not silently kept."""
    (stack,) = [s for s in synth_bundled_app().stacks]
    template = json.loads(Path(stack.template_full_path).read_text())
    logs_key = next(lid for lid in template["Resources"] if lid.startswith("ClusterLogsKey"))
    template["Resources"][logs_key]["Metadata"]["guard"] = {
        "SuppressedRules": ["CT.KMS.PR.3"], "Reasons": {"CT.KMS.PR.3": "a reason long enough to be a reason"}}
    path = tmp_path / "Stale.template.json"
    path.write_text(json.dumps(template))
    outcome = scan.summarise_control_tower(scan.run_control_tower([path], SCAN_BIN), [path], "test")
    assert outcome.failed
    assert any(d.startswith(f"STALE ACKNOWLEDGEMENT CT.KMS.PR.3 on {logs_key}") for d in outcome.details)


def test_only_rule_files_that_can_apply_are_run(tmp_path) -> None:
    for name, body in {"eks.guard": "let T = 'AWS::EKS::Cluster'", "s3.guard": "Resources.*[ Type == 'AWS::S3::Bucket' ]",
                       "sub/both.guard": "# AWS::S3::Bucket or AWS::KMS::Key", "any.guard": "rule r { Resources !empty }"}.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(body)
    kept = scan.rule_files_that_can_apply(tmp_path, {"AWS::EKS::Cluster", "AWS::KMS::Key"})
    assert sorted(f.relative_to(tmp_path).as_posix() for f in kept) == ["any.guard", "eks.guard", "sub/both.guard"]


@pytest.mark.e2e
def test_leaving_out_rules_that_cannot_apply_changes_no_result() -> None:
    """The filtered run against cfn-guard over every one of the 237 rule files (small templates: cheap)."""
    templates = _templates(consumer_example_assembly())
    ct = scan.control_tower_rules(SCAN_BIN.parent)
    every_rule = scan._run([str(ct.guard), "validate", "--rules", str(ct.rules), *[a for t in templates for a in ("--data", str(t))],
                            "--output-format", "json", "--show-summary", "none", "--structured"], dict(NO_COLOR="1"))
    raw_every = {**scan.run_control_tower(templates, SCAN_BIN), "results": json.loads(every_rule.stdout)}
    filtered = scan.run_control_tower(templates, SCAN_BIN)
    assert len(scan.rule_files_that_can_apply(ct.rules, scan.resource_types(templates))) < len(list(ct.rules.rglob("*.guard"))) / 3
    assert [vars(tc) for tc in scan.control_tower_results(filtered, templates)] == \
        [vars(tc) for tc in scan.control_tower_results(raw_every, templates)]


@pytest.mark.e2e
def test_careless_clusters_are_flagged_by_the_eks_controls(tmp_path) -> None:
    app = new_app()
    stacks = build_careless_app(app)
    assembly = app.synth()
    templates = [Path(assembly.get_stack_by_name(s.stack_name).template_full_path) for s in stacks]
    raw = scan.run_control_tower(templates, SCAN_BIN)
    failing = {tc.template.name.split(".")[0]: set(tc.failing) for tc in scan.control_tower_results(raw, templates)}
    assert {"CT.EKS.PR.1", "CT.KMS.PR.1"} <= failing["CarelessKeyNoRotation"]
    assert "CT.EKS.PR.2" not in failing["CarelessKeyNoRotation"]
    assert {"CT.EKS.PR.1", "CT.EKS.PR.2"} <= failing["CarelessNoCmk"]
    outcome = scan.summarise_control_tower(raw, templates, "test")
    assert outcome.failed and any(d.startswith("FAILED CT.EKS.PR.1") for d in outcome.details)


# --------------------------------------------------------------------------- selection


def test_control_tower_is_a_pack_selected_like_the_others() -> None:
    assert scan.CONTROL_TOWER_PACK in COMPLIANCE_PACKS and SCAN_PACKS == (scan.CONTROL_TOWER_PACK,)
    assert settings_from_context({"compliance_packs": "ControlTower"}).compliance_packs == ("ControlTower",)
    # Not a cdk-nag pack: nothing registers at synth for it.
    assert selected(["AwsSolutions", "ControlTower"]).keys() == {"AwsSolutions"}


@pytest.mark.parametrize(("packs", "runs"), [(["all"], True), (["AwsSolutions"], False), (["none"], False)])
def test_scan_runs_the_controls_only_when_selected(tmp_path, packs, runs) -> None:
    assert scan.PACK_SELECTION_FILE == PACK_SELECTION_FILE
    record_selection(settings_from_context({"compliance_packs": packs}).compliance_packs, str(tmp_path))
    assert scan.control_tower_selected(tmp_path) is runs


def test_an_assembly_that_says_nothing_is_scanned(tmp_path) -> None:
    assert scan.control_tower_selected(tmp_path)
