"""Put an existing EKS cluster's secrets under your KMS key, re-encrypt what is stored, and prove it.

Usage: python lambda/verifier/encrypt_existing.py --cluster NAME --key KEY_ARN [--region R] [--dry-run]
       (the region defaults to the key ARN's)
       (also ``make encrypt-existing CLUSTER=... KEY=...`` and ``eks-envelope encrypt-existing ...``)

Steps: 1 checks (read-only; a refusal changes nothing) -> 2 AssociateEncryptionConfig, followed with
DescribeUpdate (bounded; a second run resumes the update it finds) -> 3 rewrite every Secret in every
namespace unchanged -> 4 the verifier's stages against the cluster.
Exit codes: 0 done and verified, 1 refused or failed, 2 usage error, 3 update still in progress (run again).
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from botocore.exceptions import BotoCoreError, ClientError

from .. import jsonlog, kube
from ..aws.clients import AwsClients, Clients, association_clients
from ..contract import BUDGET_SECONDS, DEFAULT_PAGE_SIZE, DEFAULT_REENCRYPT_KINDS
from ..model import Config, Runtime, StageResult, VerificationError
from ..stages import association, reencrypt
from ..stages.verification import run_verification

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_IN_PROGRESS = 0, 1, 2, 3
PREFLIGHT_SECONDS = 180.0



@dataclass
class Knobs:
    """Time and retry knobs; tests pass a fake clock so waits cost nothing."""

    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    # Rewrites: rights were checked first, so a 403 is about one object (an admission webhook): fail it now.
    kube_policy: kube.RetryPolicy = kube.RetryPolicy(auth_grace_seconds=0.0)


#: Where credentials come from, for the one line without them (the same words as eks_envelope.workstation).
CREDENTIALS_HINT = "set AWS_PROFILE, or run `aws configure` / `aws sso login`"
_KEY_ID = r"(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})"
_ALIAS = r"alias/[A-Za-z0-9/_-]+"
_KMS_ARN = re.compile(rf"^arn:aws[a-z-]*:kms:(?P<region>[a-z]{{2}}(?:-[a-z]+)+-\d+):\d{{12}}:(?:key/{_KEY_ID}|{_ALIAS})$")
_BARE_KEY = re.compile(rf"^(?:{_KEY_ID}|{_ALIAS})$")
_KEY_FORM = ("arn:aws:kms:<region>:<12-digit account>:key/<key id>, the key id a UUID "
             "(1234abcd-12ab-34cd-56ef-1234567890ab) or mrk-<32 hex digits>")


class SetupError(Exception):
    """Bad arguments, no region or no credentials: one line on stderr, nothing called."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def key_region(key: str) -> str | None:
    """The region a key or alias ARN names; None for a bare key id or alias name. SetupError when malformed."""
    match = _KMS_ARN.match(key)
    if match:
        return match["region"]
    if not key.startswith("arn:") and _BARE_KEY.match(key):
        return None
    raise SetupError(f"error: --key {key}: not a KMS key ARN; expected {_KEY_FORM}", EXIT_USAGE)


def resolve_region(key: str, region: str | None) -> str | None:
    """--region, else the key ARN's region (else None: the AWS profile/environment decides)."""
    from_key = key_region(key)
    if region and from_key and region != from_key:
        raise SetupError(f"error: --region {region} but key {key} is in {from_key}: a cluster uses a key of its own "
                         f"region; drop --region (REGION=) or name a key in {region}", EXIT_USAGE)
    return region or from_key


def _parser() -> argparse.ArgumentParser:
    # prog from argv[0]: `eks-envelope encrypt-existing` (the console sets it) or encrypt_existing.py.
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cluster", required=True, help="EKS cluster name")
    p.add_argument("--key", required=True,
                   help="KMS key ARN to envelope-encrypt the cluster's secrets with (an alias ARN works too)")
    p.add_argument("--region", help="AWS region (default: the key ARN's, else the AWS profile/environment)")
    p.add_argument("--dry-run", action="store_true", help="run every check, print every step and the count to rewrite; change nothing")
    p.add_argument("--wait-minutes", type=float, default=60.0, help="how long to follow the association update (default: %(default)s)")
    p.add_argument("--poll-seconds", type=float, default=30.0, help="DescribeUpdate interval (default: %(default)s)")
    p.add_argument("--kinds", default=",".join(DEFAULT_REENCRYPT_KINDS),
                   help="comma-separated kinds to rewrite: core plurals (secrets,configmaps) or group/version/plural (default: %(default)s)")
    p.add_argument("--page-size", type=int, default=DEFAULT_PAGE_SIZE, help="objects per list page (default: %(default)s)")
    p.add_argument("--reencrypt-minutes", type=float, default=120.0, help="time budget for rewriting (default: %(default)s)")
    p.add_argument("--skip-verify", action="store_true", help="do not run the verifier's stages at the end")
    p.add_argument("--verbose", action="store_true", help="print the JSON logs (stderr)")
    return p


def default_clients(region: str | None) -> tuple[AwsClients, Callable[[str], str]]:
    import boto3

    # Off an EC2 instance, the metadata lookup would add seconds before "no credentials".
    os.environ.setdefault("AWS_METADATA_SERVICE_TIMEOUT", "1")
    os.environ.setdefault("AWS_METADATA_SERVICE_NUM_ATTEMPTS", "1")
    session = boto3.session.Session()
    resolved = region or session.region_name
    if not resolved:
        raise SetupError("error: no region: pass --region (REGION=...) or set AWS_REGION / a profile region", EXIT_USAGE)
    if session.get_credentials() is None:
        raise SetupError(f"eks-envelope: no AWS credentials found: {CREDENTIALS_HINT}", EXIT_FAILED)
    return association_clients(resolved)


def verifier_config(cluster_name: str, key_arn: str) -> Config:
    """The verifier's stages as `make verify` runs them: canary in ``default``, no pod, no CloudTrail."""
    return Config.for_workstation(cluster_name, key_arn, owner="cli/encrypt-existing")


def render_stages(results: list[StageResult]) -> list[str]:
    lines = [f"  {'STAGE':<18}{'STATUS':<19}{'AWS':>4}{'K8S':>5}  DETAIL"]
    lines += [f"  {r.name:<18}{r.status:<19}{r.aws:>4}{r.k8s:>5}  {r.detail}" for r in results]
    return lines


def main(argv: Sequence[str] | None = None, *,
         make_clients: Callable[[str | None], tuple[AwsClients, Callable[[str], str]]] = default_clients,
         knobs: Knobs | None = None, out: Any = None) -> int:
    out = out or sys.stdout
    knobs = knobs or Knobs()
    args = _parser().parse_args(argv)
    jsonlog.configure(stream=sys.stderr, min_level="INFO" if args.verbose else "OFF")

    def say(text: str) -> None:
        print(text, file=out, flush=True)

    kinds = tuple(k.strip() for k in args.kinds.split(",") if k.strip())
    try:
        for kind in kinds:
            reencrypt.kind_paths(kind)
    except ValueError as exc:
        say(f"error: --kinds: {exc}")
        return EXIT_USAGE
    try:
        aws, token_provider = make_clients(resolve_region(args.key, args.region))
    except SetupError as exc:
        print(exc, file=sys.stderr)
        return exc.code
    except SystemExit as exc:
        say(str(exc))
        return EXIT_USAGE
    except Exception as exc:  # noqa: BLE001 - credentials/config problems are reported, not traced
        say(f"error: cannot create AWS clients: {exc}")
        return EXIT_FAILED
    prefix = "[dry run] " if args.dry_run else ""
    say(f"{prefix}encrypt-existing: cluster {args.cluster}, key {args.key}, region {aws.region}")
    try:
        return _run(args, kinds, aws, token_provider, knobs, say)
    except (BotoCoreError, ClientError) as exc:  # credentials, throttling beyond retries, a denied poll
        say(f"FAILED: AWS call failed ({exc.__class__.__name__}: {str(exc)[:200]}). Check credentials, region and IAM "
            "permissions; running again is safe: it resumes from what the cluster shows.")
        return EXIT_FAILED


def _run(args: argparse.Namespace, kinds: tuple[str, ...], aws: AwsClients, token_provider: Callable[[str], str],
         knobs: Knobs, say: Callable[[str], None]) -> int:
    """Steps 1-4; returns the exit code."""

    # 1. checks: read-only, a refusal changes nothing
    say("step 1/4 checks (read-only)")
    try:
        plan = association.preflight(aws, args.cluster, args.key)
    except association.Refusal as exc:
        say(f"REFUSED (nothing changed): {exc}")
        return EXIT_FAILED
    for line in plan.checks:
        say(f"  ok   {line}")
    for line in plan.warnings:
        say(f"  warn {line}")

    def kube_client(seconds: float, policy: kube.RetryPolicy) -> kube.KubeClient:
        return kube.KubeClient(plan.endpoint, plan.ca_data, lambda: token_provider(args.cluster), deadline=knobs.clock() + seconds,
                               policy=policy, clock=knobs.clock, sleep=knobs.sleep)

    try:
        # Default policy here: a fresh access entry answers 401/403 for a while before it works.
        with kube_client(PREFLIGHT_SECONDS, kube.RetryPolicy()) as client:
            missing = reencrypt.missing_rights(client, kinds)
    except kube.KubeError as exc:
        say(f"REFUSED (nothing changed): Kubernetes API: cannot check re-encryption rights ({exc.kind}: {exc}). "
            "Run where the cluster endpoint is reachable, with an access entry for your principal.")
        return EXIT_FAILED
    if missing:
        say(f"REFUSED (nothing changed): Kubernetes RBAC: your principal lacks cluster-wide {', '.join(missing)}. "
            "Grant it with an access entry (docs/existing-clusters.md: AmazonEKSEditPolicy, cluster scope).")
        return EXIT_FAILED
    say(f"  ok   Kubernetes RBAC: list, get, update on {', '.join(kinds)} in every namespace")

    # 2. association
    say("step 2/4 associate the key")
    if args.dry_run:
        say({"associate": f"  would call AssociateEncryptionConfig(clusterName={args.cluster}, encryptionConfig="
                          f"{association.encryption_config(plan.key_arn)}) and follow it with DescribeUpdate "
                          f"every {args.poll_seconds:g}s for up to {args.wait_minutes:g} min",
             "follow": f"  would follow update {plan.update_id} (in progress) with DescribeUpdate",
             "reencrypt": "  nothing to do: the key is already associated"}[plan.action])
    else:
        if plan.action == "associate":
            say("  AssociateEncryptionConfig: this cannot be undone (EKS cannot dissociate or change the key)")
            try:
                plan.update_id = association.start_association(aws.eks, plan, client_request_token=str(uuid.uuid4()))
            except association.Refusal as exc:
                say(f"FAILED: {exc}")
                return EXIT_FAILED
            say(f"  update {plan.update_id} started")
        if plan.update_id:
            state = association.follow_update(
                aws.eks, args.cluster, plan.update_id, wait_seconds=args.wait_minutes * 60, poll_seconds=args.poll_seconds,
                clock=knobs.clock, sleep=knobs.sleep,
                progress=lambda s, elapsed: say(f"  update {s.update_id}: {s.status}, {int(elapsed) // 60}m{int(elapsed) % 60:02d}s elapsed"))
            if state.status == "TimedOut":
                say(f"STILL IN PROGRESS after {args.wait_minutes:g} min: run the same command again to resume following {plan.update_id}.")
                return EXIT_IN_PROGRESS
            if state.status != "Successful":
                say(f"FAILED: update {plan.update_id} ended {state.status} ({state.error_text()}). Nothing was re-encrypted.")
                return EXIT_FAILED
        else:
            say("  the key is already associated")

    # 3. re-encryption
    say("step 3/4 rewrite every stored object unchanged, so it is stored again under the key")
    with kube_client(args.reencrypt_minutes * 60, knobs.kube_policy) as client:
        total_failed = 0
        for kind in kinds:
            try:
                outcome = reencrypt.reencrypt(client, kind, page_size=args.page_size, dry_run=args.dry_run,
                                              progress=lambda o: say(f"  {o.kind}: {o.listed} listed, {o.rewritten} rewritten so far"))
            except reencrypt.ReencryptAborted as exc:
                say(f"FAILED: {exc}. Safe to run again: every object is rewritten unchanged.")
                return EXIT_FAILED
            if args.dry_run:
                say(f"  would rewrite {outcome.listed} {kind} in {outcome.pages} list pages (PUT each unchanged with its resourceVersion)")
                continue
            say(f"  {outcome.summary()}")
            for name, why in outcome.skipped:
                say(f"    skipped {name}: {why}")
            for name, why in outcome.failed:
                say(f"    failed  {name}: {why}")
            total_failed += len(outcome.failed)

    # 4. proof
    say("step 4/4 verify")
    if args.dry_run:
        say("  would run the verifier's stages: cluster, key-health, secret-roundtrip (canary in namespace default)")
        say("[dry run] nothing was changed")
        return EXIT_OK
    if args.skip_verify:
        say("  skipped (--skip-verify)")
        return EXIT_FAILED if total_failed else EXIT_OK
    runtime = Runtime(deadline=knobs.clock() + BUDGET_SECONDS, clock=knobs.clock, sleep=knobs.sleep)
    config = verifier_config(args.cluster, plan.key_arn)
    try:
        report = run_verification(config, Clients(aws.eks, aws.kms, None, token_provider), runtime)
        results, failure = report.results, None
    except VerificationError as err:
        results, failure = err.results, str(err)
    for line in render_stages(results):
        say(line)
    if failure:
        say(f"RESULT: FAILED - {failure}")
        return EXIT_FAILED
    if total_failed:
        say(f"RESULT: verified, but {total_failed} object(s) failed to rewrite (listed above): fix them and run again")
        return EXIT_FAILED
    say(f"RESULT: cluster {args.cluster} encrypts secrets with {plan.key_arn}; stored objects rewritten; verified")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
