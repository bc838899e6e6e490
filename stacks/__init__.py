"""The bundled app's side: its stack, settings from context, pack registry and `make synth`'s report.

Nothing here ships in the ``eks_envelope`` wheel, and the library imports nothing from here.
Stdlib only at this level, so the Makefile's readers and ``bench/`` can take the names below cheaply.
"""

#: Set to ``1`` (as `make synth` does): app.py also writes cdk.out/compliance-report.md and prints a
#: table per pack. The one definition: the Makefile and bench/run_bench.py read it from here.
REPORT_ENV = "EKS_ENVELOPE_COMPLIANCE_REPORT"
