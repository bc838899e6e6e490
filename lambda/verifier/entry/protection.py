"""``Custom::ClusterDeletionProtection``: switches EKS deletion protection on after a verified deploy, and off on purpose.

Properties: ``ClusterName``, ``Protect`` ("true"/"false"). PhysicalResourceId ``<cluster>/deletion-protection``,
Data ``contract.ProtectionData`` (``Protected``: "true"|"false"). Delete refuses while ``Protect`` is "true" (the stack is meant to
survive a careless ``cdk destroy``), except while CloudFormation rolls back the create or update that
added this resource: then the previous state (unprotected) is restored.
"""
from __future__ import annotations

import time
from typing import Any, Callable

from botocore.exceptions import BotoCoreError, ClientError

from .. import jsonlog
from ..aws.budget import AWS_CALL_WORST_CASE_SECONDS, remaining_budget
from ..aws.clients import protection_clients
from ..aws.session import code_of, region
from ..aws.updates import UpdateState, wait_for_update
from ..contract import PropertyError, ProtectionData, ProtectionProperties
from ..text import fit_reason, scrub

POLL_SECONDS = 5.0
#: Time kept back for turning protection off again when a Create fails after protection went on.
REVERT_RESERVE_SECONDS = 120.0
#: Stack states in which deleting this resource restores a state where it did not exist yet (unprotected).
ROLLBACK_STATES = {"ROLLBACK_IN_PROGRESS", "UPDATE_ROLLBACK_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS"}


class ProtectionError(RuntimeError):
    """A FAILED reason for the deletion-protection resource (already bounded and actionable)."""


def refusal(cluster: str) -> str:
    return fit_reason(
        "deletion-protection", f"Cluster {cluster} is deletion-protected, so this stack refuses deletion",
        "To remove it on purpose: make deploy CONTEXT='-c deletion_protection=false', then make destroy "
        "(docs/operations.md#removing-a-production-stack).")


def _fail(problem: str, fix: str) -> ProtectionError:
    return ProtectionError(fit_reason("deletion-protection", problem, fix))


def properties(event: dict[str, Any]) -> ProtectionProperties:
    """The resource's properties through the contract; a bad value is this resource's FAILED reason."""
    try:
        return ProtectionProperties.from_properties(event.get("ResourceProperties"))
    except PropertyError as err:
        raise ProtectionError(fit_reason("deletion-protection", str(err))) from None


def on_event(event: dict[str, Any], context: Any, *, eks: Any = None, cloudformation: Any = None,
             clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> dict[str, Any]:
    props = properties(event)
    name, protect = props.cluster_name, props.protect
    if eks is None:
        eks, cloudformation = protection_clients(region())
    deadline = clock() + remaining_budget(context, AWS_CALL_WORST_CASE_SECONDS + 10.0)
    physical = f"{name}/deletion-protection"
    request_type = event.get("RequestType")
    try:
        if request_type == "Create" and protect:
            _protect_or_revert(eks, name, deadline, clock, sleep)
            return {"PhysicalResourceId": physical, "Data": ProtectionData(protected=True).to_data()}
        if request_type in ("Create", "Update"):
            ensure(eks, name, protect, deadline, clock, sleep)
            return {"PhysicalResourceId": physical, "Data": ProtectionData(protected=protect).to_data()}
        if request_type != "Delete":
            raise _fail(f"unknown RequestType {scrub(request_type, 40)!r}", "Expected Create, Update or Delete.")
        if not _cluster_exists(eks, name):
            return {"PhysicalResourceId": physical}
        if protect and not stack_rolling_back(cloudformation, event.get("StackId")):
            raise ProtectionError(refusal(name))
        ensure(eks, name, False, deadline, clock, sleep)
        return {"PhysicalResourceId": physical}
    except ClientError as exc:
        code = code_of(exc)
        op = getattr(exc, "operation_name", "the call")
        fix = f"Allow eks:{op} on the cluster to the verifier's role." if "AccessDenied" in code else "Check the cluster state, then retry."
        raise _fail(f"{op} on cluster {name} failed ({scrub(code, 60)})", fix) from None
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


def _protect_or_revert(eks: Any, name: str, deadline: float, clock: Callable[[], float],
                       sleep: Callable[[float], None]) -> None:
    """Protection on for a new resource; if that fails, off again before the failure is reported.

    The Provider framework answers the Delete that follows a failed Create itself, without calling this
    handler: protection left on by a Create that gave up (time ran out, a throttled poll) would make
    the rollback's DeleteCluster fail on an ACTIVE protected cluster, and the stack ROLLBACK_FAILED.
    """
    started: list[str] = []
    try:
        ensure(eks, name, True, max(clock() + 1.0, deadline - REVERT_RESERVE_SECONDS), clock, sleep, started=started)
    except Exception as exc:
        try:
            for update_id in started:  # an update still running would turn protection on after the revert
                _wait_for(eks, name, update_id, deadline, clock, sleep)
            ensure(eks, name, False, deadline, clock, sleep)
        except Exception:  # noqa: BLE001 - the reason below says what is left to do
            jsonlog.error("protection.revert_failed", cluster=name)
            raise _fail(f"turning deletion protection on for {name} failed, and turning it off again too",
                        f"Before the rollback deletes the cluster: aws eks update-cluster-config --name {name} "
                        "--no-deletion-protection.") from None
        jsonlog.warning("protection.reverted", cluster=name, error=type(exc).__name__)
        raise


def stack_rolling_back(cloudformation: Any, stack_id: Any, states: frozenset[str] | set[str] = ROLLBACK_STATES) -> bool:
    """True while the stack is in one of ``states`` (needs cloudformation:DescribeStacks).

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
    return status in states


def ensure(eks: Any, name: str, protect: bool, deadline: float, clock: Callable[[], float], sleep: Callable[[float], None],
           *, started: list[str] | None = None) -> None:
    """Make the cluster's deletionProtection equal ``protect``: UpdateClusterConfig, then DescribeUpdate until Successful.

    ``started`` collects the id of the update it issued, for a caller that may have to wait for it.
    """
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
    if started is not None:
        started.append(update_id)
    jsonlog.info("protection.update", cluster=name, protect=protect, update_id=update_id)
    current = _wait_for(eks, name, update_id, deadline, clock, sleep)
    status = current.status
    if status != "Successful":
        errors = "; ".join(scrub(f"{e.get('errorCode')}: {e.get('errorMessage')}", 100)
                           for e in current.errors if isinstance(e, dict)) or "no error detail"
        raise _fail(f"turning deletion protection {'on' if protect else 'off'} for {name} ended {status} ({errors})",
                    "Fix the cause EKS names, then retry the deploy.")


def _wait_for(eks: Any, name: str, update_id: str, deadline: float, clock: Callable[[], float],
              sleep: Callable[[float], None]) -> UpdateState:
    """DescribeUpdate until the update is no longer InProgress (bounded by ``deadline``); still running is a failure."""
    state = wait_for_update(eks, name, update_id, deadline=deadline, poll_seconds=POLL_SECONDS, clock=clock, sleep=sleep)
    if state.status == "InProgress":
        raise _fail(f"update {update_id} of {name} still InProgress when time ran out",
                    "Check it with aws eks describe-update, then retry the deploy.")
    return state
