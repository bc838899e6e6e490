# Architecture picture from the synthesized template: docs/architecture.{dot,svg,png}.
#   make diagram [ENV=name EPHEMERAL=true] [CONTEXT=...]
# Needs Graphviz's `dot` on PATH, a system package this Makefile does not install:
#   Debian/Ubuntu: sudo apt-get install graphviz     macOS: brew install graphviz
.PHONY: diagram diagram-tools help-diagram

DIAGRAM_STACK := $(if $(ENV),EksEnvelope-$(ENV),EksEnvelope)

help: help-diagram
help-diagram:
	@echo "make diagram   regenerate docs/architecture.svg from the synthesized template (needs Graphviz dot)"

# Checked before the synth, so a missing `dot` costs no synth.
diagram-tools:
	@command -v dot >/dev/null 2>&1 || { \
	  echo "Graphviz 'dot' is missing: install it (Debian/Ubuntu: sudo apt-get install graphviz; macOS: brew install graphviz) and re-run make diagram" >&2; \
	  exit 1; }

diagram: diagram-tools synth
	@$(PY) scripts/diagram.py cdk.out/$(DIAGRAM_STACK).template.json docs/architecture.dot
	@dot -Tsvg docs/architecture.dot -o docs/architecture.svg
	@dot -Tpng -Gdpi=110 docs/architecture.dot -o docs/architecture.png
	@echo "wrote docs/architecture.svg and docs/architecture.png"
