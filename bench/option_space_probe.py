#!/usr/bin/env python3
"""What tests/test_option_space.py costs, phase by phase, in one process as the test runs it.

Prints one JSON object (or writes it to argv[1]): the generator's time, each configuration's synth
time (app combinations, refused ones, library cases), and the time of the constraints checker, the
lifecycle model and the one cfn-lint run over every template. `make bench` runs it (run_bench.py).
"""
from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
for entry in ("constructs", "lambda", "."):
    sys.path.insert(0, str(REPO / entry))
os.environ["PATH"] = f"{REPO / 'node_modules' / '.bin'}{os.pathsep}{os.environ.get('PATH', '')}"

from tests.tempdirs import contain_temp_dirs  # noqa: E402

contain_temp_dirs()

from tests import option_space as space  # noqa: E402
from tests.helpers import load_module  # noqa: E402
from tests.lifecycle import scenarios  # noqa: E402


def main() -> None:
    started = time.perf_counter()
    rows = space.app_combinations()
    generate = time.perf_counter() - started

    results: dict[str, space.Synthesized] = {}
    seconds: dict[str, float] = {}
    jobs = [(f"app-{i:02d}", lambda c=c, i=i: space.synthesize_app(f"app-{i:02d}", c)) for i, c in enumerate(rows)]
    jobs += [(f"refused-{i:02d}", lambda c=c, i=i: space.synthesize_app(f"refused-{i:02d}", c)) for i, (c, _) in enumerate(space.REFUSED)]
    jobs += [(f"lib-{n}", lambda n=n: space.synthesize_library(n)) for n in space.LIBRARY_CASES]
    for name, job in jobs:
        t0 = time.perf_counter()
        results[name] = job()
        seconds[name] = time.perf_counter() - t0

    templates = [(n, t) for n, r in results.items() for t in r.templates]
    constraints = load_module("constraints", REPO / "scripts" / "constraints.py")
    t0 = time.perf_counter()
    violations = sum(len(constraints.check_template(t.raw, t.stack_name)) for _, t in templates)
    check = time.perf_counter() - t0
    t0 = time.perf_counter()
    injected = sum(len(scenarios.failed_first_create(r.templates)) for r in results.values() if r.templates)
    lifecycle = time.perf_counter() - t0
    t0 = time.perf_counter()
    lint_errors = sum(len(v) for v in space.cfn_lint({n: r for n, r in results.items() if not n.startswith("refused-")}).values()) \
        if (space.SCAN_BIN / "cfn-lint").exists() else None
    lint = time.perf_counter() - t0

    def summary(prefix: str) -> dict[str, float]:
        values = [s for n, s in seconds.items() if n.startswith(prefix)]
        return {"count": len(values), "total": sum(values), "median": statistics.median(values), "max": max(values)}

    out = {
        "generate_s": generate, "app": summary("app-"), "refused": summary("refused-"), "library": summary("lib-"),
        "templates": len(templates), "constraints_s": check, "violations": violations,
        "lifecycle_s": lifecycle, "injected_failures": injected, "cfn_lint_s": lint if lint_errors is not None else None,
        "cfn_lint_errors": lint_errors, "total_s": time.perf_counter() - started,
        "synthesized": sum(1 for r in results.values() if r.templates), "refused_count": sum(1 for r in results.values() if r.problems),
        "crashed": sorted(n for n, r in results.items() if r.error),
    }
    text = json.dumps(out, indent=1)
    if len(sys.argv) > 1:
        Path(sys.argv[1]).write_text(text)
    else:
        print(text)


if __name__ == "__main__":
    main()
