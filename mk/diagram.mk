# Architecture picture from the synthesized template: docs/architecture.{dot,svg,png}.
#   make diagram [ENV=name EPHEMERAL=true]
# Needs Graphviz `dot` (Debian package graphviz): installed here when missing and running as root.
.PHONY: diagram

DIAGRAM_STACK := $(if $(ENV),EksEnvelope-$(ENV),EksEnvelope)

diagram: deps
	@command -v dot >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing graphviz (apt-get)"; \
	    apt-get install -y -qq graphviz >/dev/null 2>&1 || { apt-get update -qq >/dev/null && apt-get install -y -qq graphviz >/dev/null; }; \
	  else \
	    echo "Graphviz 'dot' is missing: install it (Debian/Ubuntu: sudo apt-get install graphviz; macOS: brew install graphviz) and re-run make diagram" >&2; \
	    exit 1; \
	  fi; }
	@$(CDK) synth --quiet $(CONTEXT) -o cdk.out
	@$(PY) scripts/diagram.py cdk.out/$(DIAGRAM_STACK).template.json docs/architecture.dot
	@dot -Tsvg docs/architecture.dot -o docs/architecture.svg
	@dot -Tpng -Gdpi=110 docs/architecture.dot -o docs/architecture.png
	@echo "wrote docs/architecture.svg and docs/architecture.png"
