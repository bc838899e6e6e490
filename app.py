#!/usr/bin/env python3
"""CDK app: settings from context -> one stack -> compliance packs through Validations."""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

# constructs/ is a source root (never a package: it would shadow PyPI `constructs`).
sys.path.insert(0, str(Path(__file__).resolve().parent / "constructs"))

import aws_cdk as cdk  # noqa: E402
from eks_envelope.compliance_packs import record_selection, register_packs, selected  # noqa: E402
from eks_envelope.compliance_report import write_report  # noqa: E402
from eks_envelope.nag import IGNORE_ACKNOWLEDGEMENTS  # noqa: E402
from eks_envelope.settings import settings_from_context  # noqa: E402
from eks_envelope.validation import EnvelopeConfigError, Problems  # noqa: E402
from stacks.envelope_stack import EnvelopeEksStack  # noqa: E402

#: Set by `make synth`: also write cdk.out/compliance-report.md and print a table per pack.
REPORT_ENV = "EKS_ENVELOPE_COMPLIANCE_REPORT"


def build_app(app: cdk.App, *, with_packs: bool = True) -> cdk.App:
    """Raises EnvelopeConfigError listing every bad context value and construct prop at once."""
    problems = Problems()
    settings = settings_from_context(app.node.get_all_context(), problems)
    try:
        EnvelopeEksStack(app, settings.stack_name, settings=settings)
    except EnvelopeConfigError as err:
        problems.items.extend(err.problems)
    problems.raise_if_any()
    if with_packs:
        register_packs(app, settings.compliance_packs)
    return app


def main() -> None:
    try:
        app = build_app(cdk.App())
    except EnvelopeConfigError as err:
        # A configuration mistake, not a crash: the message names field, value and fix.
        sys.exit(f"eks-envelope: {err}")
    assembly = app.synth()
    settings = settings_from_context(app.node.get_all_context())
    record_selection(settings.compliance_packs, assembly.directory)
    if os.environ.get(REPORT_ENV) == "1":
        packs = selected(settings.compliance_packs)
        table, path = write_report(
            packs,
            lambda: build_app(
                cdk.App(context={IGNORE_ACKNOWLEDGEMENTS: True}, outdir=tempfile.mkdtemp(prefix="cdk-unacked-")),
                with_packs=False,
            ),
            Path(assembly.directory),
        )
        print(f"{table}\nreport: {os.path.relpath(path)}", file=sys.stderr)


if __name__ == "__main__":
    main()
