# Every target bootstraps what it needs: a fresh clone needs only python3, npm and make.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON  ?= python3
VENV    := .venv
PY      := $(VENV)/bin/python
# Node 24 LTS from package.json (end of life 2028-04-30): jsii prints an end-of-life banner on an old Node.
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)
export PIP_DISABLE_PIP_VERSION_CHECK := 1

# The aws-cdk CLI's telemetry is off for every make target (its documented switch; it would also leave a
# payload file in the temp dir): `CDK_DISABLE_CLI_TELEMETRY=false make ...` sends it.
export CDK_DISABLE_CLI_TELEMETRY ?= true

# Make flags (EPHEMERAL, POD, CLOUDTRAIL, DRY_RUN, FORCE, CI, BENCH_UPDATE, BENCH_SKIP_TESTS, ORGANIZATION,
# KUBERNETES): 1, true or yes turn one on; empty, 0, false or no leave it off; anything else is refused in one line.
FLAGS    := EPHEMERAL POD CLOUDTRAIL DRY_RUN FORCE BENCH_UPDATE BENCH_SKIP_TESTS ORGANIZATION KUBERNETES
FLAG_ON  := 1 true yes
FLAG_OFF := 0 false no
on = $(if $(filter $(FLAG_ON),$(strip $($(1)))),1)
$(foreach f,$(FLAGS),$(if $(filter-out $(FLAG_ON) $(FLAG_OFF),$(strip $($(f)))),$(error $(f)=$($(f)) is not a flag value: use $(f)=1 (or true, yes) to turn it on, $(f)=0 (or false, no, or nothing) to leave it off)))
# CI comes from the CI system's environment (CI=true): any value but empty, 0, false or no means a CI run.
in_ci = $(if $(filter-out $(FLAG_OFF),$(strip $(CI))),1)

# Context for every cdk command (synth, deploy, diff, destroy, bootstrap, diagram):
#   make synth CONTEXT='-c nat_gateways=2 -c verify=false'   any key of README's Configuration table
#   make deploy ENV=pr-42 EPHEMERAL=1                        shorthands for -c env_name / -c ephemeral
#   make deploy ADMIN=me                                     you (your role, via STS) as cluster admin
ENV       ?=
EPHEMERAL ?=
ADMIN     ?=
override CONTEXT := $(if $(ENV),-c env_name=$(ENV)) $(if $(call on,EPHEMERAL),-c ephemeral=true,$(if $(strip $(EPHEMERAL)),-c ephemeral=false)) $(CONTEXT)
CDK       := cdk
STACK     := $(if $(ENV),EksEnvelope-$(ENV),EksEnvelope)
# The report switch's name, from its one definition (stacks/__init__.py).
REPORT_ENV := $(shell sed -n 's/^REPORT_ENV = "\(.*\)"$$/\1/p' stacks/__init__.py)

# The eks_envelope package from this checkout, for `make verify` and the deploy preflight.
LIB       := PYTHONPATH=$(CURDIR)/constructs $(PY) -m eks_envelope
# One line, and exit 1, when no AWS credentials work (before the CLI prints its own dozen lines).
CREDENTIALS_CHECK := $(LIB).workstation credentials
# ADMIN=me[,arn:...] on every target that synthesizes (synth, diff, deploy): resolved in the recipe into $$admins
# (cdk.json's admin_principal_arns kept), then passed as -c admin_principal_arns. Only `me` needs credentials (STS).
RESOLVE_ADMINS := $(if $(ADMIN),admins=$$($(LIB).workstation admin-arns "$(ADMIN)" cdk.json) || exit 1; echo "cluster admins: $$admins" >&2;)
ADMIN_CONTEXT  := $(if $(ADMIN),-c "admin_principal_arns=$$admins")

.PHONY: help help-main deps bootstrap synth diff check test test-fast deploy destroy verify clean

# `make help`: these lines, then one or more from each mk/ fragment (each adds `help: help-<topic>`).
help: help-main
help-main:
	@echo "make synth     synthesize the app into cdk.out/ (no AWS account needed) [ADMIN=arn:...] [CONTEXT='-c key=value ...']"
	@echo "make test      the checks: scanners on the synthesized templates, then the test suite (= make check)"
	@echo "make test-fast the suite without its end-to-end tests (pytest -m 'not e2e'): about 30 s on 2 cores; make test runs both"
	@echo "make bootstrap once per account and region: the CDK's deploy resources (needs AWS credentials)"
	@echo "make deploy    deploy with your AWS credentials [ADMIN=me] [ENV=name EPHEMERAL=1] [CONTEXT=...] [CI=true: no approval prompt]"
	@echo "make diff      what a deploy would change [ADMIN=me] [ENV=name] [CONTEXT=...]"
	@echo "make destroy   destroy the stack after you type its name [ENV=name] [FORCE=1 or CI=true: no prompt]"
	@echo "make verify    verify a deployed cluster: CLUSTER=name [KEY=arn] [REGION=r] [POD=1] [CLOUDTRAIL=1]"
	@echo "make clean     remove what make wrote in this checkout (cdk.out, build/, dist/; not .venv or node_modules)"

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
	@$(RESOLVE_ADMINS) $(REPORT_ENV)=1 $(CDK) synth --quiet $(CONTEXT) $(ADMIN_CONTEXT)
	@echo "templates written to cdk.out/"

# `make check`: everything CI runs (.ci/run calls `make test`, README's test command; both mean this).
# Scanners first, so pytest's summary is the last line a CI log shows.
# The scan's synth runs aws-cdk-lib's built-in CloudFormation validation too (off in a plain synth).
# The scan (its synth included) and the suite each run with a fresh TMPDIR that must be empty afterwards:
# `make test` leaves the temp dir as it found it.
check: deps
	@CDK_VALIDATION=true $(PY) -m tests.tempdirs $(MAKE) --no-print-directory scan
	@$(PY) -m tests.tempdirs $(PY) -m pytest -q

test: check

# `make test-fast`: the fast tier while you work; no scanners, no end-to-end tests (tests/tiering.py says
# which those are: the product run in a subprocess). `make test` runs everything.
test-fast: deps
	@$(PY) -m tests.tempdirs $(PY) -m pytest -q -m 'not e2e'

bootstrap: deps
	@$(CREDENTIALS_CHECK)
	@$(CDK) bootstrap $(CONTEXT)

diff: deps
	@$(CREDENTIALS_CHECK)
	@$(RESOLVE_ADMINS) $(CDK) diff $(CONTEXT) $(ADMIN_CONTEXT)

# ADMIN (see RESOLVE_ADMINS): pass it on every deploy and diff, or put the ARNs in cdk.json's
# admin_principal_arns; a deploy without it removes the access entry again.
# Synthesized once, then deployed from cdk.out: in between, a stack that a failed first deploy left
# in ROLLBACK_COMPLETE (holding nothing) gets its termination protection lifted, or the CLI could not
# replace it (docs/operations.md#when-a-deploy-fails).
# --require-approval broadening asks before a change that widens IAM or security groups; the CLI asks
# only with a terminal on stdout, and without one fails such a deploy ("terminal (TTY) is not attached")
# rather than wait. CI=true deploys without asking (review the change with `make diff` first).
APPROVAL = $(if $(call in_ci),never,broadening)
deploy: deps
	@$(CREDENTIALS_CHECK)
	@$(RESOLVE_ADMINS) \
	 rm -rf cdk.out && $(CDK) synth --quiet $(CONTEXT) $(ADMIN_CONTEXT) && \
	 $(LIB).workstation release-failed-stacks cdk.out && \
	 $(CDK) deploy --app cdk.out --all --require-approval $(APPROVAL)

# Asks for the stack's name first, unless FORCE=1 or CI=true (without a terminal it refuses in one line).
destroy: deps
	@$(CREDENTIALS_CHECK)
	@$(if $(call on,FORCE)$(call in_ci),,$(LIB).workstation confirm-destroy "$(STACK)")
	@$(CDK) destroy $(CONTEXT) --force

# The same command a wheel installs as `eks-envelope verify`: the verifier's stages from this machine.
verify: deps
	@test -n "$(CLUSTER)" || { echo "usage: make verify CLUSTER=<name> [KEY=<key arn>] [REGION=<region>] [POD=1] [CLOUDTRAIL=1]" >&2; exit 2; }
	@$(LIB).console verify --cluster "$(CLUSTER)" $(if $(KEY),--key "$(KEY)") $(if $(REGION),--region "$(REGION)") $(if $(call on,POD),--pod-check) $(if $(call on,CLOUDTRAIL),--cloudtrail)

clean:
	rm -rf cdk.out cdk.out.* .pytest_cache build dist

# Topic fragments (scan, integ, diagram, bench, existing): each adds its own targets, its help lines
# and the variables it reads (KNOWN_VARIABLES).
include $(sort $(wildcard mk/*.mk))

# A variable this Makefile does not read is a mistake (`make synth NAT_GATEWAYS=2` would synthesize
# the defaults): refuse it and show the CONTEXT spelling. Each mk/ fragment adds the variables it
# reads to KNOWN_VARIABLES, so this check comes after them.
KNOWN_VARIABLES += ENV EPHEMERAL ADMIN CONTEXT CLUSTER KEY REGION POD CLOUDTRAIL PYTHON FORCE CI CDK_DISABLE_CLI_TELEMETRY
UNKNOWN_VARIABLES := $(filter-out $(KNOWN_VARIABLES),$(foreach v,$(.VARIABLES),$(if $(filter command line,$(origin $(v))),$(v))))
ifneq ($(UNKNOWN_VARIABLES),)
$(error $(firstword $(UNKNOWN_VARIABLES)) is not a setting of this Makefile: pass app settings as CONTEXT='-c $(shell echo $(firstword $(UNKNOWN_VARIABLES)) | tr A-Z a-z)=<value>' (README, Configuration))
endif
