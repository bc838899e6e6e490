"""``Custom::EnvelopeEncryptionVerification``: verify on Create and Update, sweep canaries on Delete.

``dispatch.on_event`` routes the resource's events here. Properties come from the construct through
``contract.VerificationProperties``; a value the handler cannot use fails the deploy with a reason that
names the property, the value and the fix.
"""
from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .. import jsonlog
from ..aws.budget import build_runtime
from ..aws.clients import Clients, build_clients, cloudwatch_client as _cloudwatch_client, open_kube, protection_clients
from ..aws.session import region
from ..contract import PropertyError, VerificationData, VerificationProperties
from ..model import ClusterFacts, Config, Report, Runtime
from ..stages.kube_checks import sweep_canaries
from ..stages.metrics import metric_data
from ..stages.verification import run_verification
from ..text import fit_reason, scrub
from .protection import stack_rolling_back

DELETE_BUDGET_SECONDS = 60.0
#: CloudFormation's limit is 4,096 bytes for the whole response; the framework adds about 400 (ids, reason).
MAX_DATA_BYTES = 3500
ROLLBACK_SUMMARY = "rollback to a state verified earlier; not re-verified"
#: A verified deploy publishes its datapoint only with this much of its budget left (the Lambda keeps 30 s more).
MIN_PUBLISH_SECONDS = 5.0


def on_event(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request_type = event.get("RequestType")
    if request_type == "Delete":
        return on_delete(event, context)
    if request_type in ("Create", "Update"):
        return on_create_or_update(event, context)
    raise PropertyError(fit_reason("properties", f"Unknown RequestType {scrub(request_type, 40)!r}; expected Create, Update or Delete."))


# ---------------------------------------------------------------------------------------------
# properties


def properties(props: Any) -> VerificationProperties:
    """The resource's properties through the contract; a bad value is a FAILED reason naming it and the fix."""
    try:
        return VerificationProperties.from_properties(props)
    except PropertyError as err:
        raise PropertyError(fit_reason("properties", str(err))) from None


def config_of(event: dict[str, Any], props: VerificationProperties) -> Config:
    return Config.from_properties(props, owner=_owner(event), run_id=scrub(event.get("RequestId"), 100))


def physical_id(cluster_name: str) -> str:
    """The verification's id from its Create on. An Update keeps whatever id the resource has (see on_create_or_update)."""
    return f"{cluster_name}/envelope-verification"


def _owner(event: dict[str, Any]) -> str:
    return f"{scrub(event.get('StackId'), 300)}/{scrub(event.get('LogicalResourceId'), 100)}"


# ---------------------------------------------------------------------------------------------
# Create / Update / Delete


def on_create_or_update(event: dict[str, Any], context: Any) -> dict[str, Any]:
    props = properties(event.get("ResourceProperties"))
    config = config_of(event, props)
    namespace = props.metric_namespace
    physical = physical_id(config.cluster_name)
    if event.get("RequestType") == "Update":
        # The id never changes on Update: a new one would make CloudFormation treat every property change as a
        # replacement and delete the old id afterwards. Stacks created by earlier versions keep their
        # "<cluster>/envelope-verification/<fingerprint>" id; its suffix no longer means anything.
        sent = event.get("PhysicalResourceId")
        physical = sent if isinstance(sent, str) and sent else physical
        if _update_rollback_in_progress(event):
            # Re-verifying a state CloudFormation rolls back to would let a cause outside the template (a key
            # disabled by hand) fail the rollback too, and wedge the stack in UPDATE_ROLLBACK_FAILED.
            jsonlog.info("verification.rollback_not_reverified", physical_id=scrub(physical, 200))
            rollback = _data(config.expected_key or "", ROLLBACK_SUMMARY, [], [], [], None)
            return {"PhysicalResourceId": physical, "Data": rollback.to_data()}
    runtime = build_runtime(context)
    report = run_verification(config, build_clients(region(), budget_seconds=runtime.remaining(),
                                                    with_cloudtrail=config.cloudtrail_check), runtime)
    data = _data(report.key_arn or "", report.summary_json(), report.evidence, report.warnings, report.leftovers, report.support)
    if namespace:
        problem = publish_first_datapoint(namespace, config.cluster_name, report, runtime)
        if problem:
            data = replace(data, warnings=" | ".join(w for w in (data.warnings, problem) if w))
    if _size(data) > MAX_DATA_BYTES:  # the whole response must stay under CloudFormation's 4 KB
        stages = json.dumps({"stages": [[r.name, r.status, r.ms, r.aws, r.k8s] for r in report.results]}, separators=(",", ":"))
        data = replace(data, summary=stages, warnings=data.warnings[:500], leftovers=_bounded_names(report.leftovers, 10))
    if _size(data) > MAX_DATA_BYTES:
        data = replace(data, summary=data.summary[:1000])
    return {"PhysicalResourceId": physical, "Data": data.to_data()}


def publish_first_datapoint(namespace: str, cluster: str, report: Report, runtime: Runtime) -> str | None:
    """Put the Verified metric (and the support days) the scheduled runs put, so a fresh deploy's missing-data
    alarm starts with data. Never fails the verification: returns a warning when CloudWatch refuses it."""
    metrics = metric_data(cluster, report.passed, [], None, report.support)
    if runtime.remaining() < MIN_PUBLISH_SECONDS:  # a call the Lambda timeout could cut would turn a pass into a failure
        jsonlog.warning("verification.metric_not_published", namespace=namespace, error="out of time")
        return (f"no time left to put Verified in {namespace}: the VerificationMissing alarm may report missing data "
                "until the first scheduled run")
    try:
        cloudwatch_client(runtime.remaining()).put_metric_data(Namespace=namespace, MetricData=metrics)
    except (ClientError, BotoCoreError) as exc:
        code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else type(exc).__name__
        jsonlog.warning("verification.metric_not_published", namespace=namespace, error=scrub(code, 60))
        return (f"PutMetricData in {namespace} failed ({scrub(code, 60)}): the VerificationMissing alarm may "
                "report missing data until the first scheduled run")
    jsonlog.info("verification.metric_published", namespace=namespace, metrics=[d["MetricName"] for d in metrics])
    return None


def cloudwatch_client(budget_seconds: float) -> Any:
    return _cloudwatch_client(region(), budget_seconds=budget_seconds)


def _bounded_names(names: list[str], limit: int) -> str:
    return ",".join(names[:limit]) + (f",+{len(names) - limit} more (see the logs)" if len(names) > limit else "")


def _update_rollback_in_progress(event: dict[str, Any]) -> bool:
    """An Update that CloudFormation sends while rolling back an update: the stack is UPDATE_ROLLBACK_IN_PROGRESS.

    That holds whether the verification's own update failed or it passed and a later resource failed, and it
    never holds for a forward update, so the same change deployed again after a rollback is verified again.
    Without an answer from DescribeStacks the Update is verified: no assurance by guesswork.
    """
    return stack_rolling_back(stack_client(), event.get("StackId"), {"UPDATE_ROLLBACK_IN_PROGRESS"})


def stack_client() -> Any:
    """CloudFormation, to read the status of the stack this resource belongs to."""
    return protection_clients()[1]


def _data(key_arn: str, summary: str, evidence: list[str], warnings: list[str], leftovers: list[str],
          support: Any) -> VerificationData:
    """The answer, with EKS's word on the cluster's version ("unknown" when the version-support stage did not run or EKS
    did not answer)."""
    end = getattr(support, "end_of_standard_support", None)
    return VerificationData(key_arn=key_arn, summary=summary, evidence=",".join(evidence), warnings=" | ".join(warnings),
                            leftovers=",".join(leftovers),
                            kubernetes_version=str(getattr(support, "version", "") or "unknown")[:20],
                            version_status=str(getattr(support, "status", "") or "unknown")[:20],
                            end_of_standard_support=end.isoformat() if end is not None else "unknown")


def _size(data: VerificationData) -> int:
    return len(json.dumps(data.to_data()))


def on_delete(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Sweep provably-ours canaries within a short budget; any error (cluster gone, no access) still returns success."""
    props = event.get("ResourceProperties") if isinstance(event.get("ResourceProperties"), dict) else {}
    physical = str(event.get("PhysicalResourceId") or f"{props.get('ClusterName') or 'unknown'}/envelope-verification")
    try:
        config = config_of(event, properties(props))
        runtime = build_runtime(context, cap_seconds=DELETE_BUDGET_SECONDS)
        deleted, leftovers = cleanup_cluster(config, build_clients(region(), budget_seconds=runtime.remaining() / 2,
                                                                   with_cloudtrail=False), runtime)
        jsonlog.info("delete.swept", cluster=config.cluster_name, deleted=deleted, leftovers=leftovers)
    except Exception as exc:  # noqa: BLE001 - a failed Delete would abandon the resource
        jsonlog.warning("delete.cleanup_skipped", error=type(exc).__name__, message=scrub(exc, 160))
    return {"PhysicalResourceId": physical}


def cleanup_cluster(config: Config, clients: Clients, runtime: Runtime) -> tuple[int, list[str]]:
    """DescribeCluster for endpoint and CA, then sweep; a missing or inactive cluster means nothing to do."""
    try:
        cluster = clients.eks.describe_cluster(name=config.cluster_name)["cluster"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return 0, []
        raise
    if cluster.get("status") != "ACTIVE":
        return 0, []
    facts = ClusterFacts(config.cluster_name, cluster.get("endpoint") or "",
                         (cluster.get("certificateAuthority") or {}).get("data") or "", "", "", {})
    client = open_kube(facts, config, clients, runtime)
    client.policy = runtime.cleanup_policy
    return sweep_canaries(client, config, runtime)
