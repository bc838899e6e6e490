#!/usr/bin/env python3
"""Print the integ-tests-alpha assertion results from `cdk deploy --outputs-file` and fail on any failure.

integ-tests-alpha writes each assertion's result to a stack output ``AssertionResults<id>`` as JSON
(``{"status": "success"}`` or ``{"status": "fail", "message": ...}``); integ-runner reads them the
same way. Usage: ``report_assertions.py outputs.json``; exit 0 only when every assertion passed
and there was at least one.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

PREFIX = "AssertionResults"


def assertion_results(outputs: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """``{"<stack>.<output>": {"status": ..., "message": ...}}`` for every assertion output."""
    results: dict[str, dict[str, Any]] = {}
    for stack, values in outputs.items():
        for key, raw in values.items():
            if not key.startswith(PREFIX):
                continue
            try:
                result = json.loads(raw)
            except (TypeError, json.JSONDecodeError):
                result = {"status": "fail", "message": f"unreadable assertion result: {raw!r}"}
            results[f"{stack}.{key}"] = result
    return results


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    results = assertion_results(json.loads(Path(argv[1]).read_text()))
    if not results:
        print("FAIL  no assertion results found in the stack outputs (did the assertions stack deploy?)")
        return 1
    failed = 0
    for name, result in sorted(results.items()):
        ok = result.get("status") == "success"
        failed += not ok
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
        if not ok:
            print("      " + str(result.get("message", result)).replace("\n", "\n      "))
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
