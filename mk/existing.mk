# `make encrypt-existing`: put a live cluster's secrets under your KMS key, re-encrypt what is stored
# and prove it (docs/existing-clusters.md). The region comes from the key ARN unless REGION says it. Checks first and changes nothing on a refusal; DRY_RUN=1
# prints every step and how many Secrets it would rewrite. Exit 3: the update is still in progress,
# run the same command again to resume.
.PHONY: encrypt-existing help-existing

KNOWN_VARIABLES += DRY_RUN

help: help-existing
help-existing:
	@echo "make encrypt-existing  existing cluster under your key: CLUSTER=name KEY=arn [REGION=r] [DRY_RUN=1]"

encrypt-existing: deps
	@test -n "$(CLUSTER)" -a -n "$(KEY)" || { echo "usage: make encrypt-existing CLUSTER=<name> KEY=<key arn> [REGION=<region>] [DRY_RUN=1]" >&2; exit 2; }
	@$(LIB).console encrypt-existing --cluster "$(CLUSTER)" --key "$(KEY)" $(if $(REGION),--region "$(REGION)") $(if $(call on,DRY_RUN),--dry-run)
