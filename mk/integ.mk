# Integration test (tests/integ/integ_envelope.py, integ-tests-alpha).
#   make integ                  offline: synthesize the integ app and compare it with its snapshot
#   make integ-deploy ENV=name  with an AWS account: a failing first deploy (ROLLBACK_COMPLETE), a same-name
#                               redeploy with the assertions, the production teardown; cleans up also on failure
# Why the aws-cdk CLI and not integ-runner, and the one line to switch: docs/integ.md.
.PHONY: integ integ-deploy help-integ

KNOWN_VARIABLES += INTEG_ENV

help: help-integ
help-integ:
	@echo "make integ     integration-test app against its snapshot (offline); integ-deploy ENV=name for real"

INTEG_ENV ?= $(if $(ENV),$(ENV),integ)

integ: deps
	@$(PY) -m pytest -q tests/integ

# Credentials first, like every account target: without them the script would synthesize, then fail its first step.
integ-deploy: deps
	@$(CREDENTIALS_CHECK)
	@PY="$(PY)" CDK="$(CDK)" tests/integ/deploy_and_destroy.sh "$(INTEG_ENV)"
