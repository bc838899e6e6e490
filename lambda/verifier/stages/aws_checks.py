"""AWS-side checks: the cluster's encryption config, the key's health and grant, CloudTrail evidence."""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .. import jsonlog
from ..aws.cloudtrail import PAGE_SIZE, Pacer, key_lookup
from ..aws.session import THROTTLE_CODES, code_of
from ..model import ClusterFacts, Config, Outcome, Runtime, VerificationError

# ClusterIssueCode values (botocore EKS model) that mean the cluster cannot use its KMS key.
KMS_ISSUE_FIXES = {
    "KmsKeyDisabled": "Re-enable the key (EnableKey) within 30 days or the cluster becomes unrecoverable.",
    "KmsKeyMarkedForDeletion": "Cancel the deletion (CancelKeyDeletion) and re-enable the key now.",
    "KmsGrantRevoked": "The EKS grant on the key was revoked; EKS cannot recover it: recreate the cluster.",
    "KmsKeyNotFound": "The key no longer exists; secrets cannot be decrypted: recreate the cluster.",
}
KMS_CRYPTO_EVENTS = {"Encrypt", "Decrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "ReEncrypt"}
EKS_SERVICE_PRINCIPAL = "eks.amazonaws.com"
_ROLE_ARN = re.compile(r"^arn:(aws[\w-]*):(iam|sts)::(\d{12}):(role|assumed-role)/(.+)$")
_KEY_ARN = re.compile(r"^arn:(aws[\w-]*):kms:([a-z0-9-]+):(\d{12}):key/([\w-]+)$")
_ALIAS_ARN = re.compile(r"^arn:(aws[\w-]*):kms:([a-z0-9-]+):(\d{12}):(alias/.+)$")
WRONG_KEY_FIX = "The key cannot change in place: fix KeyArn or recreate the cluster."


# ---------------------------------------------------------------------------------------------
# identities


def role_identity(arn: str) -> tuple[str, str, str] | str:
    """(partition, account, role name) for role and assumed-role ARNs; paths ignored as IAM does for uniqueness."""
    m = _ROLE_ARN.match(arn or "")
    if not m:
        return arn or ""
    partition, _svc, account, kind, rest = m.groups()
    name = rest.split("/")[-1] if kind == "role" else rest.split("/")[0]
    return (partition, account, name)


def same_role(a: str, b: str) -> bool:
    return bool(a) and bool(b) and role_identity(a) == role_identity(b)


def key_parts(arn: str) -> tuple[str, str, str, str] | None:
    """(partition, region, account, key id) of a key ARN; None for aliases, bare ids and anything else."""
    m = _KEY_ARN.match(arn or "")
    return (m.group(1), m.group(2), m.group(3), m.group(4).lower()) if m else None


def _where(arn: str) -> tuple[str, str] | None:
    """(region, account) of a key or alias ARN."""
    m = _KEY_ARN.match(arn or "") or _ALIAS_ARN.match(arn or "")
    return (m.group(2), m.group(3)) if m else None


def grantee_form(grant: dict[str, Any], role_arn: str) -> str | None:
    """How a grant names the cluster role, or None. Documented forms (KMS GrantListEntry):

    - GranteePrincipal is the role ARN (any path) or an assumed-role session ARN of that role;
    - GranteePrincipal/GranteeServicePrincipal is the EKS service principal: KMS shows a service principal
      for grants made by a service, and it "might correspond to several different grantee principals".
    """
    grantee = grant.get("GranteePrincipal") if isinstance(grant.get("GranteePrincipal"), str) else ""
    service = grant.get("GranteeServicePrincipal") if isinstance(grant.get("GranteeServicePrincipal"), str) else ""
    ident = role_identity(grantee)
    if isinstance(ident, tuple) and ident == role_identity(role_arn):
        return "assumed-role session" if ":assumed-role/" in grantee else "role ARN"
    if EKS_SERVICE_PRINCIPAL in (grantee, service):
        return "EKS service principal"
    return None


# ---------------------------------------------------------------------------------------------
# stage: cluster


def _describe_key(kms_client: Any, key_id: str, what: str) -> dict[str, Any]:
    try:
        meta = kms_client.describe_key(KeyId=key_id)["KeyMetadata"]
    except ClientError as exc:
        code = code_of(exc)
        if code == "NotFoundException":
            raise VerificationError("cluster", f"{what} {key_id} not found (DescribeKey)", "Check the key ARN/alias and the region.") from None
        if code in ("AccessDeniedException", "AccessDenied"):
            raise VerificationError("cluster", f"DescribeKey on {what} {key_id} denied", "Allow kms:DescribeKey on it to the verifier.") from None
        raise
    if not isinstance(meta, dict) or not isinstance(meta.get("Arn"), str):
        raise VerificationError("cluster", f"DescribeKey on {what} returned no key ARN", "Retry; if it repeats, check the KMS endpoint.")
    return meta


def _wrong_key(cluster_key: str, expected: str) -> VerificationError:
    ca, ea = _where(cluster_key), _where(expected)
    hint = ""
    if ca and ea and ca != ea:
        hint = f" (key in {ca[1]}/{ca[0]}, expected {ea[1]}/{ea[0]})"
    return VerificationError("cluster", f"secrets are encrypted with {cluster_key}, not the expected {expected}{hint}", WRONG_KEY_FIX)


def resolve_keys(kms_client: Any, cluster_key: str, expected: str | None, notes: list[str]) -> dict[str, Any]:
    """Compare the cluster's key with the expected one by account, region and key id before any DescribeKey.

    DescribeKey runs only on the expected key (ours), so a key in another account is reported as the wrong
    key, not as "not found" or "access denied". Aliases are resolved, never compared by name.
    """
    if not expected:
        meta = _describe_key(kms_client, cluster_key, "cluster key")
        notes.append(f"no expected key given: using the cluster's own key {meta['Arn']}")
        return meta
    cluster_parts, expected_parts = key_parts(cluster_key), key_parts(expected)
    if cluster_parts and expected_parts:
        if cluster_parts != expected_parts:
            raise _wrong_key(cluster_key, expected)
        return _describe_key(kms_client, expected, "expected key")
    cw, ew = _where(cluster_key), _where(expected)
    if cw and ew and cw != ew:
        raise _wrong_key(cluster_key, expected)  # another account or region: no DescribeKey can make it ours
    meta = _describe_key(kms_client, expected, "expected key")
    if meta["Arn"] != expected:
        notes.append(f"expected {expected} resolves to {meta['Arn']}")
    if cluster_parts:
        if cluster_parts != key_parts(meta["Arn"]):
            raise _wrong_key(cluster_key, meta["Arn"])
        return meta
    if cw and cw != _where(meta["Arn"]):
        raise _wrong_key(cluster_key, meta["Arn"])
    cluster_meta = _describe_key(kms_client, cluster_key, "cluster key")  # an alias in encryptionConfig: resolve it
    if cluster_meta["Arn"] != meta["Arn"]:
        raise _wrong_key(cluster_meta["Arn"], meta["Arn"])
    return meta


def envelope_key_of(cluster: dict[str, Any]) -> str | None:
    """The key an ``encryptionConfig`` entry names for the cluster's API data, or None.

    ``resources`` is deprecated (botocore since 2025-03; EKS user guide FAQ): it may be omitted or empty, it
    defaults to ``["secrets"]`` and no longer decides what is encrypted. An entry that names a key counts
    unless it names resources without "secrets" (a value EKS never accepted).
    """
    for entry in cluster.get("encryptionConfig") or []:
        if not isinstance(entry, dict):
            continue
        resources = entry.get("resources") or []
        if resources and "secrets" not in resources:
            continue
        key = (entry.get("provider") or {}).get("keyArn")
        if isinstance(key, str) and key:
            return key
    return None


def verify_cluster(eks: Any, kms_client: Any, config: Config) -> Outcome:
    """Cluster ACTIVE, secrets encrypted with the expected key (compared by ARN parts, aliases resolved), no KMS health issue."""
    try:
        cluster = eks.describe_cluster(name=config.cluster_name)["cluster"]
    except ClientError as exc:
        code = code_of(exc)
        if code == "ResourceNotFoundException":
            raise VerificationError("cluster", f"cluster {config.cluster_name} not found", "Check ClusterName and the region.") from None
        raise
    status = cluster.get("status")
    if status != "ACTIVE":
        raise VerificationError("cluster", f"cluster {config.cluster_name} is {status}, not ACTIVE", "Wait for it or fix it, then redeploy.")
    issues = (cluster.get("health") or {}).get("issues") or []
    kms_issues = [i.get("code") for i in issues if isinstance(i, dict) and i.get("code") in KMS_ISSUE_FIXES]
    if kms_issues:
        code = kms_issues[0]
        raise VerificationError("cluster", f"cluster health reports {code}", KMS_ISSUE_FIXES[code])
    provider_key = envelope_key_of(cluster)
    if not provider_key:
        raise VerificationError(
            "cluster", f"cluster {config.cluster_name} has no encryptionConfig for secrets",
            "Enable it with the expected key (eks associate-encryption-config); it cannot be turned off later.")
    notes: list[str] = []
    meta = resolve_keys(kms_client, provider_key, config.expected_key, notes)
    role = cluster.get("roleArn") or ""
    if config.cluster_role_arn:
        if not same_role(config.cluster_role_arn, role):
            raise VerificationError("cluster", f"ClusterRoleArn {config.cluster_role_arn} is not the cluster's role {role}", "Pass the cluster's IAM role.")
        role = config.cluster_role_arn
    facts = ClusterFacts(config.cluster_name, cluster.get("endpoint") or "", (cluster.get("certificateAuthority") or {}).get("data") or "",
                         role, meta["Arn"], meta, notes, version=str(cluster.get("version") or ""))
    detail = "; ".join(["ACTIVE, secrets encrypted with the expected key, no KMS health issue"] + notes)
    return Outcome(detail=detail, evidence=("config-names-key",), value=facts)


# ---------------------------------------------------------------------------------------------
# stage: key health


def verify_key_health(kms_client: Any, facts: ClusterFacts, max_items: int = 2000) -> Outcome:
    """Key Enabled, symmetric ENCRYPT_DECRYPT, rotation on; a grant to the cluster role in a documented form.

    A missing grant is not a failure here (EKS does not document the grant's shape): the outcome carries
    ``value=False`` and the Secret round trip decides; then it becomes a warning in Data.
    """
    meta = facts.key_metadata
    arn = facts.key_arn
    state = meta.get("KeyState")
    if state == "PendingDeletion":
        when = meta.get("DeletionDate")
        when_text = f" (deletion on {when:%Y-%m-%d})" if isinstance(when, datetime) else ""
        raise VerificationError("key-health", f"key {arn} is PendingDeletion{when_text}", "Cancel it (CancelKeyDeletion, then EnableKey): once deleted, every secret is lost.")
    if state == "Disabled":
        raise VerificationError("key-health", f"key {arn} is Disabled", "Re-enable it (EnableKey) within 30 days; until then the cluster is degraded.")
    if state == "PendingImport":
        raise VerificationError("key-health", f"key {arn} is PendingImport (no key material)", "Import key material or use an AWS_KMS-origin key.")
    if state != "Enabled":
        raise VerificationError("key-health", f"key {arn} is {state}, not Enabled", "Wait until it is Enabled, then redeploy.")
    spec = meta.get("KeySpec") or meta.get("CustomerMasterKeySpec")
    usage = meta.get("KeyUsage")
    if spec != "SYMMETRIC_DEFAULT" or usage != "ENCRYPT_DECRYPT":
        raise VerificationError("key-health", f"key {arn} is {spec}/{usage}; EKS needs SYMMETRIC_DEFAULT/ENCRYPT_DECRYPT", "Use a symmetric encryption key.")
    rotation = kms_client.get_key_rotation_status(KeyId=arn).get("KeyRotationEnabled")
    if not rotation:
        raise VerificationError("key-health", f"automatic rotation is off for key {arn}", "Turn it on (EnableKeyRotation / enable_key_rotation=True).")
    pages = kms_client.get_paginator("list_grants").paginate(KeyId=arn, PaginationConfig={"MaxItems": max_items, "PageSize": 100})
    for page in pages:
        for grant in page.get("Grants") or []:
            form = grantee_form(grant, facts.role_arn)
            if form:
                ops = set(grant.get("Operations") or [])
                missing = sorted({"Encrypt", "Decrypt"} - ops)
                warnings = (f"the cluster role's grant {str(grant.get('GrantId'))[:12]} lacks {'/'.join(missing)}",) if missing else ()
                return Outcome(detail=f"Enabled, {spec}, rotation on, grant {str(grant.get('GrantId'))[:12]} ({form})",
                               evidence=("key-usable",), warnings=warnings, value=True)
    return Outcome(detail=f"Enabled, {spec}, rotation on; no grant to the cluster role visible", value=False)


NO_GRANT_WARNING = ("no KMS grant to the cluster role is visible on the key (ListGrants), yet the Secret round trip "
                    "succeeded; EKS does not document the grant's shape, so this is a warning, not a failure")


# ---------------------------------------------------------------------------------------------
# stage: CloudTrail


def event_matches(event: dict[str, Any], role_arn: str) -> tuple[bool, bool]:
    """(KMS crypto call by the cluster role, invoked by EKS) from one LookupEvents record."""
    if event.get("EventSource") != "kms.amazonaws.com" or event.get("EventName") not in KMS_CRYPTO_EVENTS:
        return False, False
    try:
        record = json.loads(event.get("CloudTrailEvent") or "{}")
    except (ValueError, RecursionError):
        return False, False
    if not isinstance(record, dict):
        return False, False
    identity = record.get("userIdentity") if isinstance(record.get("userIdentity"), dict) else {}
    issuer = ((identity.get("sessionContext") or {}).get("sessionIssuer") or {}).get("arn") or ""
    by_role = same_role(str(issuer), role_arn) or same_role(str(identity.get("arn") or ""), role_arn)
    return by_role, identity.get("invokedBy") == EKS_SERVICE_PRINCIPAL


def collect_cloudtrail_evidence(cloudtrail: Any, key_arn: str, role_arn: str, wait_seconds: float, runtime: Runtime,
                                *, required: bool = False, pacer: Pacer | None = None) -> Outcome:
    """Look for KMS calls on the key by the cluster role within a bounded wait (polling for delivery, <= 2 req/s).

    ``pacer`` spaces the reads (a shared one spaces the reads of several runs: the audit's).
    Throttling and transport errors are botocore's to retry; what still fails ends the wait. Non-blocking
    unless ``required``: then anything but evidence found is a failure with the reason and the fix.
    """
    end = runtime.clock() + max(0.0, min(wait_seconds, runtime.stage_deadline() - runtime.clock() - 2.0))
    start_utc = runtime.now_utc() - timedelta(seconds=runtime.cloudtrail_lookback_seconds)
    pacer = pacer or Pacer(runtime.cloudtrail_min_interval_seconds, runtime.clock, runtime.sleep)
    throttled = reads = 0
    status, detail = "not-yet-delivered", ""
    while True:
        pacer.wait()
        matched: list[dict[str, Any]] = []
        via_eks = 0
        try:
            pages = cloudtrail.get_paginator("lookup_events").paginate(
                **key_lookup(key_arn, start_utc, runtime.now_utc()), PaginationConfig={"MaxItems": 200, "PageSize": PAGE_SIZE})
            for page in pages:
                for event in page.get("Events") or []:
                    by_role, invoked_by_eks = event_matches(event, role_arn)
                    if by_role:
                        matched.append(event)
                        via_eks += invoked_by_eks
                if matched:
                    break
            reads += 1
        except ClientError as exc:
            if code_of(exc) not in THROTTLE_CODES:
                status, detail = "skipped", f"LookupEvents failed ({code_of(exc)}); allow cloudtrail:LookupEvents to see evidence"
                break
            throttled += 1
            jsonlog.warning("cloudtrail.throttled", count=throttled)
        except BotoCoreError as exc:
            status, detail = "skipped", f"LookupEvents failed ({type(exc).__name__})"
            break
        suffix = f"; throttled {throttled}x" if throttled else ""
        if matched:
            names = sorted({e["EventName"] for e in matched})
            times = [e.get("EventTime") for e in matched if isinstance(e.get("EventTime"), datetime)]
            stamp = max(times).isoformat() if times else "?"
            return Outcome("found", f"{len(matched)} KMS calls by the cluster role ({', '.join(names)}; {via_eks} via "
                                    f"eks.amazonaws.com), latest {stamp}{suffix}", evidence=("cloudtrail-key-use",))
        if runtime.clock() + runtime.cloudtrail_poll_seconds > end:
            detail = (f"LookupEvents throttled {throttled}x; no evidence read before the wait ended" if throttled and not reads
                      else f"no KMS calls by the cluster role yet; CloudTrail delivers in ~5-15 min{suffix}")
            break
        runtime.sleep(runtime.cloudtrail_poll_seconds)
    if required:
        fix = ("Allow cloudtrail:LookupEvents to the verifier." if status == "skipped" else
               "CloudTrail delivers in ~5-15 min: retry the deploy, raise CloudTrailWaitSeconds, or set CloudTrailRequired false.")
        raise VerificationError("cloudtrail", f"strict mode: no CloudTrail evidence of the cluster role using key {key_arn} "
                                              f"within {wait_seconds:g}s ({detail})", fix)
    return Outcome(status, detail)

