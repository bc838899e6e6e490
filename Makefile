# Every target bootstraps what it needs: a fresh clone needs only python3, npm and make.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON  ?= python3
VENV    := .venv
PY      := $(VENV)/bin/python
# Node >= 22 from package.json: jsii (behind aws-cdk-lib) prints an end-of-life banner on Node 20.
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)
export PIP_DISABLE_PIP_VERSION_CHECK := 1

# `make deploy ENV=pr-42 EPHEMERAL=true`: isolated, destroyable environments.
ENV       ?=
EPHEMERAL ?=
CONTEXT   := $(if $(ENV),-c env_name=$(ENV)) $(if $(EPHEMERAL),-c ephemeral=$(EPHEMERAL))
CDK       := cdk
REPORT_ENV := EKS_ENVELOPE_COMPLIANCE_REPORT

.PHONY: help deps synth test deploy destroy verify clean

help:
	@echo "make synth     synthesize the app into cdk.out/ (no AWS account needed)"
	@echo "make test      run the test suite"
	@echo "make deploy    deploy with your AWS credentials [ENV=name EPHEMERAL=true]"
	@echo "make destroy   destroy the stack [ENV=name]"
	@echo "make verify    verify a deployed cluster: CLUSTER=name [KEY=arn] [REGION=r] [POD=1] [CLOUDTRAIL=1]"
	@echo "make scan      checkov, cfn-lint, Control Tower controls on the templates (docs/scan.md)"
	@echo "make comparison regenerate README's scanner comparison on careless clusters"
	@echo "make integ     integration-test app against its snapshot (offline); integ-deploy for real"
	@echo "make diagram   regenerate docs/architecture.svg from the template"
	@echo "make bench     benchmarks into bench/results.md (not part of make test)"

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -qq --upgrade pip
	@$(PY) -m pip install -qq -r requirements-dev.txt
	@touch $@

node_modules/.installed: package.json package-lock.json
	@npm ci --no-audit --no-fund --loglevel=error
	@touch $@

deps: $(VENV)/.installed node_modules/.installed

synth: deps
	@rm -rf cdk.out
	@$(REPORT_ENV)=1 $(CDK) synth --quiet $(CONTEXT)
	@echo "templates written to cdk.out/"

# Scanners first, so pytest's summary is the last line a CI log shows.
test: deps
	@$(MAKE) --no-print-directory scan
	@$(PY) -m pytest -q

deploy: deps
	$(CDK) deploy $(CONTEXT) --require-approval broadening

destroy: deps
	$(CDK) destroy $(CONTEXT) --force

verify: deps
	@test -n "$(CLUSTER)" || { echo "usage: make verify CLUSTER=<name> [KEY=<key arn>] [REGION=<region>] [POD=1] [CLOUDTRAIL=1]" >&2; exit 2; }
	@$(PY) lambda/verifier/cli.py --cluster "$(CLUSTER)" $(if $(KEY),--key "$(KEY)") $(if $(REGION),--region "$(REGION)") $(if $(POD),--pod-check) $(if $(CLOUDTRAIL),--cloudtrail)

clean:
	rm -rf cdk.out .pytest_cache build dist

# Topic fragments (scan, integ, diagram, bench): each adds its own targets.
include $(sort $(wildcard mk/*.mk))
