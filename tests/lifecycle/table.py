"""Print the lifecycle table (scenario -> final state) per configuration, as the model computes it.

    .venv/bin/python -m tests.lifecycle.table        # from the repository root; Markdown on stdout
"""
from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
for root in (REPO / "constructs", REPO / "lambda" / "verifier", REPO):
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))

from eks_envelope.validation import EnvelopeConfigError  # noqa: E402
from tests.lifecycle import scenarios  # noqa: E402
from tests.lifecycle.configs import CONFIGURATIONS  # noqa: E402


def _first(reasons: list[str]) -> str:
    return reasons[0][:160] if reasons else ""


def table(name: str) -> list[str]:
    try:
        templates = CONFIGURATIONS[name]()
    except EnvelopeConfigError as err:
        return [f"### {name}", "", f"does not synthesize: {str(err)[:200]}", ""]
    lines = [f"### {name}", "", "| scenario | final state | detail |", "|---|---|---|"]
    rows = scenarios.failed_first_create(templates)
    counts = Counter(r.status for r in rows)
    clean = sum(r.clean for r in rows)
    lines.append(
        f"| failed first create, at each of {len(rows)} resources | "
        + ", ".join(f"{status} x{n}" for status, n in sorted(counts.items()))
        + f" | {clean} clean (only keys left, same names free again) |"
    )
    for row in rows:
        if not row.clean:
            lines.append(
                f"| &nbsp; fail at `{row.failed_at}` | {row.status}; same names again: {row.names_status.split(':')[0]} "
                f"| {len(row.disallowed)} non-key survivors, {len(row.broken)} broken; {_first(row.reasons or row.names_reasons)} |"
            )
    redeploy = Counter(r.redeploy_status for r in rows)
    lines.append(f"| `make deploy` again after each | {', '.join(f'{s} x{n}' for s, n in sorted(redeploy.items()))} | "
                 f"{_first(next((r.redeploy_reasons for r in rows if r.redeploy_status != 'CREATE_COMPLETE'), []))} |")
    delete = scenarios.plain_delete(templates)
    lines.append(f"| delete (`cdk destroy`) | {delete.status} | {_first(delete.reasons)} |")
    if templates[-1].termination_protection:
        lifted = scenarios.plain_delete(templates, lift_termination_protection=True)
        lines.append(f"| delete, termination protection off by hand | {lifted.status} | {_first(lifted.reasons)}; "
                     f"survivors: {len(lifted.survivors)} |")
    status, reasons = scenarios.verification_update_rollback(templates)
    lines.append(f"| update whose verification fails (key disabled by hand) | {status} | {_first(reasons[1:])} |")
    gaps = scenarios.handler_delete_gaps(templates[-1])
    lines.append(f"| custom resources' Delete reaches the handler | {'yes' if not any(gaps.values()) else 'no'} | {gaps} |")
    return lines + [""]


def main() -> None:
    for name in ("default", "ephemeral", "composition"):
        print("\n".join(table(name)))
    try:
        removal = scenarios.teardown(CONFIGURATIONS["default"](), CONFIGURATIONS["teardown"]())
        print(f"### teardown path\n\n{removal.status}: {removal.steps}; survivors {removal.survivors}; broken {removal.broken}")
    except EnvelopeConfigError as err:
        print(f"### teardown path\n\nthe teardown variant does not synthesize: {str(err)[:200]}")


if __name__ == "__main__":
    main()
