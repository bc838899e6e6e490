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


def handler_root() -> Path:
    """The directory holding the ``verifier`` package: the Lambda asset's root."""
    for candidate in (_HERE / "_handler", _HERE.parents[1] / "lambda"):
        if (candidate / PACKAGE / "__init__.py").is_file():
            return candidate
    raise FileNotFoundError(f"the verifier handler is missing next to {_HERE}: reinstall eks-envelope")


def handler_dir() -> Path:
    """The ``verifier`` package itself."""
    return handler_root() / PACKAGE


def asset_dir() -> Path:
    """The Lambda asset: the directory the handler strings in ``contract`` (``VERIFIER_HANDLER`` ...) are relative to.

    It holds the package ``verifier`` alone, so the Lambda imports ``verifier.entry.dispatch`` and the package's
    relative imports work as they do in a checkout and in the wheel.
    """
    return handler_root()


def register() -> None:
    """Make ``eks_envelope._handler`` importable in a checkout too (the wheel has it as a directory)."""
    name = f"{__package__}._handler"
    if name in sys.modules or (_HERE / "_handler").is_dir():
        return
    shim = types.ModuleType(name, "The checkout's lambda/ directory, seen as the wheel's eks_envelope/_handler.")
    shim.__path__ = [str(handler_root())]  # type: ignore[attr-defined]
    sys.modules[name] = shim
