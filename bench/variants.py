"""What `make bench` measures: the synth variants, the knobs, and one synth's record. Shared by the
measuring (run_bench.py) and the rendering of results.md (report.py)."""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
from stacks import REPORT_ENV  # noqa: E402  (stdlib-only package root: the one definition of the name)

BENCH = REPO / "bench"
PY = str(REPO / ".venv" / "bin" / "python")
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
PROFILE_RUNS = int(os.environ.get("BENCH_PROFILE_RUNS", "3"))
PACK_RUNS = int(os.environ.get("BENCH_PACK_RUNS", "2"))
#: What the aws-cdk CLI (2.1148.1) adds to cdk.json's context in CDK_CONTEXT_JSON (read from a real `cdk synth`).
CLI_CONTEXT = {
    "aws:cdk:enable-path-metadata": True,
    "aws:cdk:enable-asset-metadata": True,
    "aws:cdk:version-reporting": True,
    "aws:cdk:bundling-stacks": ["**"],
    "@aws-cdk/core:failSynthOnValidationErrors": False,
}


@dataclass
class Variant:
    key: str
    label: str
    script: str
    context: dict = field(default_factory=dict)  # overrides of cdk.json context
    env: dict = field(default_factory=dict)  # extra environment variables


VARIANTS = [
    Variant("full", "full app (`app.py`, all packs)", "app.py"),
    Variant("v2", "baseline (a): bare `aws_eks_v2` + key + Fargate profile", "bench/baseline_eks_v2.py"),
    Variant("v1", "baseline (b): `aws_eks` v1 `FargateCluster` + kubectl v1.36 layer", "bench/baseline_eks_v1.py"),
    # profiling variants (not targets): what the packs and the default-rules validation cost
    Variant("nopacks", "full app, `compliance_packs=none`", "app.py", {"compliance_packs": ["none"]}),
    # aws-cdk-lib's built-in CloudFormation validation: off in app.py unless CDK_VALIDATION=true (make test's synth).
    Variant("val", "full app, built-in CloudFormation validation on (`CDK_VALIDATION=true`, as `make test`'s synth)",
            "app.py", env={"CDK_VALIDATION": "true"}),
    Variant("report", f"full app as `make synth` runs it (`{REPORT_ENV}=1`: per-rule tally + report)",
            "app.py", env={REPORT_ENV: "1"}),
]


@dataclass
class Run:
    variant: str
    wall: float
    cpu: float  # user+sys of python and every descendant it reaped (jsii's node processes)
    peak_tree_rss: int  # max over samples of the summed RSS of the process tree
    maxrss: int  # ru_maxrss from wait4: the largest single process (kB -> bytes)
    max_procs: int
    outdir: Path
    load: float
