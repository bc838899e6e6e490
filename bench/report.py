"""bench/results.md from one `make bench` run's records (run_bench.py measures; this only renders)."""
from __future__ import annotations

import datetime as dt
import statistics

from variants import PACK_RUNS, PROFILE_RUNS, REPORT_ENV, RUNS, VARIANTS, Run





def med(xs: list[float]) -> float:
    return statistics.median(xs)


def fmt_range(xs: list[float], unit: str = "s", scale: float = 1.0, digits: int = 2) -> str:
    return f"{med(xs) / scale:.{digits}f} {unit} ({min(xs) / scale:.{digits}f}–{max(xs) / scale:.{digits}f})"


def ratios(runs: dict[str, list[Run]], a: str, b: str, attr: str) -> list[float]:
    return [getattr(x, attr) / getattr(y, attr) for x, y in zip(runs[a], runs[b])]


def met(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def render(versions, runs, stats, prof, verifier, imports, import_top, suite, total) -> str:
    today = dt.date.today().isoformat()
    L: list[str] = []
    add = L.append
    by = {v.key: v for v in VARIANTS}
    r_full_v2 = ratios(runs, "full", "v2", "wall")
    full = stats["full"]
    no_ct = verifier["no_cloudtrail"]
    with_ct = verifier["cloudtrail"]
    aws_calls = max(r["aws_reported"] for r in no_ct)
    loads = [r.load for rs in runs.values() for r in rs]

    add("# Benchmarks")
    add("")
    add(f"Written by `make bench` ({total:.0f} s) on {today}. Re-run it after any change to the constructs, the app,")
    add("the packs or the verifier; the numbers below are from that one run.")
    add("")
    add("## Machine")
    add("")
    add(f"- {versions['nproc']} cores, {versions['mem']}, Linux {versions['kernel']}; Python {versions['python']}, "
        f"Node {versions['node']} (node_modules, first on PATH), aws-cdk CLI {versions['cdk_cli']} (not used to synth)")
    add(f"- {versions['packages']}")
    add(f"- 1-minute load average at the start of each synth: median {med(loads):.1f} (min {min(loads):.1f}, max"
        f" {max(loads):.1f}) on {versions['nproc']} cores. Other sessions share this machine, so wall times depend on"
        " their work: the alternating order and per-pair ratios keep the comparison fair, and CPU time (user+sys) is"
        " the load-insensitive cross-check.")
    add("")
    add("## Method")
    add("")
    add("- **Synth**: a fresh `.venv/bin/python <script>` process per synth, started the way `cdk synth` starts the app:")
    add("  `CDK_OUTDIR` = a new temp dir, `CDK_CONTEXT_JSON` = `cdk.json`'s context (feature flags included) plus the keys the")
    add("  CLI adds (`aws:cdk:*`, `@aws-cdk/core:failSynthOnValidationErrors=false`), Node 22 first on `PATH`. The same for")
    add(f"  every variant. {RUNS} rounds, alternating {', '.join(v.key for v in VARIANTS)}; wall time from spawn to exit")
    add("  (interpreter and jsii start-up included). Ratios are per pair (run i of full / run i of baseline), reported as")
    add("  the median ratio.")
    add("- **Peak memory**: the RSS of every process of the tree (python → jsii-runtime node → kernel node), summed, sampled")
    add("  every 20 ms from `/proc`; the peak of that sum is reported (shared pages of the two node processes count twice).")
    add("  `ru_maxrss` from `wait4` (the largest single process) is given too.")
    add("- **CPU**: `ru_utime + ru_stime` from `wait4`: python plus the node processes it reaped.")
    add("- **Templates**: from round 1's cloud assembly of each variant; counts cover the stack's template and its nested")
    add("  stack templates. cdk.out size = every file of the output directory (assets, nested templates, manifest, tree.json).")
    add("- **Critical path**: nodes = resources of the stack's own template; edges = `DependsOn`, `Ref`, `Fn::GetAtt` and")
    add("  `Fn::Sub` `${X}`/`${X.Attr}` between resources of that template. A nested stack (`AWS::CloudFormation::Stack`) is")
    add("  one node. Length = resources on the longest chain of waits.")
    add("- **Verifier**: `bench/verifier_probe.py` runs `verifier.entry.dispatch.on_event` (Create; PodCheck on as in `cdk.json`) against")
    add("  the offline fakes of `tests/handler/verifier_fakes.py` (moto for EKS/KMS, a local HTTPS Kubernetes API with a test")
    add("  CA, a fake clock whose sleeps cost nothing). Calls come from the handler's per-stage counters, cross-checked")
    add("  against a botocore hook on the clients and the fake API server's request log. The EKS token is a local STS presign")
    add("  (no network call).")
    add("")

    add("## Targets")
    add("")
    add("| target | value | |")
    add("|---|---|---|")
    add(f"| full synth ≤ 1.0× bare `aws_eks_v2` baseline (median per-pair wall ratio) | {med(r_full_v2):.2f}× | {met(med(r_full_v2) <= 1.0)} |")
    cpu_r = med(ratios(runs, "full", "v2", "cpu"))
    add(f"| (cross-check) the same ratio in CPU time (user+sys), load-insensitive | {cpu_r:.2f}× | {met(cpu_r <= 1.0)} |")
    add(f"| ≤ 3 Lambda functions | {full.lambda_functions} | {met(full.lambda_functions <= 3)} |")
    add(f"| 0 nested stacks | {full.nested_stacks} | {met(full.nested_stacks == 0)} |")
    add(f"| 0 state machines | {full.state_machines} | {met(full.state_machines == 0)} |")
    add(f"| cdk.out ≤ 1 MB (10^6 bytes) | {full.size_bytes:,} bytes | {met(full.size_bytes <= 1_000_000)} |")
    add(f"| ≤ 8 AWS calls per verification without CloudTrail | {aws_calls} | {met(aws_calls <= 8)} |")
    if suite:
        add(f"| test suite ≤ 30 s on 2 cores (here {versions['nproc']}) | {suite[0]:.1f} s, {suite[3]:.0f} s CPU ({suite[1]}) |"
            f" {met(suite[0] <= 30)} |")
    else:
        add("| test suite ≤ 30 s on 2 cores | not run (BENCH_SKIP_TESTS=1) | — |")
    add("")

    add("## 1. Synth time and peak memory")
    add("")
    add("Median (min–max) of the runs.")
    add("")
    add("| variant | wall | CPU (user+sys) | peak tree RSS | ru_maxrss | processes |")
    add("|---|---|---|---|---|---|")
    for v in VARIANTS:
        rs = runs[v.key]
        add(f"| {v.label} | {fmt_range([r.wall for r in rs])} | {fmt_range([r.cpu for r in rs])} | "
            f"{fmt_range([r.peak_tree_rss for r in rs], 'MiB', 2**20, 0)} | {fmt_range([r.maxrss for r in rs], 'MiB', 2**20, 0)} | "
            f"{max(r.max_procs for r in rs)} |")
    add("")
    add("| ratio (per pair, median (min–max)) | wall | CPU | peak tree RSS |")
    add("|---|---|---|---|")
    for top, base in (("full", "v2"), ("full", "v1"), ("full", "nopacks"), ("val", "full"), ("val", "v2"), ("report", "full")):
        w, c, m = (ratios(runs, top, base, a) for a in ("wall", "cpu", "peak_tree_rss"))
        add(f"| {top} / {base} | {fmt_range(w, '×')} | {fmt_range(c, '×')} | {fmt_range(m, '×')} |")
    add("")
    add("Raw wall times (s), in run order:")
    add("")
    for v in VARIANTS:
        add(f"- {v.key}: {', '.join(f'{r.wall:.2f}' for r in runs[v.key])}")
    add("")

    add("## 2. Template leanness")
    add("")
    add("| | full app | (a) `aws_eks_v2` | (b) `aws_eks` v1 |")
    add("|---|---|---|---|")
    rows = [
        ("resources (stack template)", "resources"), ("resources incl. nested templates", "resources_all"),
        ("Lambda functions", "lambda_functions"), ("nested stacks", "nested_stacks"),
        ("state machines", "state_machines"), ("custom resources", "custom_resources"), ("IAM roles", "iam_roles"),
        ("templates (bytes)", "template_bytes"), ("cdk.out (bytes)", "size_bytes"),
    ]
    for label, attr in rows:
        add(f"| {label} | " + " | ".join(f"{getattr(stats[k], attr):,}" for k in ("full", "v2", "v1")) + " |")
    add("")
    for k in ("full", "v2", "v1"):
        s = stats[k]
        customs = sorted(t for t in s.types if t.startswith("Custom::") or t == "AWS::CloudFormation::CustomResource")
        add(f"- {by[k].label}: Lambda functions {', '.join(f'`{f}`' for f in s.functions) or 'none'};"
            f" custom resource types {', '.join(f'`{t}`×{s.types[t]}' for t in customs) or 'none'}")
    add("")

    add("## 3. Dependency graph: critical path")
    add("")
    add("| | edges | longest chain (resources) |")
    add("|---|---|---|")
    for k in ("full", "v2", "v1"):
        add(f"| {by[k].label} | {stats[k].edges} | {len(stats[k].chain)} |")
    add("")
    for k in ("full", "v2", "v1"):
        s = stats[k]
        add(f"- {k}: " + " → ".join(f"`{c}` ({t.split('::')[-1] if not t.startswith('Custom::') else t})"
                                    for c, t in zip(s.chain, s.chain_types)))
    add("")

    add("## 4. Verifier")
    add("")
    first = no_ct[0]
    add("Per stage, one verification without CloudTrail (every run gave the same counts):")
    add("")
    add("| stage | status | AWS calls | Kubernetes calls |")
    add("|---|---|---|---|")
    for s in first["stages"]:
        add(f"| {s['name']} | {s['status']} | {s['aws']} | {s['k8s']} |")
    add(f"| **total** | | **{first['aws_reported']}** | **{first['k8s_reported']}** |")
    add("")
    observed = ", ".join(f"{k} {v}" for k, v in sorted(first["aws_observed"].items()))
    add(f"- Cross-check: botocore saw {sum(first['aws_observed'].values())} calls ({observed}); the fake API server saw"
        f" {first['k8s_observed']} requests; {first['tokens']} token(s) presigned.")
    ct = with_ct[0]
    ct_stage = ct["stages"][-1]
    add(f"- With CloudTrail (evidence found on the first LookupEvents page): {ct['aws_reported']} AWS calls"
        f" (cloudtrail stage {ct_stage['aws']}, status {ct_stage['status']}); a real deploy waits up to"
        " `CloudTrailWaitSeconds` and polls, so it can make more.")
    walls = [r["wall_s"] for r in no_ct]
    add(f"- Local wall time of one verification against the fakes (sleeps cost nothing): first {walls[0] * 1000:.0f} ms,"
        f" median of {len(walls)} {med(walls) * 1000:.0f} ms ({min(walls) * 1000:.0f}–{max(walls) * 1000:.0f}).")
    add(f"- Handler cold import (`import verifier.entry.dispatch`, fresh process, lambda/ on sys.path): median of {len(imports)}"
        f" {med(imports) * 1000:.0f} ms ({min(imports) * 1000:.0f}–{max(imports) * 1000:.0f}). Largest imports"
        f" (`-X importtime`, cumulative): " + ", ".join(f"{name} {sec * 1000:.0f} ms" for sec, name in import_top) + ".")
    add("")

    add("## 5. Test suite")
    add("")
    if suite:
        add(f"`.venv/bin/python -m pytest -q` (a worker per core, `--dist loadfile`), once, wall clock: **{suite[0]:.1f} s**"
            f" on {versions['nproc']} cores, {suite[3]:.0f} s of CPU ({suite[1]}; exit {suite[2]}). Target: 30 s on 2 cores"
            f" ({'met' if suite[0] <= 30 else 'not met'}). Run after the synths, with other work on the machine.")
    else:
        add("Not run (BENCH_SKIP_TESTS=1).")
    add("")

    space = prof.get("option_space")
    add("## 6. Option space")
    add("")
    if space:
        app, refused, lib = space["app"], space["refused"], space["library"]
        add(f"`tests/test_option_space.py`'s phases in one process (bench/option_space_probe.py), each configuration"
            f" synthesized once, one App each, in-process: generating the pairwise combinations {space['generate_s']:.1f} s;"
            f" {app['count']} app combinations {app['total']:.1f} s (median {app['median']:.2f} s, max {app['max']:.2f} s,"
            f" packs included); {refused['count']} refused combinations {refused['total']:.1f} s; {lib['count']} library cases"
            f" {lib['total']:.1f} s. On the {space['templates']} templates: the constraints checker {space['constraints_s']:.2f} s"
            f" ({space['violations']} violations), the lifecycle model {space['lifecycle_s']:.1f} s ({space['injected_failures']}"
            f" injected failures), cfn-lint (one process per core) over all of them "
            + (f"{space['cfn_lint_s']:.1f} s ({space['cfn_lint_errors']} errors)" if space["cfn_lint_s"] is not None else "not run (no .venv-scan)")
            + f". Total {space['total_s']:.1f} s.")
    else:
        add("Not measured in this run.")
    add("")

    add("## Profile: where synth time goes")
    add("")
    P, N, PK = prof["phases"], prof["node"], prof["packs"]
    cols = ("full", "nopacks", "v2")
    add(f"Phases of a synth in a fresh process (`bench/synth_phases.py`), median of {PROFILE_RUNS} alternating runs;"
        " seconds unless a count. jsii counts: requests Python sent down the kernel pipe, and callbacks node made into"
        " Python (a NagPack written in Python runs its rules that way).")
    add("")
    pcols = (*cols, "val")
    add("| phase | full app | full, no packs | (a) `aws_eks_v2` | full, `CDK_VALIDATION=true` |")
    add("|---|---|---|---|---|")
    for key in P["full"]:
        is_count = key.startswith("jsii ") and "seconds" not in key
        add(f"| {key} | " + " | ".join(f"{med(P[k][key]):.0f}" if is_count else f"{med(P[k][key]):.2f}" for k in pcols) + " |")
    phase_keys = [k for k in P["full"] if not k.startswith(("jsii", "Python"))]
    sum_full = med([sum(x) for x in zip(*(P["full"][k] for k in phase_keys))])
    sum_v2 = med([sum(x) for x in zip(*(P["v2"][k] for k in phase_keys))])
    sum_none = med([sum(x) for x in zip(*(P["nopacks"][k] for k in phase_keys))])
    sum_val = med([sum(x) for x in zip(*(P["val"][k] for k in phase_keys))])
    add(f"| **sum of phases** | **{sum_full:.2f}** | **{sum_none:.2f}** | **{sum_v2:.2f}** | **{sum_val:.2f}** |")
    add("")
    add(f"CPU profile of the jsii kernel's node process (`node --cpu-prof` through `JSII_NODE`), median of {PROFILE_RUNS},"
        " CPU seconds, inclusive (a sample counts for every label on its stack):")
    add("")
    add("| where | full app | full, no packs | (a) `aws_eks_v2` |")
    add("|---|---|---|---|")
    for key in N["full"]:
        add(f"| {key} | " + " | ".join(f"{med(N[k][key]):.2f}" for k in cols) + " |")
    add("")
    base_cpu = med([r["cpu"] for r in PK["nopacks"]])
    add(f"One pack at a time (`compliance_packs=<pack>`), whole synth process, median of {PACK_RUNS} alternating runs"
        " (differences under ~0.2 s are run-to-run noise):")
    add("")
    add("| packs | wall | CPU (user+sys) | CPU over no packs |")
    add("|---|---|---|---|")
    pack_rows = []
    for key, rows in PK.items():
        cpu = med([r["cpu"] for r in rows])
        pack_rows.append((cpu - base_cpu, key))
        add(f"| {'none' if key == 'nopacks' else key.removeprefix('pack:')} | {med([r['wall'] for r in rows]):.2f} s |"
            f" {cpu:.2f} s | {cpu - base_cpu:+.2f} s |")
    add("")

    # findings, from this run's numbers
    SYNTH = "app.synth() (aspects, validation plugins, templates, assets)"
    IMPORT = "import app module (constructs, cdk-nag, layers)"
    EXIT = "exit (jsii stops the node kernel)"
    cpu_ratio = med(ratios(runs, "full", "v2", "cpu"))
    wall_ratio = med(ratios(runs, "full", "v2", "wall"))
    packs_cpu = med([a.cpu - b.cpu for a, b in zip(runs["full"], runs["nopacks"])])
    val_cpu = med([a.cpu - b.cpu for a, b in zip(runs["val"], runs["full"])])
    val_wall = med([a.wall - b.wall for a, b in zip(runs["val"], runs["full"])])
    report_cpu = med([a.cpu - b.cpu for a, b in zip(runs["report"], runs["full"])])
    report_wall = med([a.wall / b.wall for a, b in zip(runs["report"], runs["full"])])
    jsii = lambda k, name: med(P[k][f"jsii {name}"])  # noqa: E731
    ph = lambda k, name: med(P[k][name])  # noqa: E731
    validator = med(N["val"][next(k for k in N["val"] if "built-in" in k)])
    kernel_cpu = med(N["val"]["kernel process CPU (not idle)"])
    costly = sorted(pack_rows, reverse=True)
    own_pack = next((d for d, k in pack_rows if k == "pack:EnvelopeEncryption"), 0.0)
    ro = prof["report_once"]
    add("Findings:")
    add("")
    add(f"- **Full vs baseline (a)**: median per-pair ratio {wall_ratio:.2f}× wall, {cpu_ratio:.2f}× CPU; the phase sums"
        f" above give {sum_full / sum_v2:.2f}× ({sum_full:.2f} s vs {sum_v2:.2f} s); the full app's wall times spread"
        f" {max(r.wall for r in runs['full']) / min(r.wall for r in runs['full']):.2f}× (max/min) in this run."
        f" {'All three readings exceed' if min(wall_ratio, cpu_ratio, sum_full / sum_v2) > 1.0 else 'Not every reading exceeds'}"
        " the 1.0× target.")
    add(f"- **Where the extra goes**: packs (full − no packs, phase sums) {sum_full - sum_none:.2f} s, of which"
        f" `app.synth()` {ph('full', SYNTH) - ph('nopacks', SYNTH):.2f} s ({ph('full', SYNTH):.2f} s vs {ph('nopacks', SYNTH):.2f} s). Without packs the app is"
        f" {sum_none / sum_v2:.2f}× the baseline: a bigger template ({stats['full'].resources} vs {stats['v2'].resources}"
        f" resources) and more Python-side imports ({ph('full', IMPORT):.2f} s vs {ph('v2', IMPORT):.2f} s for"
        " `import app module`: more aws-cdk-lib modules; cdk-nag's jsii assembly only when a pack is selected).")
    add(f"- **Packs**: all packs add {packs_cpu:+.2f} s CPU per synth (full − no packs, per pair). One at a time, the"
        " costliest: " + ", ".join(f"{k.removeprefix('pack:')} {d:+.2f} s" for d, k in costly[:3]) + ".")
    add(f"- **jsii round trips**: the full app sends {jsii('full', 'kernel requests'):.0f} requests to the kernel"
        f" ({jsii('full', 'kernel requests: synth'):.0f} of them during `app.synth()`) and receives"
        f" {jsii('full', 'callbacks into Python'):.0f} callbacks ({jsii('full', 'seconds in callbacks'):.2f} s inside them);"
        f" without packs {jsii('nopacks', 'kernel requests'):.0f} requests and {jsii('nopacks', 'callbacks into Python'):.0f}"
        f" callbacks; baseline (a) {jsii('v2', 'kernel requests'):.0f}. The synth-time requests come from the Python"
        " `EnvelopeEncryption` pack reading resource properties back through the kernel; it evaluates its rules in"
        " Python (`validate_scope`), so cdk-nag's per-resource callbacks are gone. Every round trip is a cross-process"
        " wake-up, so wall time suffers more than CPU time on a busy machine.")
    add(f"- **Built-in CloudFormation validation**: aws-cdk-lib 2.275.0 can run `@aws/cloudformation-validate` (a WASM"
        " engine) on every synth; app.py leaves it off (cfn-lint checks the same schemas in `make test`) unless"
        f" `CDK_VALIDATION=true`, which `make test`'s synth sets. On, it takes {validator:.2f} s of the kernel's"
        f" {kernel_cpu:.2f} s CPU and adds {val_wall:.2f} s wall / {val_cpu:.2f} s CPU per synth (per pair): `app.synth()`"
        f" {ph('val', SYNTH):.2f} s vs {ph('full', SYNTH):.2f} s, the kernel's exit {ph('val', EXIT):.2f} s vs"
        f" {ph('full', EXIT):.2f} s. The baselines run it, as CDK ships them.")
    add(f"- **`make synth`'s report mode** (`{REPORT_ENV}=1`): {report_wall:.2f}× the plain full synth's wall time,"
        f" {report_cpu:+.2f} s CPU (per pair)."
        f" One profiled run: `app.synth()` {ro['phases'][SYNTH]:.2f} s,"
        f" {ro['jsii']['kernel requests']:,} kernel requests and {ro['jsii']['callbacks into Python']:,} callbacks"
        f" ({ro['jsii']['seconds in callbacks']:.2f} s inside them).")
    add("- Python itself is nearly idle: cProfile of a synth shows >95% of the time in `readline` on the kernel pipe;"
        " only the Python pack's callbacks and the imports run Python code.")
    add("")
    add("Fixed after profiling (2026-11-28), and what remains:")
    add("")
    fixes = [
        "Fixed: the compliance report of `make synth` observed every rule evaluation from Python (one jsii round trip"
        " each, about 21 s per synth); it now counts rules on a probe resource and findings with `validate_scope` at"
        f" JavaScript speed: report mode is {report_wall:.2f}× a plain synth.",
        "Fixed: the `EnvelopeEncryption` pack went through cdk-nag's per-resource walk (1,506 synth-time kernel requests"
        " and 174 callbacks, about +0.5–0.9 s CPU); it memoises tree lookups and evaluates its rules in Python:"
        f" {jsii('full', 'kernel requests: synth'):.0f} requests and {jsii('full', 'callbacks into Python'):.0f}"
        f" callbacks now, {own_pack:+.2f} s CPU for the pack alone.",
        f"Remains: the app's own size. With the built-in validation on for both (val / v2) the app is"
        f" {med(ratios(runs, 'val', 'v2', 'wall')):.2f}× the bare baseline's wall time: 55 resources against 34 without"
        " packs (flow logs, a logs key, log groups, the verifier's Lambda, provider and access entry), and the six packs"
        f" add {packs_cpu:+.2f} s CPU, mostly cdk-nag's five JavaScript packs. `make synth` meets the 1.0× target by"
        " leaving that validation to `make test` (cfn-lint checks the same schemas). For a faster inner loop, synthesize"
        " with `-c compliance_packs=AwsSolutions,EnvelopeEncryption` and leave all six to `make synth`/CI.",
    ]
    for i, text in enumerate(fixes, 1):
        add(f"{i}. {text}")
    add("")
    return "\n".join(L) + "\n"
