"""The suite's two tiers: end-to-end tests, marked ``e2e``, and the fast tier (``pytest -m "not e2e"``).

A test is end-to-end when it starts a real program in a subprocess, as a user or `make` would: a make
target, the aws-cdk CLI, ``python app.py`` or another of the project's scripts, pip building or installing
the wheel, the installed command, git for a fresh clone, the scanners (cfn-lint, cfn-guard, checkov) on the
templates, pytest itself. Such a test carries ``@pytest.mark.e2e``. The fast tier runs in-process only:
the synths, the handler against its fakes, the rules and models.

This plugin (loaded by tests/conftest.py) fails any other test the moment it starts a subprocess whose
program is not one the fast tier may start (``fast_tier_allows``): an end-to-end test cannot land in the
fast tier unmarked, in either tier's run. docs/development.md, "Suite tiers", says what each tier holds.
"""
from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest

MARKER = "e2e"
#: What Python starts on its own (platform's `uname -p`).
FAST_TIER_PROGRAMS = frozenset({"uname"})
_PYTHON = re.compile(r"python[0-9.]*")

_running: list[pytest.Item] = []  # the item whose setup, call or teardown is running


def _argv(args: Any, shell: bool) -> list[str]:
    if isinstance(args, (str, bytes, os.PathLike)):
        text = os.fsdecode(args)
        return shlex.split(text) if shell else [text]
    return [os.fsdecode(a) for a in args]


def fast_tier_allows(args: Any, *, shell: bool = False, fakes: Path | None = None) -> bool:
    """Whether a test outside the e2e tier may start this command (``subprocess.Popen``'s ``args``): jsii's
    kernel, a Python snippet (``python -c``), or a fake program the test wrote under ``fakes`` (its tmp_path's root)."""
    argv = _argv(args, shell)
    if not argv:
        return True
    program = Path(argv[0]).name
    if program in FAST_TIER_PROGRAMS:
        return True
    if program == "node" and any(a.endswith("jsii-runtime.js") for a in argv[1:]):
        return True  # jsii's kernel, started by the first import of aws_cdk (or any jsii library)
    if fakes is not None and Path(argv[0]).is_absolute() and Path(argv[0]).resolve().is_relative_to(fakes.resolve()):
        return True  # a stand-in the test wrote (tests/test_scan.py's checkov)
    # A Python snippet (`python -c ...`, as tests/test_tempdirs.py and pytest-xdist start): no script, no module.
    return bool(_PYTHON.fullmatch(program)) and "-c" in argv[1:3] and all(a.startswith("-") for a in argv[1:argv.index("-c")])


def _fakes_root(item: pytest.Item) -> Path | None:
    factory = getattr(item.config, "_tmp_path_factory", None)  # the root of every tmp_path of this run (or worker)
    return factory.getbasetemp() if factory is not None else None


def _guarded(original: Any) -> Any:
    def __init__(self: subprocess.Popen, args: Any, *rest: Any, **kwargs: Any) -> None:
        item = _running[-1] if _running else None
        if item is not None and item.get_closest_marker(MARKER) is None and not fast_tier_allows(
                args, shell=kwargs.get("shell", False), fakes=_fakes_root(item)):
            command = args if isinstance(args, str) else " ".join(map(os.fsdecode, args))
            pytest.fail(f"{item.nodeid} starts `{command[:200]}`: a test that starts a real program (the product, a make "
                        f"target, a scanner) is end-to-end; mark it @pytest.mark.e2e (docs/development.md, Suite tiers)",
                        pytrace=False)
        original(self, args, *rest, **kwargs)

    __init__.__wrapped__ = original  # type: ignore[attr-defined]
    return __init__


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(subprocess.Popen.__init__, "__wrapped__"):
        subprocess.Popen.__init__ = _guarded(subprocess.Popen.__init__)  # type: ignore[method-assign]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):  # noqa: ARG001
    _running.append(item)
    try:
        yield
    finally:
        _running.pop()
