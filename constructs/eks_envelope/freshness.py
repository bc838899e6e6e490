"""``make freshness``: every dated fact the project carries, its source and age; exit 1 when one is due.

A fact is due when it has expired (its ``expires`` day is past) or was checked more than
``MAX_AGE_DAYS`` ago. This is a maintainer's check, apart from ``make test``: a stale fact changes
what synth warns about, never whether the suite passes.

    python -m eks_envelope.freshness [--today YYYY-MM-DD]
"""
from __future__ import annotations

import argparse
import datetime
import sys
from collections.abc import Sequence

from .facts import MAX_AGE_DAYS, Fact, all_facts, today


def status(fact: Fact, on: datetime.date) -> str:
    """'ok', or why the fact needs a new look."""
    if fact.expires is not None and on > fact.expires:
        return f"EXPIRED on {fact.expires}"
    age = (on - fact.checked).days
    if age > MAX_AGE_DAYS:
        return f"STALE: checked {age} days ago (more than {MAX_AGE_DAYS})"
    return "ok"


def report(on: datetime.date, facts: Sequence[Fact] | None = None) -> tuple[list[str], int]:
    """The lines to print and the number of facts due."""
    facts = all_facts() if facts is None else facts
    rows = [(f.name, f.value, str(f.checked), str((on - f.checked).days), str(f.expires or "-"), status(f, on), f.source)
            for f in facts]
    header = ("fact", "value", "checked", "age", "expires", "status", "source")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r[:-1], widths)) + "  " + r[-1] for r in [header, *rows]]
    due = sum(1 for r in rows if r[5] != "ok")
    lines.append(
        f"{due} of {len(rows)} facts due on {on}: update constructs/eks_envelope/facts.py from the sources above"
        if due else f"all {len(rows)} facts fresh on {on} (checked within {MAX_AGE_DAYS} days, none expired)"
    )
    return lines, due


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make freshness", description=__doc__.splitlines()[0])
    parser.add_argument("--today", type=datetime.date.fromisoformat, default=None,
                        help="judge the facts as on this day (YYYY-MM-DD; default: today or EKS_ENVELOPE_TODAY)")
    args = parser.parse_args(argv)
    lines, due = report(args.today or today())
    print("\n".join(lines))
    return 1 if due else 0


if __name__ == "__main__":
    sys.exit(main())
