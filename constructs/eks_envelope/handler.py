"""Where the verifier handler's code is, and how the library imports the part it shares with it (stdlib only).

The handler is the package ``verifier``: ``lambda/verifier`` in a checkout, ``eks_envelope/_handler/verifier``
in the wheel. Either way the library imports it as ``eks_envelope._handler.verifier`` (this module
registers a checkout's ``lambda/`` under that name), so ``contract.py`` is one file read by both sides.
"""
from __future__ import annotations

import sys
import types
from pathlib import Path

#: The handler package's name inside the Lambda asset (the asset's root holds this one directory).
PACKAGE = "verifier"
_HERE = Path(__file__).resolve().parent


def asset_dir() -> Path:
    """The Lambda asset: the directory holding the package ``verifier`` alone, which the handler strings in
    ``contract`` (``VERIFIER_HANDLER`` ...) are relative to; so the Lambda imports ``verifier.entry.dispatch``
    and the package's relative imports work as they do in a checkout and in the wheel.
    """
    for candidate in (_HERE / "_handler", _HERE.parents[1] / "lambda"):
        if (candidate / PACKAGE / "__init__.py").is_file():
            return candidate
    raise FileNotFoundError(f"the verifier handler is missing next to {_HERE}: reinstall eks-envelope")


def register() -> None:
    """Make ``eks_envelope._handler`` importable in a checkout too (the wheel has it as a directory)."""
    name = f"{__package__}._handler"
    if name in sys.modules or (_HERE / "_handler").is_dir():
        return
    shim = types.ModuleType(name, "The checkout's lambda/ directory, seen as the wheel's eks_envelope/_handler.")
    shim.__path__ = [str(asset_dir())]  # type: ignore[attr-defined]
    sys.modules[name] = shim
