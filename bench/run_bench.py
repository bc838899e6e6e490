#!/usr/bin/env python3
"""`make bench`: synth cost, template leanness, critical path, verifier cost and test-suite time -> build/bench/results.md.

Every synth is a fresh `.venv/bin/python <script>` process, started the way the aws-cdk CLI starts
the app: CDK_OUTDIR = a new temp dir, CDK_CONTEXT_JSON = cdk.json's context plus the keys the CLI
adds, Node 22 from node_modules first on PATH. Variants run alternating (A,B,C,..., A,B,C,..., ...).
Environment knobs: BENCH_RUNS (alternating rounds, default 5), BENCH_PROFILE_RUNS (profiling rounds,
default 3), BENCH_PACK_RUNS (one-pack-at-a-time rounds, default 2), BENCH_SKIP_TESTS=1 (skip the
pytest run), BENCH_FROM_RAW=<json> (re-render results.md from a previous run's raw data), BENCH_OUT (where
results.md and raw.json go; default build/bench, outside version control), BENCH_UPDATE=1 (also replace the
committed bench/results.md: a deliberate act, reviewed in its own commit).
"""
from __future__ import annotations

import datetime as dt
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from template_stats import AssemblyStats, assembly_stats  # noqa: E402

from report import render  # noqa: E402
from variants import (  # noqa: E402
    BENCH, CLI_CONTEXT, PACK_RUNS, PROFILE_RUNS, PY, REPO, REPORT_ENV, RUNS, VARIANTS, Run, Variant,
)

PAGE = os.sysconf("SC_PAGE_SIZE")


def base_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{REPO / 'node_modules' / '.bin'}{os.pathsep}{env.get('PATH', '')}"
    env.pop("CDK_OUTDIR", None)
    env.pop("CDK_CONTEXT_JSON", None)
    env.pop(REPORT_ENV, None)
    env.pop("CDK_VALIDATION", None)
    return env


def context_for(variant: Variant) -> dict:
    context = json.loads((REPO / "cdk.json").read_text())["context"]
    context.update(CLI_CONTEXT)
    context.update(variant.context)
    return context


# ---------------------------------------------------------------------------------------------
# process-tree sampling


def _tree(pid: int) -> list[int]:
    out, stack = [], [pid]
    while stack:
        p = stack.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    stack.extend(int(c) for c in fh.read().split())
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            pass
    return out


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as fh:
            return int(fh.read().split()[1]) * PAGE
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return 0


def synth_once(variant: Variant, env: dict[str, str]) -> Run:
    outdir = Path(tempfile.mkdtemp(prefix=f"bench-{variant.key}-"))
    env = dict(env, CDK_OUTDIR=str(outdir), CDK_CONTEXT_JSON=json.dumps(context_for(variant)), **variant.env)
    log = open(outdir.parent / f"{outdir.name}.log", "wb")
    load = os.getloadavg()[0]
    started = time.perf_counter()
    proc = subprocess.Popen([PY, variant.script], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    peak, procs, done = 0, 0, threading.Event()

    def sample() -> None:
        nonlocal peak, procs
        while not done.is_set():
            pids = _tree(proc.pid)
            peak = max(peak, sum(_rss(p) for p in pids))
            procs = max(procs, len(pids))
            done.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    done.set()
    sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    log.close()
    if proc.returncode != 0:
        sys.exit(f"synth of {variant.script} failed ({proc.returncode}); see {log.name}:\n"
                 + Path(log.name).read_text()[-3000:])
    os.unlink(log.name)
    return Run(variant.key, wall, usage.ru_utime + usage.ru_stime, peak, usage.ru_maxrss * 1024, procs, outdir, load)


# ---------------------------------------------------------------------------------------------
# profiling helpers


def phases(variant: Variant, env: dict[str, str], node_profile_dir: Path | None = None) -> dict:
    outdir = Path(tempfile.mkdtemp(prefix=f"bench-phases-{variant.key}-"))
    env = dict(env, CDK_OUTDIR=str(outdir), CDK_CONTEXT_JSON=json.dumps(context_for(variant)), **variant.env)
    if node_profile_dir:
        wrapper = node_profile_dir / "node-cpu-prof.sh"
        wrapper.write_text(f'#!/bin/sh\nexec node --cpu-prof --cpu-prof-dir="{node_profile_dir}" "$@"\n')
        wrapper.chmod(0o755)
        env["JSII_NODE"] = str(wrapper)  # jsii starts node through this; its kernel child inherits execArgv
    spawned = time.time()
    out = subprocess.run([PY, str(BENCH / "synth_phases.py"), variant.script], cwd=REPO, env=env,
                         capture_output=True, text=True, check=True)
    exited = time.time()
    shutil.rmtree(outdir, ignore_errors=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["phases"] = {"interpreter start-up": result["started_at"] - spawned, **result["phases"],
                        "exit (jsii stops the node kernel)": exited - result["ended_at"]}
    return result


#: Labels of the jsii kernel's node CPU profile: a sample counts for a label when any frame of its stack matches.
NODE_LABELS = {
    "app.synth() in node": lambda url, fn: url.endswith("aws-cdk-lib/core/lib/app.js") and fn == "synth",
    "  built-in CloudFormation validation (`@aws/cloudformation-validate`, WASM)":
        lambda url, fn: "@aws/cloudformation-validate/" in url,
    "  cdk-nag rules and packs": lambda url, fn: "/cdk-nag/" in url,
    "module loading (`require`)": lambda url, fn: url == "node:internal/modules/helpers" and fn == "require",
    "garbage collector": lambda url, fn: fn == "(garbage collector)",
}


def node_profile(profile_dir: Path) -> dict[str, float]:
    """CPU seconds per NODE_LABELS (inclusive) of the busiest node process (the jsii kernel) in profile_dir."""
    best: dict[str, float] = {}
    for path in profile_dir.glob("*.cpuprofile"):
        prof = json.loads(path.read_text())
        nodes = {n["id"]: n for n in prof["nodes"]}
        parent = {c: n["id"] for n in prof["nodes"] for c in n.get("children", [])}
        self_time: dict[int, int] = {}
        for sample, delta in zip(prof["samples"], prof["timeDeltas"]):
            self_time[sample] = self_time.get(sample, 0) + delta
        found = {"kernel process CPU (not idle)": 0.0, **{label: 0.0 for label in NODE_LABELS}}
        for nid, t in self_time.items():
            if nodes[nid]["callFrame"]["functionName"] in ("(idle)", "(program)"):
                continue
            found["kernel process CPU (not idle)"] += t / 1e6
            hit: set[str] = set()
            while nid is not None:
                cf = nodes[nid]["callFrame"]
                hit |= {label for label, match in NODE_LABELS.items() if match(cf["url"], cf["functionName"])}
                nid = parent.get(nid)
            for label in hit:
                found[label] += t / 1e6
        if found["kernel process CPU (not idle)"] > best.get("kernel process CPU (not idle)", -1.0):
            best = found
    return best


def handler_import_times(runs: int = 7) -> tuple[list[float], list[tuple[float, str]]]:
    code = ("import sys,time; sys.path.insert(0, 'lambda'); t=time.perf_counter(); import verifier.entry.dispatch; "
            "print(time.perf_counter()-t)")
    times = []
    for _ in range(runs):
        out = subprocess.run([PY, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
        times.append(float(out.stdout.strip()))
    # one -X importtime run: the top-level packages with the largest cumulative import time
    out = subprocess.run([PY, "-X", "importtime", "-c", "import sys; sys.path.insert(0, 'lambda'); import verifier.entry.dispatch"],
                         cwd=REPO, capture_output=True, text=True, check=True)
    children: list[tuple[float, str]] = []
    top: list[tuple[float, str]] = []
    for line in out.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( +)(\S+)", line)
        if not m:
            continue
        indent, name, cumulative = len(m.group(3)), m.group(4), int(m.group(2)) / 1e6
        if indent == 3:  # a direct child of the next top-level import
            children.append((cumulative, name))
        elif indent == 1:
            if name == "verifier.entry.dispatch":
                top = [(cumulative, "verifier.entry.dispatch (total)"), *sorted(children, reverse=True)]
            children = []
    return times, top[:6]


def verifier_costs(env: dict[str, str]) -> dict:
    out_json = Path(tempfile.mkdtemp(prefix="bench-verifier-")) / "verifier.json"
    proc = subprocess.run([PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0", "bench/verifier_probe.py"], cwd=REPO,
                          env=dict(env, BENCH_VERIFIER_OUT=str(out_json)), capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit("verifier probe failed:\n" + proc.stdout[-4000:] + proc.stderr[-2000:])
    result = json.loads(out_json.read_text())
    shutil.rmtree(out_json.parent, ignore_errors=True)
    return result


def _probe_json(env: dict[str, str], script: str, what: str) -> dict:
    """Run ``bench/<script> OUT.json`` and return what it wrote (the probes that run in a process of their own)."""
    out_json = Path(tempfile.mkdtemp(prefix="bench-probe-")) / "out.json"
    proc = subprocess.run([PY, f"bench/{script}", str(out_json)], cwd=REPO, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"{what} probe failed:\n" + proc.stdout[-4000:] + proc.stderr[-2000:])
    result = json.loads(out_json.read_text())
    shutil.rmtree(out_json.parent, ignore_errors=True)
    return result


def option_space_cost(env: dict[str, str]) -> dict:
    """bench/option_space_probe.py: tests/test_option_space.py's phases (generate, synth, checks), in one process."""
    return _probe_json(env, "option_space_probe.py", "option-space")


def audit_costs(env: dict[str, str]) -> dict:
    """bench/audit_probe.py: AWS calls per cluster (moto organization), wall time for 1,000 clusters (fakes with latency)."""
    return _probe_json(env, "audit_probe.py", "audit")


def _with_audit(text: str, audit: dict | None) -> str:
    """Section 6 goes before the profile appendix."""
    if not audit:
        return text
    from audit_probe import render as render_audit

    head, sep, tail = text.partition("## Profile: where synth time goes")
    return head + render_audit(audit) + "\n" + sep + tail


def test_suite(env: dict[str, str]) -> tuple[float, str, int, float]:
    """One `pytest -q` as `make test` runs it (pyproject's addopts: a worker per core); wall clock and CPU seconds."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run([PY, "-m", "pytest", "-q"], cwd=REPO, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    lines = [ln for ln in proc.stdout.splitlines() if re.search(r"\d+ (passed|failed|errors?)\b", ln)]
    return wall, lines[-1].strip("= ") if lines else "no summary line", proc.returncode, cpu


def tool_versions() -> dict[str, str]:
    def run(cmd: list[str]) -> str:
        try:
            return subprocess.run(cmd, cwd=REPO, env=base_env(), capture_output=True, text=True, timeout=60).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return "?"

    pkgs = run([PY, "-c", "import importlib.metadata as m; print(' '.join(f'{p}=={m.version(p)}' for p in "
                "('aws-cdk-lib','cdk-nag','jsii','constructs','aws-cdk.lambda-layer-kubectl-v36','boto3','moto')))"])
    return {
        "nproc": str(os.cpu_count()),
        "mem": run(["sh", "-c", "free -g | awk '/Mem:/{print $2\" GiB\"}'"]),
        "python": platform.python_version(),
        "node": run(["node", "--version"]),
        "cdk_cli": run(["cdk", "--version"]).split(" ")[0],
        "packages": pkgs,
        "kernel": platform.release(),
    }


def out_dir() -> Path:
    return Path(os.environ.get("BENCH_OUT") or REPO / "build" / "bench")


def publish(text: str, out: Path, update_committed: bool, committed: Path = BENCH / "results.md") -> list[Path]:
    """Write results.md into ``out``; the committed copy only when asked. Returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "results.md"]
    written[0].write_text(text)
    if update_committed:
        committed.write_text(text)
        written.append(committed)
    return written


def _update_requested() -> bool:
    return os.environ.get("BENCH_UPDATE", "") in ("1", "true", "yes")


def _shown(paths: list[Path]) -> str:
    return " and ".join(os.path.relpath(p, REPO) for p in paths)


def rerender(path: Path) -> None:
    d = json.loads(path.read_text())
    runs = {k: [Run(**{**r, "outdir": Path(r["outdir"])}) for r in rs] for k, rs in d["runs"].items()}
    stats = {k: AssemblyStats(**v) for k, v in d["stats"].items()}
    suite = d["suite"]
    if suite and len(suite) == 3:  # raw data from before the suite's CPU time was recorded
        suite = [*suite, float("nan")]
    text = render(d["versions"], runs, stats, d["prof"], d["verifier"], d["imports"], d["import_top"], suite, d["total"])
    written = publish(_with_audit(text, d.get("audit")), out_dir(), _update_requested())
    print(f"bench: re-rendered {_shown(written)}", flush=True)


def main() -> None:
    if os.environ.get("BENCH_FROM_RAW"):
        return rerender(Path(os.environ["BENCH_FROM_RAW"]))
    t_start = time.perf_counter()
    env = base_env()
    versions = tool_versions()
    print(f"bench: {RUNS} alternating rounds of {len(VARIANTS)} synths ...", flush=True)
    runs: dict[str, list[Run]] = {v.key: [] for v in VARIANTS}
    for i in range(RUNS):
        for v in VARIANTS:
            r = synth_once(v, env)
            runs[v.key].append(r)
            print(f"  round {i + 1} {v.key:8s} wall {r.wall:6.2f}s cpu {r.cpu:6.2f}s tree-rss {r.peak_tree_rss / 2**20:6.0f} MiB"
                  f" load {r.load:.1f}", flush=True)
    stats: dict[str, AssemblyStats] = {k: assembly_stats(rs[0].outdir) for k, rs in runs.items()}
    for rs in runs.values():
        for r in rs:
            shutil.rmtree(r.outdir, ignore_errors=True)

    print("bench: profiling (phases x3, node CPU profiles x3) ...", flush=True)
    profiled = [VARIANTS[0], VARIANTS[3], VARIANTS[1], VARIANTS[4]]  # full, nopacks, v2, val
    prof: dict[str, dict[str, list[float]]] = {v.key: {} for v in profiled}
    node: dict[str, dict[str, list[float]]] = {v.key: {} for v in profiled}
    for _ in range(PROFILE_RUNS):
        for variant in profiled:
            result = phases(variant, env)
            for name, sec in [*result["phases"].items(), ("Python process CPU (self)", result["python_cpu"]),
                              *((f"jsii {k}", v) for k, v in result["jsii"].items())]:
                prof[variant.key].setdefault(name, []).append(sec)
        for variant in profiled:
            prof_dir = Path(tempfile.mkdtemp(prefix=f"bench-nodeprof-{variant.key}-"))
            phases(variant, env, prof_dir)
            for name, sec in node_profile(prof_dir).items():
                node[variant.key].setdefault(name, []).append(sec)
            shutil.rmtree(prof_dir, ignore_errors=True)
    prof = {"phases": prof, "node": node, "report_once": phases(VARIANTS[5], env)}

    packs = json.loads(subprocess.run(
        [PY, "-c", "import json, sys; sys.path.insert(0, 'constructs'); "
                   "from stacks.compliance_packs import COMPLIANCE_PACKS; print(json.dumps(COMPLIANCE_PACKS))"],
        cwd=REPO, env=env, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1])
    print(f"bench: one pack at a time ({PACK_RUNS} rounds of {len(packs) + 1}) ...", flush=True)
    pack_variants = [VARIANTS[3]] + [Variant(f"pack:{p}", p, "app.py", {"compliance_packs": [p]}) for p in packs]
    pack_runs: dict[str, list[dict]] = {v.key: [] for v in pack_variants}
    for _ in range(PACK_RUNS):
        for variant in pack_variants:
            r = synth_once(variant, env)
            shutil.rmtree(r.outdir, ignore_errors=True)
            pack_runs[variant.key].append({"wall": r.wall, "cpu": r.cpu})
    prof["packs"] = pack_runs

    print("bench: verifier ...", flush=True)
    verifier = verifier_costs(env)
    imports, import_top = handler_import_times()
    print("bench: option space (tests/test_option_space.py's phases) ...", flush=True)
    prof["option_space"] = option_space_cost(env)
    print("bench: fleet audit (moto organization, 1,000 clusters with latency) ...", flush=True)
    audit = audit_costs(env)

    if os.environ.get("BENCH_SKIP_TESTS") == "1":
        suite = None
    else:
        print("bench: test suite (pytest -q, once) ...", flush=True)
        suite = test_suite(env)

    total = time.perf_counter() - t_start
    out_dir().mkdir(parents=True, exist_ok=True)
    raw = out_dir() / "raw.json"
    raw.write_text(json.dumps({
        "versions": versions, "runs": {k: [{**r.__dict__, "outdir": str(r.outdir)} for r in rs] for k, rs in runs.items()},
        "stats": {k: v.__dict__ for k, v in stats.items()}, "prof": prof, "verifier": verifier, "imports": imports,
        "import_top": import_top, "suite": suite, "total": total, "audit": audit, "date": dt.date.today().isoformat()}))
    print(f"bench: raw data in {raw} (BENCH_FROM_RAW={raw} re-renders without measuring)", flush=True)
    text = render(versions, runs, stats, prof, verifier, imports, import_top, suite, total)
    written = publish(_with_audit(text, audit), out_dir(), _update_requested())
    print(f"bench: wrote {_shown(written)} in {total:.0f} s"
          + ("" if _update_requested() else " (BENCH_UPDATE=1 also replaces the committed bench/results.md)"), flush=True)


if __name__ == "__main__":
    main()
