"""Custom resource (CDK Provider framework, ``on_event`` only): associate a customer key with an existing cluster.

Two deploys, none waiting for EKS. With ``Complete=false`` the handler runs the read-only checks, starts
AssociateEncryptionConfig (or finds the one running) and returns its update id within minutes: status
``ASSOCIATING``. CloudFormation gives a custom resource at most 3600 s and the association is irreversible
and takes 45-52 min, so no deploy waits for it (a deploy that timed out would roll back while EKS went on).
With ``Complete=true`` (a later deploy) it finds the key associated, rewrites every Secret so it is stored
again under the key (one invocation) and returns ``ASSOCIATED``; while the update still runs it fails fast,
having changed nothing. Delete never dissociates: EKS cannot.
"""
from __future__ import annotations

import time
from typing import Any

from .. import jsonlog, kube
from ..aws.budget import remaining_budget
from ..aws.clients import association_clients
from ..aws.meter import CallMeter
from ..aws.session import region
from ..aws.updates import UpdateState
from ..contract import AssociationData, AssociationProperties, PropertyError
from ..stages import association, reencrypt
from ..text import fit_reason

#: The association resource's ``Status`` attribute.
STATUS_ASSOCIATING = "ASSOCIATING"
STATUS_ASSOCIATED = "ASSOCIATED"
#: The access entry may still be propagating when the rights are checked.
RIGHTS_CHECK_SECONDS = 120.0


def properties(event: dict[str, Any]) -> AssociationProperties:
    """The resource's properties through the contract, each kind's form checked; a bad value is the FAILED reason."""
    try:
        props = AssociationProperties.from_properties(event.get("ResourceProperties"))
        for kind in props.reencrypt_kinds:
            reencrypt.kind_paths(kind)  # ValueError names the kind and the expected form
    except ValueError as err:  # PropertyError, or a kind of the wrong form
        raise PropertyError(fit_reason("association", str(err))) from None
    return props


def physical_id(cluster_name: str) -> str:
    return f"{cluster_name}/encryption-association"


def _fail(message: str) -> RuntimeError:
    """The FAILED reason: ``Stage association: <message>``, bounded like every reason of the handler."""
    return RuntimeError(fit_reason("association", message))


def _kube_client(endpoint: str, ca_data: str, cluster_name: str, token_provider: Any, deadline: float) -> kube.KubeClient:
    # Default policy: a fresh access entry answers 401/403 for a while, so the grace period stays.
    return kube.KubeClient(endpoint, ca_data, lambda: token_provider(cluster_name), deadline=deadline, policy=kube.RetryPolicy())


def _next_steps(cluster_name: str, key_arn: str, status: str, update_id: str) -> str:
    """What the operator does next, as the custom resource's ``Next`` attribute (and the CloudFormation output)."""
    if status == STATUS_ASSOCIATING:
        return (f"EKS takes 45-60 min. Follow it: aws eks describe-update --name {cluster_name} --update-id {update_id}. "
                "When it says Successful, deploy again with complete=True (re-encrypts stored Secrets, then verifies), "
                f"or run: eks-envelope encrypt-existing --cluster {cluster_name} --key {key_arn}")
    return "Deploy with complete=True to rewrite stored Secrets under the key and verify the result."


def on_event(event: dict[str, Any], context: Any, *, clients: Any = None) -> dict[str, Any]:
    """Create/Update: checks, then start (or find) the association and return; with ``Complete``, finish it.

    Never waits for the update: CloudFormation gives a custom resource at most an hour, and the association
    (irreversible, 45-52 min in field reports) would outlive the rollback of a deploy that timed out.
    Delete: succeed and say why nothing happens.
    """
    request_type = event.get("RequestType")
    props = event.get("ResourceProperties") or {}
    jsonlog.info("event", request_type=request_type, cluster=props.get("ClusterName"), physical_id=event.get("PhysicalResourceId"))
    if request_type == "Delete":
        jsonlog.warning("delete.no_dissociation", cluster=props.get("ClusterName"), key=props.get("KeyArn"),
                        reason="EKS cannot dissociate a key: the cluster keeps encrypting secrets with it. Keep the key Enabled.")
        return {"PhysicalResourceId": event.get("PhysicalResourceId") or physical_id(str(props.get("ClusterName") or "unknown"))}
    if request_type not in ("Create", "Update"):
        raise _fail(f"Unknown RequestType {request_type!r}; expected Create, Update or Delete.")
    wire = properties(event)
    cluster_name, key, kinds, page_size, complete = (wire.cluster_name, wire.key_arn, wire.reencrypt_kinds, wire.page_size,
                                                     wire.complete)
    aws, token_provider = clients or association_clients(region())
    try:
        plan = association.preflight(aws, cluster_name, key)
    except association.Refusal as exc:
        raise _fail(f"Refused, nothing changed: {exc}") from None
    for warning in plan.warnings:
        jsonlog.warning("preflight.warning", detail=warning)
    if complete and plan.action == "follow":
        raise _fail(f"Association update {plan.update_id} is still in progress (EKS takes 45-60 min). Nothing was changed; "
                    f"deploy again when `aws eks describe-update --name {cluster_name} --update-id {plan.update_id}` says Successful.")
    if complete and plan.action == "associate":
        previous = association.find_association_update(aws.eks, cluster_name, CallMeter(), in_progress_only=False)
        if previous is not None and previous.get("status") in ("Failed", "Cancelled"):
            state = UpdateState(previous["id"], previous["status"], list(previous.get("errors") or []))
            raise _fail(f"Association update {state.update_id} ended {state.status} ({state.error_text()}). Nothing was "
                        "re-encrypted; fix the cause and deploy with complete=False to start it again.")
        raise _fail(f"Refused, nothing changed: no association of {plan.key_arn} with {cluster_name} has started. "
                    "Deploy with complete=False first, then complete=True once it is done.")
    if plan.action == "associate" or complete:
        _check_rights(plan, cluster_name, kinds, token_provider)
    update_id = plan.update_id or ""
    status, reencrypted = STATUS_ASSOCIATING, ""
    if plan.action == "associate":
        try:
            # The request id makes a retried Create find the same update instead of starting another.
            update_id = association.start_association(aws.eks, plan, client_request_token=str(event.get("RequestId") or "")[:64] or None)
        except association.Refusal as exc:
            raise _fail(str(exc)) from None
    elif plan.action == "reencrypt":
        status = STATUS_ASSOCIATED
        if complete:
            reencrypted = _reencrypt(plan, cluster_name, kinds, page_size, token_provider, context)
    jsonlog.info("association", cluster=cluster_name, key=plan.key_arn, action=plan.action, status=status, update_id=update_id)
    done = "Done: stored objects re-encrypted under the key; the verifier runs next."
    data = AssociationData(key_arn=plan.key_arn, update_id=update_id, status=status, reencrypted=reencrypted,
                           next_steps=done if reencrypted else _next_steps(cluster_name, plan.key_arn, status, update_id))
    return {"PhysicalResourceId": physical_id(cluster_name), "Data": data.to_data()}


def _check_rights(plan: association.Plan, cluster_name: str, kinds: tuple[str, ...], token_provider: Any) -> None:
    """Re-encryption will need cluster-wide rights: refuse before anything changes when they are missing."""
    deadline = time.monotonic() + RIGHTS_CHECK_SECONDS
    try:
        with _kube_client(plan.endpoint, plan.ca_data, cluster_name, token_provider, deadline) as client:
            missing = reencrypt.missing_rights(client, kinds)
    except kube.KubeError as exc:
        raise _fail(f"Refused, nothing changed: cannot reach the Kubernetes API to check re-encryption rights ({exc.kind}: {exc}). "
                    "Allow 443 from the handler's security group to the cluster.") from None
    if missing:
        raise _fail(f"Refused, nothing changed: the handler role lacks cluster-wide {', '.join(missing)}. "
                    "Check its access entry (AmazonEKSEditPolicy, cluster scope).")


def _reencrypt(plan: association.Plan, cluster_name: str, kinds: tuple[str, ...], page_size: int, token_provider: Any,
               context: Any) -> str:
    """Rewrite every object of the configured kinds once, within this invocation; the summary, or raise naming failures."""
    deadline = time.monotonic() + remaining_budget(context)
    summary: dict[str, str] = {}
    failed: list[str] = []
    with _kube_client(plan.endpoint, plan.ca_data, cluster_name, token_provider, deadline) as client:
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
    return "; ".join(summary.values())[:1000]
