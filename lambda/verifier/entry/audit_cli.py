"""``eks-envelope audit``: is every EKS cluster in these accounts and regions envelope-encrypting under a CMK?

Exit codes: 0 every cluster is cmk-verified and every account/region was read; 1 any cluster is not, or an
account/region could not be read (it may hide clusters); 2 usage error. docs/audit.md documents the options,
the JSON schema and what each verdict means.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from typing import Any, Callable, Sequence, TextIO

from ..stages import audit
from .. import jsonlog

_ACCOUNT = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")

EPILOG = """verdicts: cmk-verified, aws-owned-key, key-problem, cluster-problem, no-access, error
exit codes: 0 every cluster cmk-verified and every account/region read; 1 otherwise; 2 usage error
endpoints: boto3 honours AWS_ENDPOINT_URL (and AWS_ENDPOINT_URL_<SERVICE>), e.g. to point at a local emulator
docs: docs/audit.md (JSON schema, permissions, what each verdict means)"""


def _accounts(text: str) -> list[str]:
    values = [a.strip() for a in text.split(",") if a.strip()]
    bad = [a for a in values if not _ACCOUNT.match(a)]
    if not values or bad:
        raise argparse.ArgumentTypeError(f"{text!r}: expected 12-digit account ids separated by commas, e.g. 111111111111,222222222222")
    return values


def _regions(text: str) -> list[str]:
    values = [r.strip() for r in text.split(",") if r.strip()]
    bad = [r for r in values if not _REGION.match(r)]
    if not values or bad:
        raise argparse.ArgumentTypeError(f"{text!r}: expected region names separated by commas, e.g. us-east-1,eu-west-1")
    return values


def _workers(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 256:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a number of workers from 1 to 256")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="eks-envelope audit", formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG,
        description="Read-only audit of every EKS cluster in the given accounts and regions: is its API data "
                    "envelope-encrypted under a customer managed KMS key that is usable, rotating and granted?")
    scope = p.add_mutually_exclusive_group()
    scope.add_argument("--accounts", type=_accounts, metavar="ID,ID", help="accounts to audit (default: the current credentials' account)")
    scope.add_argument("--organization", action="store_true", help="every ACTIVE account of the organization (Organizations ListAccounts)")
    p.add_argument("--role-name", help="role to assume in every account other than the current one (STS AssumeRole)")
    p.add_argument("--external-id", help="external id for AssumeRole, when the role's trust policy requires one")
    p.add_argument("--regions", type=_regions, metavar="R,R",
                   help="regions to audit (default: every region EKS offers that the account has enabled: EC2 DescribeRegions)")
    p.add_argument("--concurrency", type=_workers, default=audit.DEFAULT_CONCURRENCY,
                   help="parallel workers over accounts x regions x clusters (default: %(default)s)")
    p.add_argument("--cloudtrail", action="store_true", help="also look for KMS calls by each cluster role on its key (CloudTrail LookupEvents)")
    p.add_argument("--cloudtrail-hours", type=float, default=24.0, help="how far back --cloudtrail looks (default: %(default)s)")
    p.add_argument("--kubernetes", action="store_true",
                   help="also write, read back and delete a canary Secret where this machine can reach the API server "
                        "and has an access entry (default: no Kubernetes call)")
    p.add_argument("--json", metavar="FILE", help="write the result as JSON (schema: docs/audit.md); - for stdout")
    p.add_argument("--markdown", metavar="FILE", help="write a report for people as Markdown")
    p.add_argument("--quiet", action="store_true", help="no progress and no table (files and the exit code only)")
    return p


# ---------------------------------------------------------------------------------------------
# progress


class Progress:
    """One redrawn line on a terminal; otherwise a plain line at every tenth of the clusters (and at the end)."""

    def __init__(self, stream: TextIO, tty: bool | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream
        self.tty = stream.isatty() if tty is None else tty
        self.clock = clock
        self.started = clock()
        self._last_decile = -1

    def __call__(self, s: dict[str, int]) -> None:
        total, done = s["clusters"], s["clusters_done"]
        text = (f"{done}/{total} clusters, {s['regions_done']}/{s['regions']} regions, {s['accounts']} accounts, "
                f"{s['errors']} errors, {self.clock() - self.started:.0f}s")
        if self.tty:
            width = 24
            filled = int(width * done / total) if total else 0
            print(f"\raudit [{'#' * filled}{'.' * (width - filled)}] {text}\x1b[K", end="", file=self.stream, flush=True)
            return
        decile = (10 * done // total) if total else 0
        if decile > self._last_decile and s["regions_done"] == s["regions"]:
            self._last_decile = decile
            print(f"audit: {text}", file=self.stream, flush=True)

    def close(self) -> None:
        if self.tty:
            print(file=self.stream, flush=True)


# ---------------------------------------------------------------------------------------------
# outputs


def as_json(result: audit.AuditResult, options: audit.AuditOptions, version: str = "unknown") -> dict[str, Any]:
    """The report; ``version`` is the eks-envelope release the ``eks-envelope`` command passes (the handler knows none)."""
    return {
        "schema_version": audit.SCHEMA_VERSION,
        "tool": {"name": "eks-envelope audit", "version": version},
        "started_at": result.started_at,
        "finished_at": result.finished_at,
        "scope": {"organization": options.organization, "accounts": result.accounts, "regions": result.regions,
                  "role_name": options.role_name, "cloudtrail": options.cloudtrail, "kubernetes": options.kubernetes},
        "summary": {"clusters": len(result.clusters), "verdicts": result.counts(), "errors": len(result.errors),
                    "all_verified": result.all_verified, "aws_calls": result.calls},
        "clusters": [c.as_json() for c in result.clusters],
        "errors": [e.as_json() for e in result.errors],
        "skipped": result.skipped,
    }


def table(result: audit.AuditResult) -> str:
    rows = [("ACCOUNT", "REGION", "CLUSTER", "VERDICT", "KEY", "REASON")]
    for c in result.clusters:
        key = c.key_arn.split("/")[-1] if c.key_arn else "-"
        rows.append((c.account, c.region, c.cluster, c.verdict, key, (c.reasons[0] if c.reasons else "")[:100]))
    for e in result.errors:
        rows.append((e.account, e.region or "*", "-", "(not read)", "-", f"{e.operation}: {e.code}"))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = ["  ".join(r[i].ljust(widths[i]) for i in range(5)) + "  " + r[5] for r in rows]
    counts = ", ".join(f"{n} {v}" for v, n in result.counts().items() if n)
    lines.append(f"{len(result.clusters)} clusters ({counts or 'none'}); {len(result.errors)} accounts/regions not read")
    lines.append("RESULT: every cluster cmk-verified" if result.all_verified else "RESULT: NOT every cluster is cmk-verified")
    return "\n".join(lines)


def markdown(result: audit.AuditResult) -> str:
    counts = result.counts()
    out = ["# EKS envelope encryption audit", "",
           f"Checked {result.started_at} to {result.finished_at}: {len(result.clusters)} clusters in "
           f"{len(result.accounts)} accounts. " + ("**Every cluster is cmk-verified.**" if result.all_verified
                                                   else "**Not every cluster is cmk-verified.**"), "",
           "| Verdict | Clusters |", "|---|---|"]
    out += [f"| {v} | {n} |" for v, n in counts.items()]
    problems = [c for c in result.clusters if c.verdict != "cmk-verified"]
    if problems:
        out += ["", "## Clusters that need action", "", "| Account | Region | Cluster | Verdict | Why |", "|---|---|---|---|---|"]
        out += [f"| {c.account} | {c.region} | {c.cluster} | {c.verdict} | {_cell('; '.join(c.reasons))} |" for c in problems]
    if result.errors:
        out += ["", "## Accounts and regions not read", "", "Their clusters are unknown, not fine.", "",
                "| Account | Region | Call | Code | Message |", "|---|---|---|---|---|"]
        out += [f"| {e.account} | {e.region or 'all'} | {e.operation} | {e.code} | {_cell(e.message)} |" for e in result.errors]
    warned = [c for c in result.clusters if c.warnings]
    if warned:
        out += ["", "## Warnings", ""]
        out += [f"- {c.account}/{c.region}/{c.cluster}: {_cell('; '.join(c.warnings))}" for c in warned]
    verified = [c for c in result.clusters if c.verdict == "cmk-verified"]
    if verified:
        out += ["", "## Verified", "", "| Account | Region | Cluster | Key | Version |", "|---|---|---|---|---|"]
        out += [f"| {c.account} | {c.region} | {c.cluster} | {c.key_arn} | {c.version or '?'} |" for c in verified]
    return "\n".join(out) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _write(path: str, text: str, out: TextIO) -> None:
    if path == "-":
        out.write(text)
        return
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


# ---------------------------------------------------------------------------------------------
# main


def main(argv: Sequence[str] | None = None, *, connector: audit.Connector | None = None, out: TextIO | None = None,
         err: TextIO | None = None, now: Callable[[], Any] | None = None, version: str = "unknown") -> int:
    out, err = out or sys.stdout, err or sys.stderr
    p = parser()
    args = p.parse_args(argv)  # argparse exits 2 on usage errors
    jsonlog.configure(stream=err, min_level="OFF")  # the verifier's stage logs; stdout may carry --json -
    options = audit.AuditOptions(
        accounts=args.accounts, organization=args.organization, role_name=args.role_name, external_id=args.external_id,
        regions=args.regions, concurrency=args.concurrency, cloudtrail=args.cloudtrail,
        cloudtrail_lookback_hours=args.cloudtrail_hours, kubernetes=args.kubernetes)
    progress = None if args.quiet or args.json == "-" else Progress(err)
    kwargs: dict[str, Any] = {"progress": progress}
    if now is not None:
        kwargs["now"] = now
    try:
        auditor = audit.Auditor(options, connector, **kwargs)
        result = auditor.run()
    except audit.UsageError as exc:
        print(f"eks-envelope audit: error: {exc}", file=err)
        return 2
    except Exception as exc:  # noqa: BLE001 - no credentials, no route: one line, exit 1
        print(f"eks-envelope audit: cannot start: {type(exc).__name__}: {exc}", file=err)
        return 1
    finally:
        if progress is not None:
            progress.close()
    if args.json:
        _write(args.json, json.dumps(as_json(result, options, version), indent=2, default=str) + "\n", out)
    if args.markdown:
        _write(args.markdown, markdown(result), out)
    if not args.quiet and args.json != "-" and args.markdown != "-":
        print(table(result), file=out)
    return 0 if result.all_verified else 1


if __name__ == "__main__":
    sys.exit(main())
