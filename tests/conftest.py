"""Test-wide setup. Node >= 22 from node_modules goes first on PATH before jsii starts, so tests
run on the Node version `make` uses and never print jsii's Node 20 end-of-life banner."""
from __future__ import annotations

import os
from pathlib import Path

_NODE_BIN = Path(__file__).resolve().parents[1] / "node_modules" / ".bin"
if _NODE_BIN.is_dir() and str(_NODE_BIN) not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = f"{_NODE_BIN}{os.pathsep}{os.environ.get('PATH', '')}"
