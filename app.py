#!/usr/bin/env python3
"""CDK app: settings from context -> one stack -> compliance packs through Validations."""
from __future__ import annotations

import os
import sys
from pathlib import Path

# constructs/ is a source root (never a package: it would shadow PyPI `constructs`).
sys.path.insert(0, str(Path(__file__).resolve().parent / "constructs"))

import aws_cdk as cdk  # noqa: E402
from eks_envelope.compliance_packs import register_packs  # noqa: E402
from eks_envelope.compliance_report import write_report  # noqa: E402
from eks_envelope.settings import settings_from_context  # noqa: E402
from stacks.envelope_stack import EnvelopeEksStack  # noqa: E402

#: Set by `make synth`: record every rule evaluation and write cdk.out/compliance-report.md.
REPORT_ENV = "EKS_ENVELOPE_COMPLIANCE_REPORT"


def build_app(app: cdk.App, *, record: bool = False) -> cdk.App:
    settings = settings_from_context(app.node.get_all_context())
    EnvelopeEksStack(app, settings.stack_name, settings=settings)
    app.compliance_packs = register_packs(app, settings.compliance_packs, record=record)  # type: ignore[attr-defined]
    return app


def main() -> None:
    record = os.environ.get(REPORT_ENV) == "1"
    app = build_app(cdk.App(), record=record)
    assembly = app.synth()
    if record:
        table, path = write_report(app.compliance_packs, Path(assembly.directory))  # type: ignore[attr-defined]
        print(f"{table}\nreport: {os.path.relpath(path)}", file=sys.stderr)


if __name__ == "__main__":
    main()
