# The `eks-envelope` command (verify, encrypt-existing) on your PATH, from this checkout.
#   make wheel         dist/eks_envelope-<version>-py3-none-any.whl, built from a copy outside the tree
#                      (setuptools' build/ and *.egg-info never land in the checkout)
#   make install-cli   that wheel with [verify] (boto3): with pipx when it is on PATH, else into the
#                      virtualenv CLI_VENV (default ~/.local/share/eks-envelope) linked as CLI_BIN/eks-envelope
.PHONY: wheel install-cli help-cli

KNOWN_VARIABLES += CLI_VENV CLI_BIN WHEEL_DIR

CLI_VENV ?= $(HOME)/.local/share/eks-envelope
CLI_BIN  ?= $(HOME)/.local/bin
WHEEL_DIR ?= dist

help: help-cli
help-cli:
	@echo "make install-cli  the eks-envelope command on your PATH (pipx, else CLI_VENV linked into CLI_BIN=~/.local/bin)"
	@echo "make wheel     the library as dist/eks_envelope-<version>-py3-none-any.whl (pip install '<wheel>[verify]')"

# The checkout without local state (as test_packaging builds it), copied to a temp dir and built there.
WHEEL_SOURCE_SKIP := ".venv*", "node_modules", "cdk.out*", ".git", "__pycache__", "*.egg-info", "build", "dist", ".pytest_cache"
wheel: deps
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	 $(PY) -c 'import shutil, sys; shutil.copytree(".", sys.argv[1], ignore=shutil.ignore_patterns($(WHEEL_SOURCE_SKIP)))' "$$tmp/src" && \
	 $(PY) -m pip wheel --quiet --no-deps --no-build-isolation -w "$$tmp/dist" "$$tmp/src" > "$$tmp/log" 2>&1 || { cat "$$tmp/log" >&2; exit 1; }; \
	 mkdir -p "$(WHEEL_DIR)" && cp "$$tmp"/dist/eks_envelope-*.whl "$(WHEEL_DIR)/" && echo "wheel: $(WHEEL_DIR)/$$(basename "$$tmp"/dist/eks_envelope-*.whl)"

install-cli: wheel
	@wheel=$$(ls -t "$(abspath $(WHEEL_DIR))"/eks_envelope-*.whl | head -1); \
	 if command -v pipx >/dev/null 2>&1; then \
	   pipx install --force "$$wheel[verify]" >/dev/null && echo "eks-envelope installed with pipx: $$(command -v eks-envelope || echo 'see pipx ensurepath')"; \
	 else \
	   { test -x "$(CLI_VENV)/bin/python" || $(PYTHON) -m venv --without-pip "$(CLI_VENV)"; } && \
	   $(PY) -m pip --python "$(CLI_VENV)/bin/python" install --quiet "$$wheel[verify]" && \
	   $(PY) -m pip --python "$(CLI_VENV)/bin/python" install --quiet --force-reinstall --no-deps "$$wheel" && \
	   mkdir -p "$(CLI_BIN)" && ln -sf "$(CLI_VENV)/bin/eks-envelope" "$(CLI_BIN)/eks-envelope" && \
	   echo "eks-envelope installed: $(CLI_BIN)/eks-envelope$$(case ":$$PATH:" in *":$(CLI_BIN):"*) ;; *) echo " (add $(CLI_BIN) to PATH)";; esac)"; \
	 fi
