# `make bench`: synth cost vs two baselines, template leanness, critical path, verifier cost and
# test-suite time, written to build/bench/results.md (and its raw data beside it); BENCH_UPDATE=1 also
# replaces the committed bench/results.md. Not part of `make test`. BENCH_RUNS=n (default 5)
# sets the alternating rounds; BENCH_SKIP_TESTS=1 skips the one pytest run; bench/run_bench.py
# documents the other knobs (BENCH_PROFILE_RUNS, BENCH_PACK_RUNS, BENCH_FROM_RAW).
.PHONY: bench help-bench

KNOWN_VARIABLES += BENCH_%

help: help-bench
help-bench:
	@echo "make bench     benchmarks into build/bench/results.md (not part of make test) [BENCH_RUNS=n BENCH_SKIP_TESTS=1 BENCH_UPDATE=1]"

BENCH_RUNS ?= 5

# bench/requirements.txt (the kubectl v1.36 layer for the aws_eks v1 baseline) goes into .venv: it
# only adds packages, every dependency of it is already pinned there by requirements.txt.
$(VENV)/.bench-installed: $(VENV)/.installed bench/requirements.txt
	@$(PY) -m pip install --quiet -r bench/requirements.txt
	@touch $@

bench: deps $(VENV)/.bench-installed
	@BENCH_RUNS=$(BENCH_RUNS) BENCH_SKIP_TESTS=$(call on,BENCH_SKIP_TESTS) BENCH_UPDATE=$(call on,BENCH_UPDATE) $(PY) bench/run_bench.py
