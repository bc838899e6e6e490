# `make scan`: checkov, cfn-lint and the AWS Control Tower proactive controls (the ControlTower pack)
# on the synthesized CloudFormation templates (docs/scan.md).
# The scanners get their own virtualenv: checkov pins an old `packaging` that breaks pytest 9.
#   make scan                           synth (the app's defaults), then scan cdk.out/
#   make scan ENV=pr-1 EPHEMERAL=true   the same for an ephemeral environment's template
#   make scan-only                      scan cdk.out/ as it is (no synth)
#   make scan SCAN_ARGS=--verbose       also list the reviewed cfn-lint warnings

SCAN_VENV := .venv-scan
SCAN_PY   := $(SCAN_VENV)/bin/python
SCAN_ARGS ?=

.PHONY: scan scan-only scan-deps comparison help-scan

KNOWN_VARIABLES += SCAN_ARGS

help: help-scan
help-scan:
	@echo "make scan      checkov, cfn-lint, Control Tower controls on the templates (docs/scan.md) [SCAN_ARGS=--verbose]"
	@echo "make comparison regenerate docs/compliance.md's scanner comparison on careless clusters"

# Rebuilt from scratch when requirements-scan.txt changes, so no stale scanner version survives.
# pip's output goes to a log that is shown only when the install fails.
$(SCAN_VENV)/.installed: requirements-scan.txt
	@rm -rf $(SCAN_VENV)
	@$(or $(PYTHON),python3) -m venv $(SCAN_VENV)
	@$(SCAN_PY) -m pip install --disable-pip-version-check --no-input --quiet -r requirements-scan.txt \
		> $(SCAN_VENV)/install.log 2>&1 || { cat $(SCAN_VENV)/install.log >&2; exit 1; }
	@touch $@

scan-deps: $(SCAN_VENV)/.installed

# checkov's HCL parser (lark) keeps a grammar cache of about 250 KB in the temp dir for good: the scanners get
# a temp dir of their own inside $(SCAN_VENV), where the cache is reused and goes with the virtualenv.
SCAN_TMP := $(CURDIR)/$(SCAN_VENV)/tmp
SCAN_RUN := mkdir -p $(SCAN_TMP) && TMPDIR=$(SCAN_TMP) $(SCAN_PY)

scan: synth scan-deps
	@$(SCAN_RUN) scripts/scan.py cdk.out $(SCAN_ARGS)
	@$(PY) scripts/compliance_comparison.py --check

# docs/compliance.md's side-by-side of AwsSolutions, checkov and our pack on careless clusters (generated).
comparison: deps scan-deps
	@$(PY) scripts/compliance_comparison.py --write

scan-only: scan-deps
	@$(SCAN_RUN) scripts/scan.py cdk.out $(SCAN_ARGS)
