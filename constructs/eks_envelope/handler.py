"""Where the verifier handler's code is: the Lambda asset and the ``eks-envelope`` command's code (stdlib only)."""
from __future__ import annotations

from pathlib import Path


def handler_dir() -> Path:
    """The verifier handler: shipped in the wheel as ``_verifier_handler``, or lambda/verifier in a checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_verifier_handler", here.parents[1] / "lambda" / "verifier"):
        if (candidate / "index.py").is_file():
            return candidate
    raise FileNotFoundError(f"the verifier handler is missing next to {here}: reinstall eks-envelope")
