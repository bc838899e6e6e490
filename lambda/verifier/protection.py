"""``Custom::ClusterDeletionProtection``: switches EKS deletion protection on after a verified deploy, and off on purpose.

Properties: ``ClusterName``, ``Protect`` ("true"/"false"). PhysicalResourceId ``<cluster>/deletion-protection``,
Data ``{"Protected": "true"|"false"}``. Delete refuses while ``Protect`` is "true" (the stack is meant to
survive a careless ``cdk destroy``), except while CloudFormation rolls back the create or update that
added this resource: then the previous state (unprotected) is restored.
"""
from __future__ import annotations

import os
import time
from typing import Any, Callable

from botocore.exceptions import BotoCoreError, ClientError

import jsonlog
import kube
from model import fit_reason

SAFETY_MARGIN_SECONDS = 20.0
POLL_SECONDS = 5.0
#: Stack states in which deleting this resource restores a state where it did not exist yet (unprotected).
ROLLBACK_STATES = {"ROLLBACK_IN_PROGRESS", "UPDATE_ROLLBACK_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS"}


class ProtectionError(RuntimeError):
    """A FAILED reason for the deletion-protection resource (already bounded and actionable)."""


def refusal(cluster: str) -> str:
    return (f"Cluster {cluster} is deletion-protected, so this stack refuses deletion. To remove it on purpose: "
            "make deploy CONTEXT='-c deletion_protection=false', then make destroy (docs: README \"Removing a production stack\").")


def _fail(problem: str, fix: str) -> ProtectionError:
    return ProtectionError(fit_reason("deletion-protection", problem, fix))


def _props(event: dict[str, Any]) -> tuple[str, bool]:
    props = event.get("ResourceProperties") if isinstance(event.get("ResourceProperties"), dict) else {}
    name = str(props.get("ClusterName") or "").strip()
    if not name:
        raise _fail("Property ClusterName is missing or empty", "The construct passes it: deploy with a matching eks-envelope version.")
    raw = props.get("Protect")
    text = str(raw).strip().lower() if isinstance(raw, (str, bool)) else ""
    if text not in ("true", "false"):
        raise _fail(f"Property Protect is {kube.scrub(raw, 40)!r}; expected \"true\" or \"false\"", "Fix the value passed by the construct.")
    return name, text == "true"


def _clients() -> tuple[Any, Any]:
    import boto3

    from clients import boto_config

    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    session = boto3.session.Session(region_name=region)
    cfg = boto_config(60.0)
    return session.client("eks", config=cfg), session.client("cloudformation", config=cfg)


def on_event(event: dict[str, Any], context: Any, *, eks: Any = None, cloudformation: Any = None,
             clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> dict[str, Any]:
    name, protect = _props(event)
    if eks is None:
        eks, cloudformation = _clients()
    try:
        remaining = float(context.get_remaining_time_in_millis()) / 1000.0
    except Exception:  # noqa: BLE001
        remaining = 840.0
    deadline = clock() + max(1.0, remaining - SAFETY_MARGIN_SECONDS)
    physical = f"{name}/deletion-protection"
    request_type = event.get("RequestType")
    try:
        if request_type in ("Create", "Update"):
            ensure(eks, name, protect, deadline, clock, sleep)
            return {"PhysicalResourceId": physical, "Data": {"Protected": "true" if protect else "false"}}
        if request_type != "Delete":
            raise _fail(f"unknown RequestType {kube.scrub(request_type, 40)!r}", "Expected Create, Update or Delete.")
        if not _cluster_exists(eks, name):
            return {"PhysicalResourceId": physical}
        if protect and not _rolling_back(cloudformation, event.get("StackId")):
            raise ProtectionError(refusal(name))
        ensure(eks, name, False, deadline, clock, sleep)
        return {"PhysicalResourceId": physical}
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", "Unknown"))
        op = getattr(exc, "operation_name", "the call")
        fix = f"Allow eks:{op} on the cluster to the verifier's role." if "AccessDenied" in code else "Check the cluster state, then retry."
        raise _fail(f"{op} on cluster {name} failed ({kube.scrub(code, 60)})", fix) from None
    except BotoCoreError as exc:
        raise _fail(f"cannot reach the EKS API ({type(exc).__name__})", "Give the function a route to AWS APIs (NAT or VPC endpoints).") from None


def _cluster_exists(eks: Any, name: str) -> bool:
    try:
        eks.describe_cluster(name=name)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return False
        raise
    return True


def _rolling_back(cloudformation: Any, stack_id: Any) -> bool:
    """True while the stack rolls back the operation that created this resource (needs cloudformation:DescribeStacks).

    Without the permission (or any answer) the refusal stands: a stack is never unprotected by guesswork.
    """
    if cloudformation is None or not isinstance(stack_id, str) or not stack_id:
        return False
    try:
        stacks = cloudformation.describe_stacks(StackName=stack_id).get("Stacks") or []
    except (ClientError, BotoCoreError) as exc:
        jsonlog.warning("protection.stack_status_unknown", error=type(exc).__name__)
        return False
    status = stacks[0].get("StackStatus") if stacks and isinstance(stacks[0], dict) else None
    return status in ROLLBACK_STATES


def ensure(eks: Any, name: str, protect: bool, deadline: float, clock: Callable[[], float], sleep: Callable[[float], None]) -> None:
    """Make the cluster's deletionProtection equal ``protect``: UpdateClusterConfig, then DescribeUpdate until Successful."""
    cluster = eks.describe_cluster(name=name)["cluster"]
    if bool(cluster.get("deletionProtection")) == protect:
        return
    while True:
        try:
            update = eks.update_cluster_config(name=name, deletionProtection=protect)["update"]
            break
        except ClientError as exc:
            # Another update (add-on, logging) still running: wait for it, within the deadline.
            if exc.response.get("Error", {}).get("Code") != "ResourceInUseException" or clock() + POLL_SECONDS > deadline:
                raise
            sleep(POLL_SECONDS)
    update_id = update.get("id")
    jsonlog.info("protection.update", cluster=name, protect=protect, update_id=update_id)
    while True:
        current = eks.describe_update(name=name, updateId=update_id)["update"]
        status = current.get("status")
        if status == "Successful":
            return
        if status in ("Failed", "Cancelled"):
            errors = "; ".join(kube.scrub(f"{e.get('errorCode')}: {e.get('errorMessage')}", 100)
                               for e in current.get("errors") or [] if isinstance(e, dict)) or "no error detail"
            raise _fail(f"turning deletion protection {'on' if protect else 'off'} for {name} ended {status} ({errors})",
                        "Fix the cause EKS names, then retry the deploy.")
        if clock() + POLL_SECONDS > deadline:
            raise _fail(f"update {update_id} of {name} still {status} when time ran out",
                        "Check it with aws eks describe-update, then retry the deploy.")
        sleep(POLL_SECONDS)
