"""examples/pipeline: the envelope stack rolled out in waves with CDK Pipelines, an audit after every wave.

One synth (module-scoped) of the example with its committed test targets: offline, no lookups (explicit
availability zones per target). The stage templates go through the same scans as the single stack: the
cdk-nag packs at synth (registered on every stage), then checkov, cfn-lint and the Control Tower controls
(scripts/scan.py, in .venv-scan) on the stage templates. The example is an application of its own, synthesized
as its CLI would: its tests are end-to-end (``e2e``), the targets' validation apart.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO

EXAMPLE = REPO / "examples" / "pipeline"
SCAN_PY = REPO / ".venv-scan" / "bin" / "python"


def _pipeline_app():
    if str(EXAMPLE) not in sys.path:
        sys.path.insert(0, str(EXAMPLE))
    import pipeline_app

    return pipeline_app


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory):
    import aws_cdk as cdk

    from app import CLI_CONTEXT

    pa = _pipeline_app()
    # as the CLI in examples/pipeline reads them: cdk.json, cdk.context.json (the zones of the test targets), its own keys
    context = pa.context({**json.loads((EXAMPLE / "cdk.json").read_text())["context"],
                          **json.loads((EXAMPLE / "cdk.context.json").read_text()), **CLI_CONTEXT})
    out = tmp_path_factory.mktemp("pipeline") / "cdk.out"
    app = cdk.App(context=context, outdir=str(out))
    stack = pa.build(app)
    assembly = app.synth()
    pa.record_selection(pa.settings_of(app).compliance_packs, assembly.directory)
    pipeline = json.loads((out / "EksEnvelopeFleetPipeline.template.json").read_text())
    return pa, stack, out, pipeline


def _stages(pipeline: dict) -> dict[str, list[dict]]:
    (resource,) = [r for r in pipeline["Resources"].values() if r["Type"] == "AWS::CodePipeline::Pipeline"]
    return {s["Name"]: s["Actions"] for s in resource["Properties"]["Stages"]}


@pytest.mark.e2e
def test_waves_deploy_every_target_then_audit_it(synthesized) -> None:
    _pa, _stack, out, pipeline = synthesized
    assert "missing" not in json.loads((out / "manifest.json").read_text())  # no context lookup was needed
    stages = _stages(pipeline)
    assert list(stages)[:3] == ["Source", "Build", "UpdatePipeline"]
    # a one-target wave is one pipeline stage named after its target; the others carry the wave's name
    canary, fleet = stages["Target-222222222222-eu-west-1"], stages["fleet"]
    assert [(a["Name"], a["RunOrder"]) for a in canary] == [("EksEnvelope.Prepare", 1), ("EksEnvelope.Deploy", 2), ("Audit-canary", 3)]
    deploys = {a["Name"] for a in fleet if a["Name"].endswith(".Deploy")}
    assert deploys == {"Target-333333333333-eu-west-1.EksEnvelope.Deploy", "Target-333333333333-us-east-1.EksEnvelope.Deploy",
                       "Target-444444444444-eu-central-1.EksEnvelope.Deploy"}
    # the audit runs only after every deploy of its wave (a failed deploy fails the stage: no audit, no next wave)
    audit = [a for a in fleet if a["Name"] == "Audit-fleet"]
    assert audit and audit[0]["RunOrder"] > max(a["RunOrder"] for a in fleet if a["Name"].endswith(".Deploy"))
    assert list(stages).index("fleet") > list(stages).index("Target-222222222222-eu-west-1")
    # every deploy runs as the target account's bootstrap deploy role, in the target's region
    for action in fleet:
        if action["Name"].endswith(".Deploy"):
            account = action["Name"].split("-")[1]
            assert f"cdk-hnb659fds-deploy-role-{account}-" in json.dumps(action["RoleArn"])


@pytest.mark.e2e
def test_audit_step_runs_the_installed_command_over_the_waves_targets(synthesized) -> None:
    _pa, _stack, _out, pipeline = synthesized
    specs = {lid: json.loads(r["Properties"]["Source"]["BuildSpec"]) for lid, r in pipeline["Resources"].items()
             if r["Type"] == "AWS::CodeBuild::Project" and "Audit" in lid}
    commands = sorted(c for spec in specs.values() for c in spec["phases"]["build"]["commands"])
    assert commands == [
        "eks-envelope audit --accounts 222222222222 --regions eu-west-1 --role-name cdk-hnb659fds-lookup-role-222222222222-eu-west-1 --json audit-canary-222222222222.json",
        "eks-envelope audit --accounts 333333333333 --regions eu-west-1,us-east-1 --role-name cdk-hnb659fds-lookup-role-333333333333-eu-west-1 --json audit-fleet-333333333333.json",
        "eks-envelope audit --accounts 444444444444 --regions eu-central-1 --role-name cdk-hnb659fds-lookup-role-444444444444-eu-central-1 --json audit-fleet-444444444444.json",
    ]
    assert all(spec["phases"]["install"]["commands"] == ["pip install '.[verify]'"] for spec in specs.values())
    # the audit's CodeBuild role may assume exactly the lookup roles of the wave's accounts
    assumed = json.dumps([r for r in pipeline["Resources"].values() if r["Type"] == "AWS::IAM::Policy"])
    for account in ("222222222222", "333333333333", "444444444444"):
        assert f":iam::{account}:role/cdk-hnb659fds-lookup-role-{account}-*" in assumed


@pytest.mark.e2e
def test_every_stage_is_the_verified_envelope_stack_with_the_apps_packs(synthesized) -> None:
    _pa, stack, out, _pipeline = synthesized
    assert [s.stack.stack_name for s in stack.stages] == ["Target-222222222222-eu-west-1-EksEnvelope"] + [
        f"Target-{t}-EksEnvelope" for t in ("333333333333-eu-west-1", "333333333333-us-east-1", "444444444444-eu-central-1")]
    for stage in stack.stages:
        (template_path,) = (out / f"assembly-EksEnvelopeFleetPipeline-{stage.node.id}").glob("*.template.json")
        template = json.loads(template_path.read_text())
        resources = template["Resources"].values()
        # the gate: the verifier custom resource whose failure fails this stack's deploy
        assert sum(r["Type"] == "Custom::EnvelopeEncryptionVerification" for r in resources) == 1
        cluster = next(r for r in resources if r["Type"] == "AWS::EKS::Cluster")
        key = next(lid for lid, r in template["Resources"].items() if r["Type"] == "AWS::KMS::Key")
        assert cluster["Properties"]["EncryptionConfig"][0]["Provider"]["KeyArn"] == {"Fn::GetAtt": [key, "Arn"]}
        # explicit zones per target: no lookup at synth
        zones = {t.stage_id: set(t.availability_zones) for w in _pipeline_waves(_pipeline_app()) for t in w.targets}
        assert {r["Properties"]["AvailabilityZone"] for r in resources if r["Type"] == "AWS::EC2::Subnet"} == zones[stage.node.id]
        # cdk-nag ran on the stage (suppressions written into the template metadata): the app's packs
        assert "rules_to_suppress" in template_path.read_text()


def _pipeline_waves(pa):
    return pa.waves_from_context(json.loads((EXAMPLE / "cdk.json").read_text())["context"]["pipeline:waves"])


@pytest.mark.e2e
def test_stage_templates_pass_the_same_scans_as_the_single_stack(synthesized, tmp_path: Path) -> None:
    _pa, _stack, out, _pipeline = synthesized
    if not SCAN_PY.exists():
        pytest.skip("the scanners' virtualenv is missing: `make scan-deps` (make test builds it first)")
    stages = tmp_path / "stages"
    for assembly in out.glob("assembly-*"):
        (stages / assembly.name).mkdir(parents=True)
        for template in assembly.glob("*.template.json"):
            shutil.copy(template, stages / assembly.name / template.name)
    shutil.copy(out / "compliance-packs.json", stages / "compliance-packs.json")  # the Control Tower pack is selected
    run = subprocess.run([str(SCAN_PY), str(REPO / "scripts" / "scan.py"), str(stages), "--report-dir", str(tmp_path / "reports")],
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "on 4 templates" in run.stdout and "control-tower" in run.stdout


def test_fails_on_bad_targets_with_every_problem_named() -> None:
    pa = _pipeline_app()
    with pytest.raises(pa.PipelineConfigError) as err:
        pa.waves_from_context([
            {"name": "1st", "targets": [{"account": "12", "region": "eu-west-1", "availability_zones": ["eu-west-1a"]}]},
            {"name": "ok", "targets": [{"account": "222222222222", "region": "moon", "availability_zones": ["moon-a", "moon-b"]},
                                       {"account": "222222222222", "region": "moon", "availability_zones": ["moon-a", "moon-b"]}]},
        ])
    text = str(err.value)
    assert "pipeline:waves[0].name is '1st'" in text
    assert "pipeline:waves[0].targets[0].account is '12': expected a 12-digit account id" in text
    assert "pipeline:waves[0].targets[0].availability_zones is ['eu-west-1a']: expected at least two zones" in text
    assert "pipeline:waves[1].targets[0].region is 'moon'" in text and "pipeline:waves[1].targets[1] repeats 222222222222/moon" in text
    with pytest.raises(pa.PipelineConfigError, match="expected a non-empty list"):
        pa.waves_from_context(None)
