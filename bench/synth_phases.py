#!/usr/bin/env python3
"""Profile one synth in this (fresh) process: phase times and, optionally, a cProfile of build + synth.

usage: synth_phases.py APP_SCRIPT [--profile OUT.pstats]
APP_SCRIPT defines build_app(app) -> app (app.py and the bench baselines do). The environment is
the one run_bench.py gives every synth (CDK_OUTDIR, CDK_CONTEXT_JSON, Node 22 first on PATH).
Prints one JSON object: wall seconds per phase and the CPU seconds of this Python process itself
(jsii callbacks into Python, e.g. a pack written in Python, show up there, not in node).
"""
from __future__ import annotations

import cProfile
import importlib.util
import json
import resource
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    started_at = time.time()  # epoch: the parent compares it with the spawn time (interpreter start-up)
    script = Path(sys.argv[1]).resolve()
    profile_out = sys.argv[sys.argv.index("--profile") + 1] if "--profile" in sys.argv else None
    sys.path[:0] = [str(script.parent), str(REPO)]
    phases: dict[str, float] = {}

    t0 = time.perf_counter()
    import aws_cdk as cdk  # starts the jsii kernel (node) and loads aws-cdk-lib's assembly

    phases["import aws_cdk (jsii kernel + aws-cdk-lib)"] = time.perf_counter() - t0

    # Count the pipe round trips to the kernel and the callbacks node makes into Python (a NagPack
    # written in Python runs its rules as such callbacks), with the time spent inside them.
    import jsii._kernel as jsii_kernel
    from jsii._kernel.providers.process import _NodeProcess

    counts = {"kernel requests": 0, "callbacks into Python": 0, "seconds in callbacks": 0.0}
    depth = [0]
    send, handle = _NodeProcess.send, jsii_kernel._handle_callback

    def counted_send(self, *args, **kwargs):
        counts["kernel requests"] += 1
        return send(self, *args, **kwargs)

    def counted_callback(*args, **kwargs):
        counts["callbacks into Python"] += 1
        depth[0] += 1
        started = time.perf_counter()
        try:
            return handle(*args, **kwargs)
        finally:
            depth[0] -= 1
            if depth[0] == 0:
                counts["seconds in callbacks"] += time.perf_counter() - started

    _NodeProcess.send = counted_send
    jsii_kernel._handle_callback = counted_callback

    t0 = time.perf_counter()
    spec = importlib.util.spec_from_file_location("bench_target_app", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    phases["import app module (constructs, cdk-nag, layers)"] = time.perf_counter() - t0
    requests_after_import = counts["kernel requests"]

    profiler = cProfile.Profile() if profile_out else None
    if profiler:
        profiler.enable()
    t0 = time.perf_counter()
    # As the script itself would: app.py leaves aws-cdk-lib's built-in validation off unless CDK_VALIDATION=true;
    # the baselines keep it on, as CDK ships them.
    validate = getattr(module, "builtin_validation", lambda: True)()
    app = module.build_app(cdk.App(builtin_cloud_formation_validation=validate))
    phases["build construct tree (incl. pack registration)"] = time.perf_counter() - t0
    requests_after_build = counts["kernel requests"]
    t0 = time.perf_counter()
    app.synth()
    phases["app.synth() (aspects, validation plugins, templates, assets)"] = time.perf_counter() - t0
    if profiler:
        profiler.disable()
        profiler.dump_stats(profile_out)
    counts["kernel requests: import"] = requests_after_import
    counts["kernel requests: build"] = requests_after_build - requests_after_import
    counts["kernel requests: synth"] = counts["kernel requests"] - requests_after_build
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"phases": phases, "python_cpu": usage.ru_utime + usage.ru_stime, "jsii": counts,
                      "started_at": started_at, "ended_at": time.time()}), flush=True)
    # after this line: jsii's atexit hook stops the kernel (node) and waits for it; the parent times that


if __name__ == "__main__":
    main()
