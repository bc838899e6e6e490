# `make audit`: every EKS cluster of the given accounts and regions, read-only (docs/audit.md): the same
# command a wheel installs as `eks-envelope audit`. Exit 0 only when every cluster is cmk-verified and
# every account/region was read, 1 otherwise, 2 on a usage error, so CI can gate on it.
#   make audit                                               the current account, every enabled EKS region
#   make audit ACCOUNTS=111111111111,222222222222 ROLE=Audit REGIONS=eu-west-1,us-east-1 JSON=audit.json
#   make audit ORGANIZATION=1 ROLE=OrganizationAccountAccessRole MARKDOWN=audit.md
.PHONY: audit help-audit

KNOWN_VARIABLES += ACCOUNTS ORGANIZATION ROLE EXTERNAL_ID REGIONS CONCURRENCY JSON MARKDOWN KUBERNETES

help: help-audit
help-audit:
	@echo "make audit     audit every EKS cluster, read-only [ACCOUNTS=id,id | ORGANIZATION=1] [ROLE=name] [REGIONS=r,r] [JSON=f] [MARKDOWN=f] [CLOUDTRAIL=1] [KUBERNETES=1]"

audit: deps
	@$(CREDENTIALS_CHECK)
	@$(LIB).console audit $(if $(ACCOUNTS),--accounts "$(ACCOUNTS)") $(if $(call on,ORGANIZATION),--organization) \
	  $(if $(ROLE),--role-name "$(ROLE)") $(if $(EXTERNAL_ID),--external-id "$(EXTERNAL_ID)") $(if $(REGIONS),--regions "$(REGIONS)") \
	  $(if $(CONCURRENCY),--concurrency "$(CONCURRENCY)") $(if $(JSON),--json "$(JSON)") $(if $(MARKDOWN),--markdown "$(MARKDOWN)") \
	  $(if $(call on,CLOUDTRAIL),--cloudtrail) $(if $(call on,KUBERNETES),--kubernetes)
