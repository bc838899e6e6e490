# `make freshness`: the dated facts the project carries (EKS version calendar, Node and Lambda runtime
# end of life, newest aws-cdk-lib / aws-cdk known), each with its source and age; exits 1 when one has
# expired or was checked more than 120 days ago. Not part of `make test`: a stale fact is a
# maintainer's to-do, never a red suite. Standard library only, so it needs no `make deps`.
#   make freshness                    as of today
#   make freshness TODAY=2027-06-01   as of another day
.PHONY: freshness help-freshness

KNOWN_VARIABLES += TODAY

help: help-freshness
help-freshness:
	@echo "make freshness the dated facts (EKS calendar, runtimes, versions) with source and age; fails when one is due [TODAY=YYYY-MM-DD]"

freshness:
	@PYTHONPATH=$(CURDIR)/constructs $(PYTHON) -m eks_envelope.freshness $(if $(TODAY),--today "$(TODAY)")
