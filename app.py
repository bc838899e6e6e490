#!/usr/bin/env python3
"""CDK app: settings from context -> one stack -> compliance packs through Validations.

Run by the aws-cdk CLI (`make synth`, `make deploy`), or directly as `python app.py`: then it reads
cdk.json's context (feature flags included) and cdk.context.json as the CLI would, writes cdk.out/ and
prints what `make synth` prints (README, Two commands, says how the two outputs differ).
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
_VENV_PYTHON = HERE / ".venv" / "bin" / "python"
# cdk.json runs `python3 app.py`: hand over to the project's pinned virtualenv when it exists.
if _VENV_PYTHON.exists() and Path(sys.prefix).resolve() != _VENV_PYTHON.parent.parent.resolve():
    os.execv(str(_VENV_PYTHON), [str(_VENV_PYTHON), str(Path(__file__).resolve()), *sys.argv[1:]])
# constructs/ is a source root (never a package: it would shadow PyPI `constructs`).
sys.path.insert(0, str(HERE / "constructs"))
# Node 24 from package.json before jsii starts: on an end-of-life Node jsii prints a banner.
if (HERE / "node_modules" / ".bin").is_dir():
    os.environ["PATH"] = f"{HERE / 'node_modules' / '.bin'}{os.pathsep}{os.environ.get('PATH', '')}"

try:
    import aws_cdk as cdk
except ImportError:
    sys.exit(f"eks-envelope: aws-cdk-lib is not installed for {sys.executable}: run `make synth` first "
             "(it creates .venv from the pinned requirements; every make target does)")

from eks_envelope.acknowledgements import held_acknowledgements  # noqa: E402
from eks_envelope.validation import EnvelopeConfigError, Problems  # noqa: E402
from stacks import REPORT_ENV  # noqa: E402
from stacks.compliance_packs import record_selection, register_packs, selected  # noqa: E402
from stacks.envelope_stack import EnvelopeEksStack  # noqa: E402
from stacks.guardrail_stack import ACCOUNT_GUARDRAIL_STACK, ORG_GUARDRAIL_STACK, GuardrailStack  # noqa: E402
from stacks.settings import ContextProblem, as_context_problems, settings_from_context  # noqa: E402

#: What the aws-cdk CLI adds to every synth (read from CDK_CONTEXT_JSON of a real `cdk synth`).
#: Its "@aws-cdk/core:failSynthOnValidationErrors": false is left out: the CLI reports validation
#: errors itself, while an app run without it must raise on them.
CLI_CONTEXT: dict[str, Any] = {
    "aws:cdk:enable-path-metadata": True,
    "aws:cdk:enable-asset-metadata": True,
    "aws:cdk:version-reporting": True,
    "aws:cdk:bundling-stacks": ["**"],
}


class _Refused(Exception):
    """A problem the user fixes (configuration, compliance finding): one message, no traceback."""


def build_app(app: cdk.App, *, with_packs: bool = True) -> cdk.App:
    """Raises EnvelopeConfigError listing every bad context value and construct prop at once."""
    problems = Problems()
    settings = settings_from_context(app.node.get_all_context(), problems)
    try:
        EnvelopeEksStack(app, settings.stack_name, settings=settings)
    except EnvelopeConfigError as err:
        problems.items.extend(as_context_problems(err.problems))
    # Optional: a Config rule over every cluster of the account or organization (docs/guardrail.md).
    for context_key, name, organization in (("account_guardrail_key_arns", ACCOUNT_GUARDRAIL_STACK, False),
                                            ("org_guardrail_key_arns", ORG_GUARDRAIL_STACK, True)):
        key_arns = getattr(settings, context_key)
        if key_arns:
            try:
                GuardrailStack(app, name, key_arns=key_arns, organization=organization)
            except EnvelopeConfigError as err:
                problems.items.extend(ContextProblem(context_key, p.value, p.fix) for p in err.problems)
    problems.raise_if_any()
    if with_packs:
        register_packs(app, settings.compliance_packs)
    return app


def _standalone_context() -> dict[str, Any]:
    """The context `cdk synth` would pass: cdk.json's, then cdk.context.json's, then the CLI's own."""
    context: dict[str, Any] = {}
    for name, pick in (("cdk.json", lambda d: d.get("context", {})), ("cdk.context.json", lambda d: d)):
        path = HERE / name
        if path.is_file():
            try:
                context.update(pick(json.loads(path.read_text())))
            except json.JSONDecodeError as err:
                raise _Refused(f"{name} is not valid JSON (line {err.lineno}, column {err.colno}): {err.msg}") from None
    return {**context, **CLI_CONTEXT}


#: aws-cdk-lib's built-in CloudFormation validation (a WASM engine, about half of every synth) checks the
#: resource schemas that cfn-lint checks in `make test` too. Off by default here; CDK_VALIDATION=true (what
#: `make test` sets for its synth) turns it on; the CLI's `--no-validation` sets CDK_VALIDATION=false.
VALIDATION_ENV = "CDK_VALIDATION"


def builtin_validation() -> bool:
    return os.environ.get(VALIDATION_ENV, "").strip().lower() == "true"


def _new_app() -> tuple[cdk.App, bool]:
    """The app as the CLI runs it (CDK_OUTDIR set), else as `cdk synth` would: cdk.json context, cdk.out/."""
    validate = builtin_validation()
    if os.environ.get("CDK_OUTDIR"):
        return cdk.App(builtin_cloud_formation_validation=validate), False
    return cdk.App(context=_standalone_context(), outdir=str(HERE / "cdk.out"),
                   builtin_cloud_formation_validation=validate), True


def _synth(app: cdk.App) -> cdk.cx_api.CloudAssembly:
    try:
        return app.synth()
    except RuntimeError as err:  # jsii surfaces the validation plugins' failure as a RuntimeError
        first = str(err).strip().splitlines()[0] if str(err).strip() else err.__class__.__name__
        if "Validation failed" in str(err) or "validation" in first.lower():
            raise _Refused(
                "compliance findings failed the synth: run `make synth` for the per-pack report "
                f"({os.path.relpath(HERE / 'cdk.out' / 'validation-report.json')} lists them)"
            ) from None
        raise


def synth_app(app: cdk.App, *, report: bool = False) -> tuple[cdk.cx_api.CloudAssembly, tuple[str, Path] | None]:
    """Build the app, synthesize it once, record the pack selection; with ``report``, also write
    compliance-report.md into the assembly and return (console table, its path).

    The report counts what each pack finds before acknowledgement on this same build: the
    acknowledgements are held back while the packs count, then released before the synth.
    """
    from stacks.compliance_report import findings_before_acknowledgement, write_report

    with held_acknowledgements():
        build_app(app)
        settings = settings_from_context(app.node.get_all_context())
        packs = selected(settings.compliance_packs) if report else {}
        findings = findings_before_acknowledgement(app, packs)
    assembly = _synth(app)
    record_selection(settings.compliance_packs, assembly.directory)
    return assembly, write_report(packs, findings, Path(assembly.directory)) if report else None


def main() -> None:
    try:
        app, standalone = _new_app()
        try:
            # Standalone, it is `make synth` without make: the compliance report too.
            assembly, report = synth_app(app, report=standalone or os.environ.get(REPORT_ENV) == "1")
        except EnvelopeConfigError as err:
            # A configuration mistake, not a crash: the message names field, value and fix.
            raise _Refused(str(err)) from None
    except _Refused as err:
        sys.exit(f"eks-envelope: {err}")
    if report:
        table, path = report
        print(f"{table}\nreport: {os.path.relpath(path)}", file=sys.stderr)
    if standalone:
        print(f"templates written to {os.path.relpath(assembly.directory)}/", file=sys.stderr)


if __name__ == "__main__":
    main()
