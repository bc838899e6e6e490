"""Custom resource (CDK Provider framework, async): associate a customer key with an existing cluster.

``on_event`` runs the read-only checks and starts AssociateEncryptionConfig; ``is_complete`` follows
the update with DescribeUpdate (the framework's state machine calls it until it is done or the total
timeout passes, so the wait is not bounded by one Lambda invocation) and, once the key is associated,
rewrites every Secret so it is stored again under the key. Delete never dissociates: EKS cannot.
"""
from __future__ import annotations

import os
import time
from typing import Any

import boto3
from botocore.config import Config as BotoConfig

import association
import jsonlog
import kube
import reencrypt

SAFETY_MARGIN_SECONDS = 30.0
MAX_REASON = 256
_BOTO_CONFIG = BotoConfig(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=5, read_timeout=15,
                          user_agent_extra="eks-envelope-associate")


def _region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def build_clients(region: str) -> tuple[association.AwsClients, Any]:
    """boto3 clients with standard retries and explicit timeouts; returns (clients, token provider)."""
    session = boto3.session.Session(region_name=region)
    sts = session.client("sts", region_name=region, endpoint_url=kube.sts_endpoint(region), config=_BOTO_CONFIG)
    aws = association.AwsClients(eks=session.client("eks", config=_BOTO_CONFIG), kms=session.client("kms", config=_BOTO_CONFIG),
                                 iam=session.client("iam", config=_BOTO_CONFIG), sts=sts, region=region)
    return aws, lambda cluster: kube.make_token(sts, cluster)


def _props(event: dict[str, Any]) -> tuple[str, str, tuple[str, ...], int]:
    props = event.get("ResourceProperties") or {}
    for required in ("ClusterName", "KeyArn"):
        if not str(props.get(required) or "").strip():
            raise ValueError(f"Property {required} is missing or empty. The construct must pass it.")
    kinds = tuple(k.strip() for k in str(props.get("ReencryptKinds") or "secrets").split(",") if k.strip())
    for kind in kinds:
        reencrypt.kind_paths(kind)  # ValueError names the kind and the expected form
    page_size = int(props.get("PageSize") or reencrypt.DEFAULT_PAGE_SIZE)
    return str(props["ClusterName"]).strip(), str(props["KeyArn"]).strip(), kinds, page_size


def physical_id(cluster_name: str) -> str:
    return f"{cluster_name}/encryption-association"


def _fail(message: str) -> RuntimeError:
    return RuntimeError(message if len(message) <= MAX_REASON else message[: MAX_REASON - 1] + "…")


def _kube_client(endpoint: str, ca_data: str, cluster_name: str, token_provider: Any, deadline: float) -> kube.KubeClient:
    # Default policy: a fresh access entry answers 401/403 for a while, so the grace period stays.
    return kube.KubeClient(endpoint, ca_data, lambda: token_provider(cluster_name), deadline=deadline, policy=kube.RetryPolicy())


def on_event(event: dict[str, Any], context: Any, *, clients: Any = None) -> dict[str, Any]:
    """Create/Update: checks, then start (or find) the association. Delete: succeed and say why nothing happens."""
    request_type = event.get("RequestType")
    props = event.get("ResourceProperties") or {}
    jsonlog.info("event", request_type=request_type, cluster=props.get("ClusterName"), physical_id=event.get("PhysicalResourceId"))
    if request_type == "Delete":
        jsonlog.warning("delete.no_dissociation", cluster=props.get("ClusterName"), key=props.get("KeyArn"),
                        reason="EKS cannot dissociate a key: the cluster keeps encrypting secrets with it. Keep the key Enabled.")
        return {"PhysicalResourceId": event.get("PhysicalResourceId") or physical_id(str(props.get("ClusterName") or "unknown"))}
    if request_type not in ("Create", "Update"):
        raise _fail(f"Unknown RequestType {request_type!r}; expected Create, Update or Delete.")
    cluster_name, key, kinds, _ = _props(event)
    aws, token_provider = clients or build_clients(_region())
    try:
        plan = association.preflight(aws, cluster_name, key)
    except association.Refusal as exc:
        raise _fail(f"Refused, nothing changed: {exc}") from None
    deadline = time.monotonic() + 120.0  # the access entry may still be propagating
    try:
        with _kube_client(plan.endpoint, plan.ca_data, cluster_name, token_provider, deadline) as client:
            missing = reencrypt.missing_rights(client, kinds)
    except kube.KubeError as exc:
        raise _fail(f"Refused, nothing changed: cannot reach the Kubernetes API to check re-encryption rights ({exc.kind}: {exc}). "
                    "Allow 443 from the handler's security group to the cluster.") from None
    if missing:
        raise _fail(f"Refused, nothing changed: the handler role lacks cluster-wide {', '.join(missing)}. "
                    "Check its access entry (AmazonEKSEditPolicy, cluster scope).")
    for warning in plan.warnings:
        jsonlog.warning("preflight.warning", detail=warning)
    update_id = plan.update_id or ""
    if plan.action == "associate":
        try:
            # The request id makes a retried Create find the same update instead of starting another.
            update_id = association.start_association(aws.eks, plan, client_request_token=str(event.get("RequestId") or "")[:64] or None)
        except association.Refusal as exc:
            raise _fail(str(exc)) from None
    jsonlog.info("association", cluster=cluster_name, key=plan.key_arn, action=plan.action, update_id=update_id)
    return {"PhysicalResourceId": physical_id(cluster_name), "Data": {"KeyArn": plan.key_arn, "UpdateId": update_id}}


def is_complete(event: dict[str, Any], context: Any, *, clients: Any = None) -> dict[str, Any]:
    """False while the update runs; then rewrite every object of the configured kinds (one invocation) and finish."""
    if event.get("RequestType") == "Delete":
        return {"IsComplete": True}
    cluster_name, _, kinds, page_size = _props(event)
    aws, token_provider = clients or build_clients(_region())
    data = event.get("Data") or {}
    update_id = data.get("UpdateId")
    if update_id:
        state = association.describe_update(aws.eks, cluster_name, update_id)
        jsonlog.info("update", cluster=cluster_name, update_id=update_id, status=state.status)
        if state.status == "InProgress":
            return {"IsComplete": False}
        if state.status != "Successful":
            raise _fail(f"Association update {update_id} ended {state.status} ({state.error_text()}). Nothing was re-encrypted; "
                        "fix the cause and deploy again.")
    cluster = aws.eks.describe_cluster(name=cluster_name)["cluster"]
    remaining = context.get_remaining_time_in_millis() / 1000.0 if context is not None else 840.0
    deadline = time.monotonic() + max(1.0, remaining - SAFETY_MARGIN_SECONDS)
    summary: dict[str, str] = {}
    failed: list[str] = []
    with _kube_client(cluster.get("endpoint") or "", (cluster.get("certificateAuthority") or {}).get("data") or "",
                      cluster_name, token_provider, deadline) as client:
        for kind in kinds:
            try:
                outcome = reencrypt.reencrypt(client, kind, page_size=page_size)
            except reencrypt.ReencryptAborted as exc:
                raise _fail(f"{exc}. The key is associated; finish with `eks-envelope encrypt-existing --cluster {cluster_name} "
                            "--key <key>` (safe to re-run) or deploy again.") from None
            summary[kind] = outcome.summary()
            failed += [name for name, _ in outcome.failed]
    if failed:
        raise _fail(f"{len(failed)} object(s) could not be rewritten: {', '.join(failed[:5])}. The key is associated; fix them "
                    "and deploy again or run `eks-envelope encrypt-existing`.")
    return {"IsComplete": True, "Data": {"Reencrypted": "; ".join(summary.values())[:1000]}}
