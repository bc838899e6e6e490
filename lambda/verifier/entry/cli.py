"""Workstation check: run the verifier's stages against any cluster with local credentials.

Usage: eks-envelope verify --cluster NAME [--key ARN] [--region R] [--pod-check] [--cloudtrail]
       [--cloudtrail-required] [--json]
Exit codes: 0 verified, 1 a check failed (or AWS/credentials error), 2 usage error.
"""
from __future__ import annotations

import argparse
import getpass
import json
import socket
import sys
import time
from typing import Any, Callable, Sequence

from .. import contract
from .. import jsonlog
from ..aws.clients import Clients, build_clients
from ..model import EVIDENCE, Config, Report, Runtime, VerificationError
from ..stages.verification import run_verification


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Verify EKS secrets envelope encryption end to end.")
    p.add_argument("--cluster", required=True, help="EKS cluster name")
    p.add_argument("--key", help="expected KMS key ARN or alias (default: the cluster's own encryptionConfig key)")
    p.add_argument("--region", help="AWS region (default: from the AWS profile/environment)")
    p.add_argument("--namespace", default=contract.CANARY_NAMESPACE, help="canary namespace (default: %(default)s)")
    p.add_argument("--pod-check", action="store_true", help="also run a Fargate pod that reads the canary Secret")
    p.add_argument("--pod-image", default=contract.POD_IMAGE, help="canary pod image (default: %(default)s)")
    p.add_argument("--pod-timeout", type=float, default=float(contract.POD_TIMEOUT_SECONDS), help="seconds to wait for the pod (default: %(default)s)")
    p.add_argument("--cloudtrail", action="store_true", help="also look for KMS calls by the cluster role in CloudTrail")
    p.add_argument("--cloudtrail-required", action="store_true", help="strict: fail without CloudTrail evidence (implies --cloudtrail)")
    p.add_argument("--cloudtrail-wait", type=float, default=float(contract.CLOUDTRAIL_WAIT_SECONDS), help="seconds to wait for CloudTrail (default: %(default)s)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--verbose", action="store_true", help="print the JSON logs (stderr); default: warnings only")
    return p


def _default_clients(region: str | None) -> tuple[Clients, str]:
    import boto3

    resolved = region or boto3.session.Session().region_name
    if not resolved:
        raise SystemExit("error: no region: pass --region or set AWS_REGION / a profile region")
    # x509_strict=False clears only VERIFY_X509_STRICT (Python 3.13+): CAs of clusters first created before
    # Kubernetes 1.17 have no Authority Key Identifier. The CA pin and the hostname check stay.
    return build_clients(resolved, budget_seconds=contract.BUDGET_SECONDS, x509_strict=False), resolved


def render(report: Report, failure: str | None) -> str:
    lines = [f"EKS envelope encryption check: cluster {report.cluster_name}" + (f", key {report.key_arn}" if report.key_arn else "")]
    lines.append(f"{'STAGE':<18}{'STATUS':<19}{'MS':>7}  {'AWS':>3} {'K8S':>3}  DETAIL")
    for r in report.results:
        lines.append(f"{r.name:<18}{r.status:<19}{r.ms:>7}  {r.aws:>3} {r.k8s:>3}  {r.detail}")
    lines.append("EVIDENCE:")
    for level, meaning in EVIDENCE.items():
        lines.append(f"  [{'x' if level in report.evidence else ' '}] {level:<22}{meaning}")
    if report.support is not None:
        lines.append(f"SUPPORT: Kubernetes {report.support.summary()} (EKS DescribeClusterVersions)")
    lines.extend(f"WARNING: {w}" for w in report.warnings)
    if report.leftovers:
        lines.append(f"LEFTOVERS: {', '.join(report.leftovers)} (delete them in the canary namespace)")
    lines.append(f"RESULT: FAILED - {failure}" if failure else "RESULT: verified")
    return "\n".join(lines)


def main(
    argv: Sequence[str] | None = None,
    *,
    make_clients: Callable[[str | None], tuple[Clients, str]] = _default_clients,
    runtime: Runtime | None = None,
    out: Any = None,
) -> int:
    out = out or sys.stdout
    args = _parser().parse_args(argv)  # argparse exits 2 on usage errors
    jsonlog.configure(stream=sys.stderr, min_level="INFO" if args.verbose else "OFF")
    config = Config.for_workstation(
        args.cluster,
        args.key,
        owner=f"cli/{_who()}",
        namespace=args.namespace,
        pod_check=args.pod_check,
        pod_image=args.pod_image,
        pod_timeout_seconds=args.pod_timeout,
        cloudtrail_check=args.cloudtrail or args.cloudtrail_required,
        cloudtrail_wait_seconds=args.cloudtrail_wait,
        cloudtrail_required=args.cloudtrail_required,
    )
    try:
        clients, _region = make_clients(args.region)
    except SystemExit as exc:
        print(exc, file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - credentials/config problems are reported, not traced
        print(f"error: cannot create AWS clients: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    runtime = runtime or Runtime(deadline=time.monotonic() + contract.BUDGET_SECONDS)
    failure = None
    try:
        report = run_verification(config, clients, runtime)
    except VerificationError as err:
        report, failure = getattr(err, "report", None) or Report(err.results, None, args.cluster), str(err)
    except Exception as exc:  # noqa: BLE001 - e.g. NoCredentialsError
        report, failure = Report([], None, args.cluster), f"{type(exc).__name__}: {exc}"
    if args.json:
        print(json.dumps({"cluster": args.cluster, "verified": failure is None, "keyArn": report.key_arn, "failure": failure,
                          "evidence": report.evidence, "warnings": report.warnings, "leftovers": report.leftovers,
                          "support": report.support.as_record() if report.support is not None else None,
                          "stages": [r.as_summary() for r in report.results]}, indent=2), file=out)
    else:
        print(render(report, failure), file=out)
    return 0 if failure is None else 1


def _who() -> str:
    try:
        return f"{getpass.getuser()}@{socket.gethostname()}"[:80]
    except Exception:  # noqa: BLE001 - no user name in some containers
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())
