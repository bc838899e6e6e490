"""The wire contract, as the library sees it: the handler's ``verifier/contract.py``, the one module both sides import.

Names, defaults and ``to_properties()`` / ``from_properties()`` for each custom resource live there
(stdlib only); this module only makes it importable as ``eks_envelope.contract``.
"""
from __future__ import annotations

from .handler import register as _register

_register()

from ._handler.verifier.contract import *  # noqa: E402,F401,F403  (the contract's public names)
