#!/usr/bin/env python3
"""Roll the envelope stack out to many accounts and regions in waves, with CDK Pipelines (docs/fleet.md).

One pipeline stack in the pipeline account; per target (account, region) one stage holding the bundled
app's ``EnvelopeEksStack`` with the same settings and compliance packs as ``make synth``. Each stage's deploy
is gated by the stack's own verifier custom resource: when verification fails, CloudFormation fails (and rolls
back) that stack, the stage's deploy action fails and the pipeline stops before the next wave. After every wave,
a CodeBuild step runs ``eks-envelope audit`` over the wave's targets through the CDK bootstrap lookup role the
``cdk bootstrap --trust`` set-up lets the pipeline account assume.

Context (``examples/pipeline/cdk.json``; keys with ``:`` so the app's own settings check leaves them alone):
``pipeline:waves`` [{"name", "targets": [{"account", "region", "availability_zones"}]}], ``pipeline:account``,
``pipeline:region``, ``pipeline:repository`` (owner/name), ``pipeline:branch``, ``pipeline:connection_arn``
(CodeStar connection), ``pipeline:bootstrap_qualifier``. Every other key is the app's (README, Configuration),
over the repository's cdk.json (feature flags included).
"""
from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
for path in (str(REPO), str(REPO / "constructs")):
    if path not in sys.path:
        sys.path.insert(0, path)

import aws_cdk as cdk  # noqa: E402
from aws_cdk import aws_codebuild as codebuild  # noqa: E402
from aws_cdk import aws_iam as iam  # noqa: E402
from aws_cdk import pipelines  # noqa: E402
from constructs import Construct  # noqa: E402

from stacks.compliance_packs import record_selection, register_packs  # noqa: E402
from stacks.envelope_stack import EnvelopeEksStack  # noqa: E402
from stacks.settings import AppSettings, settings_from_context  # noqa: E402

_ACCOUNT = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,63}$")
DEFAULT_QUALIFIER = "hnb659fds"  # the CDK bootstrap default
STACK_NAME = "EksEnvelope"


@dataclass(frozen=True)
class Target:
    account: str
    region: str
    #: Explicit zones: an env-specific stack would otherwise look them up (credentials needed at synth).
    availability_zones: tuple[str, ...]

    @property
    def stage_id(self) -> str:
        return f"Target-{self.account}-{self.region}"


@dataclass(frozen=True)
class Wave:
    name: str
    targets: tuple[Target, ...]


class PipelineConfigError(ValueError):
    """Every problem of the pipeline context at once: field, value received, what is expected."""


def waves_from_context(value: Any) -> list[Wave]:
    problems: list[str] = []
    waves: list[Wave] = []
    seen: set[tuple[str, str]] = set()
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            value = None
    if not isinstance(value, list) or not value:
        raise PipelineConfigError(f"pipeline:waves is {value!r}: expected a non-empty list of "
                                  '{"name": ..., "targets": [{"account", "region", "availability_zones"}]}')
    for i, wave in enumerate(value):
        where = f"pipeline:waves[{i}]"
        name = wave.get("name") if isinstance(wave, dict) else None
        if not isinstance(name, str) or not _NAME.match(name):
            problems.append(f"{where}.name is {name!r}: expected letters, digits and '-', starting with a letter")
        targets: list[Target] = []
        raw_targets = wave.get("targets") if isinstance(wave, dict) else None
        if not isinstance(raw_targets, list) or not raw_targets:
            problems.append(f"{where}.targets is {raw_targets!r}: expected a non-empty list")
            raw_targets = []
        for j, t in enumerate(raw_targets):
            at = f"{where}.targets[{j}]"
            t = t if isinstance(t, dict) else {}
            account, region, zones = str(t.get("account", "")), str(t.get("region", "")), t.get("availability_zones")
            if not _ACCOUNT.match(account):
                problems.append(f"{at}.account is {t.get('account')!r}: expected a 12-digit account id")
            if not _REGION.match(region):
                problems.append(f"{at}.region is {t.get('region')!r}: expected a region name such as eu-west-1")
            if not isinstance(zones, list) or len(zones) < 2 or not all(isinstance(z, str) and z.startswith(region) for z in zones):
                problems.append(f"{at}.availability_zones is {zones!r}: expected at least two zones of {region or 'the region'} "
                                "(EKS needs two; explicit zones spare the synth a lookup)")
                zones = []
            if (account, region) in seen:
                problems.append(f"{at} repeats {account}/{region}: each target is deployed once")
            seen.add((account, region))
            targets.append(Target(account, region, tuple(zones or ())))
        waves.append(Wave(str(name), tuple(targets)))
    if problems:
        raise PipelineConfigError("pipeline context:\n  " + "\n  ".join(problems))
    return waves


class EnvelopeStage(cdk.Stage):
    """One target: the bundled app's stack, its compliance packs registered on this stage."""

    def __init__(self, scope: Construct, construct_id: str, *, target: Target, settings: AppSettings) -> None:
        super().__init__(scope, construct_id, env=cdk.Environment(account=target.account, region=target.region))
        self.stack = EnvelopeEksStack(self, STACK_NAME, settings=replace(settings, availability_zones=target.availability_zones))
        register_packs(self, settings.compliance_packs)


def audit_commands(wave: Wave, qualifier: str) -> list[str]:
    """One `eks-envelope audit` per account of the wave (the lookup role's name carries a region); any failure fails the step."""
    regions: dict[str, list[str]] = {}
    for t in wave.targets:
        regions.setdefault(t.account, []).append(t.region)
    return [f"eks-envelope audit --accounts {account} --regions {','.join(rs)} "
            f"--role-name cdk-{qualifier}-lookup-role-{account}-{rs[0]} --json audit-{wave.name}-{account}.json"
            for account, rs in regions.items()]


class FleetPipelineStack(cdk.Stack):
    """The pipeline account's stack: source, synth, one wave per entry, a post-wave audit."""

    def __init__(self, scope: Construct, construct_id: str, *, waves: list[Wave], settings: AppSettings, repository: str,
                 branch: str, connection_arn: str, qualifier: str = DEFAULT_QUALIFIER, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        source = pipelines.CodePipelineSource.connection(repository, branch, connection_arn=connection_arn)
        synth = pipelines.ShellStep(
            "Synth", input=source,
            install_commands=["npm ci --no-audit --no-fund", "pip install -r requirements.txt"],
            commands=["cd examples/pipeline && npx cdk synth --quiet"],
            primary_output_directory="examples/pipeline/cdk.out",
        )
        self.pipeline = pipelines.CodePipeline(
            self, "Pipeline", synth=synth,
            cross_account_keys=True,  # stages in other accounts read the artifacts through a KMS key...
            enable_key_rotation=True,  # ...that rotates
            code_build_defaults=pipelines.CodeBuildOptions(
                build_environment=codebuild.BuildEnvironment(build_image=codebuild.LinuxBuildImage.STANDARD_7_0)),
        )
        self.stages: list[EnvelopeStage] = []
        for wave in waves:
            cdk_wave = self.pipeline.add_wave(wave.name)
            for target in wave.targets:
                stage = EnvelopeStage(self, target.stage_id, target=target, settings=settings)
                cdk_wave.add_stage(stage)
                self.stages.append(stage)
            lookup_roles = sorted({f"arn:{cdk.Aws.PARTITION}:iam::{t.account}:role/cdk-{qualifier}-lookup-role-{t.account}-*"
                                   for t in wave.targets})
            cdk_wave.add_post(pipelines.CodeBuildStep(
                f"Audit-{wave.name}", input=source,
                install_commands=["pip install '.[verify]'"],
                commands=audit_commands(wave, qualifier),
                role_policy_statements=[iam.PolicyStatement(actions=["sts:AssumeRole"], resources=lookup_roles)],
                primary_output_directory=".",
            ))


def context(app_context: Mapping[str, Any]) -> dict[str, Any]:
    """The repository's cdk.json context (feature flags, defaults) under the app's own."""
    root = json.loads((REPO / "cdk.json").read_text()).get("context", {})
    return {**root, **app_context}


def settings_of(app: cdk.App) -> AppSettings:
    """The app's settings (README, Configuration) from every context key that is not the pipeline's."""
    return settings_from_context({k: v for k, v in app.node.get_all_context().items() if not k.startswith("pipeline:")})


def build(app: cdk.App) -> FleetPipelineStack:
    ctx = app.node.get_all_context()
    settings = settings_of(app)
    waves = waves_from_context(ctx.get("pipeline:waves"))
    account, region = str(ctx.get("pipeline:account", "")), str(ctx.get("pipeline:region", ""))
    if not _ACCOUNT.match(account) or not _REGION.match(region):
        raise PipelineConfigError(f"pipeline:account/pipeline:region are {account!r}/{region!r}: expected the pipeline "
                                  "account's 12-digit id and its region")
    return FleetPipelineStack(
        app, "EksEnvelopeFleetPipeline", waves=waves, settings=settings,
        repository=str(ctx.get("pipeline:repository", "")), branch=str(ctx.get("pipeline:branch", "main")),
        connection_arn=str(ctx.get("pipeline:connection_arn", "")),
        qualifier=str(ctx.get("pipeline:bootstrap_qualifier", DEFAULT_QUALIFIER)),
        env=cdk.Environment(account=account, region=region),
    )


def main() -> None:
    # Defaults from the repository's cdk.json; the CLI's context (this folder's cdk.json, -c) overrides them.
    root = json.loads((REPO / "cdk.json").read_text()).get("context", {})
    app = cdk.App(context=root)
    try:
        build(app)
    except PipelineConfigError as err:
        sys.exit(f"pipeline_app: {err}")
    assembly = app.synth()
    # `scripts/scan.py` runs the scan-time packs (Control Tower) the app selected, as for the single stack.
    record_selection(settings_of(app).compliance_packs, assembly.directory)


if __name__ == "__main__":
    if os.environ.get("CDK_OUTDIR") is None:
        sys.exit("pipeline_app: run through the CLI (cd examples/pipeline && npx cdk synth) or build(app) from a test")
    main()
