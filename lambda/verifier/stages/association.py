"""Put a live EKS cluster's secrets under a customer KMS key: checks first, then AssociateEncryptionConfig.

Shared by the workstation command (``entry.encrypt_existing``) and the custom resource (``entry.association``).
Every function takes its clients as arguments. Nothing here changes anything before
:func:`start_association`, and every refusal is a :class:`Refusal` naming the field, the value and the fix.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from botocore.exceptions import ClientError

from ..aws.clients import AwsClients
from ..contract import CALLER_KEY_ACTIONS, CLUSTER_ROLE_KEY_ACTIONS
from ..aws.meter import CallMeter
from ..aws.session import code_of
from ..aws.updates import UpdateState, wait_for_update
from .aws_checks import envelope_key_of

ASSOCIATE_UPDATE_TYPE = "AssociateEncryptionConfig"
MAX_UPDATES_EXAMINED = 50  # ListUpdates has no filter; an in-progress update is among the newest
_KMS_KEY_ARN = re.compile(r"^arn:aws[\w-]*:kms:([a-z0-9-]+):(\d{12}):key/[\w-]+$")
_CALLER = re.compile(r"^arn:(aws[\w-]*):(sts|iam)::(\d{12}):(assumed-role|role|user)/(.+)$")


class Refusal(Exception):
    """A check failed before anything was changed; str() names the field, the value and the fix."""

    def __init__(self, field_name: str, message: str) -> None:
        self.field = field_name
        super().__init__(f"{field_name}: {message}")


@dataclass
class Plan:
    """What preflight found and what the run will do next."""

    cluster_name: str
    key_arn: str  # resolved key ARN (never an alias)
    action: str  # associate | follow | reencrypt
    update_id: str | None = None
    role_arn: str = ""
    endpoint: str = ""
    ca_data: str = ""
    warnings: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)  # one line per passed check, for the dry run and the log
    calls: int = 0  # AWS API calls made by preflight


def encryption_config(key_arn: str) -> list[dict[str, Any]]:
    return [{"resources": ["secrets"], "provider": {"keyArn": key_arn}}]


def _update_key(update: dict[str, Any]) -> str | None:
    """The key an AssociateEncryptionConfig update names (params value is the config as a JSON string)."""
    for param in update.get("params") or []:
        if param.get("type") == "EncryptionConfig":
            try:
                return envelope_key_of({"encryptionConfig": json.loads(param.get("value") or "[]")})
            except ValueError:
                return None
    return None


def find_association_update(eks: Any, cluster_name: str, call: Callable[..., Any], *, in_progress_only: bool = True) -> dict[str, Any] | None:
    """The newest AssociateEncryptionConfig update (InProgress only by default), via ListUpdates + DescribeUpdate."""
    ids: list[str] = []
    token = None
    while len(ids) < MAX_UPDATES_EXAMINED:
        kwargs: dict[str, Any] = {"name": cluster_name, "maxResults": 100}
        if token:
            kwargs["nextToken"] = token
        page = call(eks.list_updates, **kwargs)
        ids.extend(page.get("updateIds") or [])
        token = page.get("nextToken")
        if not token:
            break
    found: list[dict[str, Any]] = []
    for update_id in ids[:MAX_UPDATES_EXAMINED]:
        update = call(eks.describe_update, name=cluster_name, updateId=update_id)["update"]
        if update.get("type") != ASSOCIATE_UPDATE_TYPE:
            continue
        if update.get("status") == "InProgress" or not in_progress_only:
            found.append(update)
    found.sort(key=lambda u: str(u.get("createdAt") or ""), reverse=True)
    return found[0] if found else None


def _describe_key(kms: Any, key_id: str, call: Callable[..., Any], field_name: str) -> dict[str, Any]:
    try:
        return call(kms.describe_key, KeyId=key_id)["KeyMetadata"]
    except ClientError as exc:
        code = code_of(exc)
        if code == "NotFoundException":
            raise Refusal(field_name, f"key {key_id} not found (DescribeKey). Give a key ARN in the cluster's region.") from None
        raise Refusal(field_name, f"DescribeKey on {key_id} failed ({code}). Allow kms:DescribeKey on the key to the caller.") from None


def check_key(meta: dict[str, Any], region: str) -> None:
    """Symmetric, Enabled, in the cluster's region: what EKS accepts for envelope encryption."""
    arn = meta.get("Arn", "")
    match = _KMS_KEY_ARN.match(arn)
    key_region = match.group(1) if match else "?"
    if key_region != region:
        raise Refusal("KEY", f"key {arn} is in region {key_region}, the cluster in {region}. EKS needs a key in the cluster's region.")
    spec = meta.get("KeySpec") or meta.get("CustomerMasterKeySpec")
    if spec != "SYMMETRIC_DEFAULT" or meta.get("KeyUsage") != "ENCRYPT_DECRYPT":
        raise Refusal("KEY", f"key {arn} is {spec}/{meta.get('KeyUsage')}; EKS needs SYMMETRIC_DEFAULT/ENCRYPT_DECRYPT. Create a symmetric encryption key.")
    if meta.get("KeyState") != "Enabled":
        raise Refusal("KEY", f"key {arn} is {meta.get('KeyState')}, not Enabled. Enable it (EnableKey) or give another key.")
    if meta.get("KeyManager") == "AWS":
        raise Refusal("KEY", f"key {arn} is AWS managed. Give a customer managed key (that is the point: you control it).")


def policy_source_arn(caller_arn: str) -> str | None:
    """The IAM identity SimulatePrincipalPolicy accepts for a caller ARN (assumed-role -> role name, path unknown)."""
    m = _CALLER.match(caller_arn or "")
    if not m:
        return None
    partition, _svc, account, kind, rest = m.groups()
    if kind == "assumed-role":
        return f"arn:{partition}:iam::{account}:role/{rest.split('/')[0]}"
    return f"arn:{partition}:iam::{account}:{kind}/{rest}"


def simulate(iam: Any, source_arn: str, actions: tuple[str, ...], key_arn: str, key_policy: str | None,
             region: str, account: str, call: Callable[..., Any]) -> dict[str, str]:
    """action -> EvalDecision for ``source_arn`` on the key, with the key policy and the EKS call context."""
    kwargs: dict[str, Any] = {
        "PolicySourceArn": source_arn,
        "ActionNames": list(actions),
        "ResourceArns": [key_arn],
        "ContextEntries": [
            {"ContextKeyName": "kms:ViaService", "ContextKeyValues": [f"eks.{region}.amazonaws.com"], "ContextKeyType": "string"},
            {"ContextKeyName": "kms:CallerAccount", "ContextKeyValues": [account], "ContextKeyType": "string"},
        ],
    }
    if key_policy:
        kwargs["ResourcePolicy"] = key_policy
    results = call(iam.simulate_principal_policy, **kwargs).get("EvaluationResults") or []
    return {r["EvalActionName"]: r.get("EvalDecision", "implicitDeny") for r in results}


def _resolve_role_arn(iam: Any, source: str, call: Callable[..., Any]) -> str:
    """Role ARNs need their path for SimulatePrincipalPolicy; an assumed-role ARN does not carry it."""
    if ":role/" not in source:
        return source
    name = source.rsplit("/", 1)[-1]
    return call(iam.get_role, RoleName=name)["Role"]["Arn"]


def check_permissions(aws: AwsClients, plan: Plan, account: str, key_policy: str | None, call: Callable[..., Any]) -> None:
    """Caller: CALLER_KEY_ACTIONS through EKS; cluster role: CLUSTER_ROLE_KEY_ACTIONS (the contract's). Denied -> Refusal; unknown -> warning."""
    if aws.iam is None or aws.sts is None:
        plan.warnings.append("IAM permission checks skipped (no IAM/STS client)")
        return
    subjects: list[tuple[str, str, tuple[str, ...], str]] = []
    try:
        caller = call(aws.sts.get_caller_identity)["Arn"]
        source = policy_source_arn(caller)
        if source:
            subjects.append(("caller", _resolve_role_arn(aws.iam, source, call), CALLER_KEY_ACTIONS,
                             "Allow kms:CreateGrant and kms:DescribeKey on the key to the caller (key policy or IAM), "
                             f"e.g. with condition kms:ViaService = eks.{aws.region}.amazonaws.com"))
        else:
            plan.warnings.append(f"caller {caller} is not an IAM user or role: CreateGrant permission not checked")
    except ClientError as exc:
        plan.warnings.append(f"caller permissions not checked ({code_of(exc)} on STS/IAM)")
    subjects.append(("cluster role", plan.role_arn, CLUSTER_ROLE_KEY_ACTIONS,
                     f"Add a key policy statement allowing {', '.join(CLUSTER_ROLE_KEY_ACTIONS)} to the cluster role "
                     "(as ClusterSecretsKey.grant_cluster_role does)"))
    for who, arn, actions, fix in subjects:
        try:
            decisions = simulate(aws.iam, arn, actions, plan.key_arn, key_policy, aws.region, account, call)
        except ClientError as exc:
            plan.warnings.append(f"{who} permissions not checked: SimulatePrincipalPolicy failed ({code_of(exc)}); "
                                 "allow iam:SimulatePrincipalPolicy to check them first")
            continue
        denied = sorted(a for a in actions if decisions.get(a) != "allowed")
        if denied:
            field_name = "KEY" if who == "cluster role" else "caller"
            raise Refusal(field_name, f"{who} {arn} may not {', '.join(denied)} on {plan.key_arn} "
                                      f"({', '.join(decisions.get(a, 'implicitDeny') for a in denied)}). {fix}.")
        plan.checks.append(f"{who} may {', '.join(actions)} on the key (SimulatePrincipalPolicy)")


def preflight(aws: AwsClients, cluster_name: str, key_id: str) -> Plan:
    """All checks, read-only. Returns the plan, or raises Refusal having changed nothing."""
    call = CallMeter()
    try:
        cluster = call(aws.eks.describe_cluster, name=cluster_name)["cluster"]
    except ClientError as exc:
        if code_of(exc) == "ResourceNotFoundException":
            raise Refusal("CLUSTER", f"cluster {cluster_name} not found in {aws.region}. Check the name and REGION.") from None
        raise Refusal("CLUSTER", f"DescribeCluster on {cluster_name} failed ({code_of(exc)}). Allow eks:DescribeCluster to the caller.") from None
    meta = _describe_key(aws.kms, key_id, call, "KEY")
    key_arn = meta["Arn"]
    plan = Plan(cluster_name, key_arn, "associate", role_arn=cluster.get("roleArn") or "", endpoint=cluster.get("endpoint") or "",
                ca_data=(cluster.get("certificateAuthority") or {}).get("data") or "")
    status = cluster.get("status")
    if status == "UPDATING":
        update = find_association_update(aws.eks, cluster_name, call)
        if update is None:
            raise Refusal("CLUSTER", f"cluster {cluster_name} is UPDATING with another update. Wait until it is ACTIVE, then run again.")
        pending_key = _update_key(update)
        if pending_key and pending_key != key_arn and _describe_key(aws.kms, pending_key, call, "KEY")["Arn"] != key_arn:
            raise Refusal("KEY", f"an association with another key ({pending_key}, update {update['id']}) is in progress. "
                                 "EKS cannot change the key afterwards: give that key.")
        plan.action, plan.update_id = "follow", update["id"]
        plan.checks.append(f"association update {update['id']} already in progress: following it")
    elif status != "ACTIVE":
        raise Refusal("CLUSTER", f"cluster {cluster_name} is {status}, not ACTIVE. Wait until it is ACTIVE, then run again.")
    current = envelope_key_of(cluster)
    if current:
        current_arn = _describe_key(aws.kms, current, call, "KEY")["Arn"] if current != key_arn else key_arn
        if current_arn != key_arn:
            raise Refusal("KEY", f"cluster {cluster_name} already encrypts secrets with {current_arn}, not {key_arn}. "
                                 "EKS cannot change or remove an associated key: use KEY=" + current_arn + ".")
        if plan.action == "associate":
            plan.action = "reencrypt"
            plan.checks.append(f"key {key_arn} is already associated: skipping to re-encryption")
    check_key(meta, aws.region)
    plan.checks.append(f"key {key_arn}: symmetric, Enabled, in {aws.region}")
    try:
        if not call(aws.kms.get_key_rotation_status, KeyId=key_arn).get("KeyRotationEnabled"):
            plan.warnings.append(f"automatic rotation is off for {key_arn}: turn it on (EnableKeyRotation)")
    except ClientError as exc:
        plan.warnings.append(f"rotation not checked (GetKeyRotationStatus: {code_of(exc)})")
    if plan.action == "associate":
        key_policy = None
        try:
            key_policy = call(aws.kms.get_key_policy, KeyId=key_arn, PolicyName="default")["Policy"]
        except ClientError as exc:
            plan.warnings.append(f"key policy not read (GetKeyPolicy: {code_of(exc)}): permissions simulated without it")
        account = (cluster.get("arn") or "::::").split(":")[4]
        check_permissions(aws, plan, account, key_policy, call)
    plan.calls = call.count
    return plan


def start_association(eks: Any, plan: Plan, client_request_token: str | None = None) -> str:
    """The one irreversible call. Returns the update id; a concurrent association is found and followed instead."""
    kwargs: dict[str, Any] = {"clusterName": plan.cluster_name, "encryptionConfig": encryption_config(plan.key_arn)}
    if client_request_token:
        kwargs["clientRequestToken"] = client_request_token  # EKS answers a retry with the same update
    try:
        update = eks.associate_encryption_config(**kwargs)["update"]
    except ClientError as exc:
        code, message = code_of(exc), exc.response.get("Error", {}).get("Message", "")
        if code == "ResourceInUseException":
            found = find_association_update(eks, plan.cluster_name, CallMeter())
            if found:
                return found["id"]
        raise Refusal("CLUSTER", f"AssociateEncryptionConfig failed ({code}: {message[:160]}). Nothing was associated; fix it and run again.") from None
    return update["id"]


def follow_update(eks: Any, cluster_name: str, update_id: str, *, wait_seconds: float, poll_seconds: float,
                  clock: Callable[[], float], sleep: Callable[[float], None],
                  progress: Callable[[UpdateState, float], None] = lambda s, e: None) -> UpdateState:
    """Poll DescribeUpdate until it leaves InProgress or ``wait_seconds`` pass (then status TimedOut; run again to resume)."""
    state = wait_for_update(eks, cluster_name, update_id, deadline=clock() + wait_seconds, poll_seconds=poll_seconds,
                            clock=clock, sleep=sleep, progress=progress)
    if state.status == "InProgress":
        state.status = "TimedOut"
    return state
