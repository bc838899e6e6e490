"""Workstation check: run the verifier's stages against any cluster with local credentials.

Usage: python lambda/verifier/cli.py --cluster NAME [--key ARN] [--region R] [--pod-check] [--cloudtrail] [--json]
Exit codes: 0 verified, 1 a check failed (or AWS/credentials error), 2 usage error.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any, Callable, Sequence

import checks
import jsonlog

DEFAULT_BUDGET_SECONDS = 900.0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Verify EKS secrets envelope encryption end to end.")
    p.add_argument("--cluster", required=True, help="EKS cluster name")
    p.add_argument("--key", help="expected KMS key ARN or alias (default: the cluster's own encryptionConfig key)")
    p.add_argument("--region", help="AWS region (default: from the AWS profile/environment)")
    p.add_argument("--namespace", default=checks.DEFAULT_NAMESPACE, help="canary namespace (default: %(default)s)")
    p.add_argument("--pod-check", action="store_true", help="also run a Fargate pod that reads the canary Secret")
    p.add_argument("--pod-timeout", type=float, default=300.0, help="seconds to wait for the pod (default: %(default)s)")
    p.add_argument("--cloudtrail", action="store_true", help="also look for KMS calls by the cluster role in CloudTrail")
    p.add_argument("--cloudtrail-wait", type=float, default=120.0, help="seconds to wait for CloudTrail (default: %(default)s)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--verbose", action="store_true", help="print the JSON logs (stderr); default: warnings only")
    return p


def _default_clients(region: str | None) -> tuple[checks.Clients, str]:
    import boto3

    import index

    resolved = region or boto3.session.Session().region_name
    if not resolved:
        raise SystemExit("error: no region: pass --region or set AWS_REGION / a profile region")
    return index.build_clients(resolved), resolved


def render(results: list[checks.StageResult], failure: str | None, cluster: str, key_arn: str | None) -> str:
    lines = [f"EKS envelope encryption check: cluster {cluster}" + (f", key {key_arn}" if key_arn else "")]
    lines.append(f"{'STAGE':<18}{'STATUS':<19}{'MS':>7}  {'AWS':>3} {'K8S':>3}  DETAIL")
    for r in results:
        lines.append(f"{r.name:<18}{r.status:<19}{r.ms:>7}  {r.aws:>3} {r.k8s:>3}  {r.detail}")
    lines.append(f"RESULT: FAILED - {failure}" if failure else "RESULT: verified")
    return "\n".join(lines)


def main(
    argv: Sequence[str] | None = None,
    *,
    make_clients: Callable[[str | None], tuple[checks.Clients, str]] = _default_clients,
    runtime: checks.Runtime | None = None,
    out: Any = None,
) -> int:
    out = out or sys.stdout
    args = _parser().parse_args(argv)  # argparse exits 2 on usage errors
    jsonlog.configure(stream=sys.stderr, min_level="INFO" if args.verbose else "OFF")
    config = checks.Config(
        cluster_name=args.cluster,
        expected_key=args.key,
        cluster_role_arn=None,  # taken from DescribeCluster roleArn
        namespace=args.namespace,
        pod_check=args.pod_check,
        pod_timeout_seconds=args.pod_timeout,
        cloudtrail_check=args.cloudtrail,
        cloudtrail_wait_seconds=args.cloudtrail_wait,
    )
    try:
        clients, _region = make_clients(args.region)
    except SystemExit as exc:
        print(exc, file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - credentials/config problems are reported, not traced
        print(f"error: cannot create AWS clients: {exc}", file=sys.stderr)
        return 1
    runtime = runtime or checks.Runtime(deadline=time.monotonic() + DEFAULT_BUDGET_SECONDS)
    failure = None
    key_arn = None
    try:
        report = checks.run_verification(config, clients, runtime)
        results, key_arn = report.results, report.key_arn
    except checks.VerificationError as err:
        results, failure = err.results, str(err)
    except Exception as exc:  # noqa: BLE001 - e.g. NoCredentialsError
        results, failure = [], f"{exc.__class__.__name__}: {exc}"
    if args.json:
        print(json.dumps({"cluster": args.cluster, "verified": failure is None, "keyArn": key_arn, "failure": failure,
                          "stages": [r.as_summary() for r in results]}, indent=2), file=out)
    else:
        print(render(results, failure, args.cluster, key_arn), file=out)
    return 0 if failure is None else 1


if __name__ == "__main__":
    sys.exit(main())
