"""Text the handler puts in front of people: server text made safe, and a failure reason that fits.

Stdlib only and import-free, so the wire contract (``contract.py``) and every layer of the handler can use it.
"""
from __future__ import annotations

import re
from typing import Any

#: CloudFormation shows a custom resource's reason in full only up to this many characters.
MAX_REASON = 256

_ANY_ARN = re.compile(r"arn:aws[\w-]*:[\w-]+:[\w-]*:\d*:([\w/+=,.@:-]+)")


def fit_reason(stage: str, problem: str, fix: str = "", note: str = "", limit: int = MAX_REASON) -> str:
    """``Stage <name>: <problem> <fix> <note>`` in at most ``limit`` characters; the problem is shortened first.

    ARNs in the problem shrink to their resource part before anything is cut, so the fix survives.
    """
    head = f"Stage {stage}: "
    problem = problem.strip().rstrip(".") + "." if problem.strip() else ""

    def join(p: str, n: str) -> str:
        return " ".join(part for part in (head + p, fix, n) if part.strip())

    text = join(problem, note)
    if len(text) <= limit:
        return text
    problem = _ANY_ARN.sub(lambda m: m.group(1), problem)
    text = join(problem, note)
    if len(text) <= limit:
        return text
    room = limit - len(join("", note)) - 1
    if room >= 40:
        return join(problem[: room - 1].rstrip() + "…", note)
    note = ""  # the leftover note is in the logs too; the fix is not negotiable
    room = limit - len(join("", "")) - 1
    if room >= 40:
        return join(problem[: room - 1].rstrip() + "…", "")
    return text[: limit - 1] + "…"


def scrub(text: Any, limit: int, *, keep_newlines: bool = False) -> str:
    """Server text made safe for a reason or log: tags removed, printable ASCII only, whitespace collapsed, bounded."""
    value = re.sub(r"<[^>]{0,200}>", " ", str(text or ""))
    if keep_newlines:
        lines = ("".join(ch if 32 <= ord(ch) < 127 else " " for ch in line) for line in value.splitlines())
        return "\n".join(" ".join(line.split()) for line in lines)[:limit]
    value = "".join(ch if 32 <= ord(ch) < 127 else " " for ch in value)
    value = " ".join(value.split())
    return value if len(value) <= limit else value[: limit - 1] + "~"
