"""Lambda entry point: scheduled runs, the deletion-protection resource and the verification resource.

CloudFormation custom resources come through the CDK Provider framework (``on_event`` only): the handler
returns data or raises an exception whose message is the FAILED reason. No Python exception text reaches
CloudFormation unformatted, whatever the event or the servers send.
"""
from __future__ import annotations

import json
import time
from typing import Any

import checks
import clients as clients_mod
import jsonlog
import kube
import kube_checks
from model import Config, Runtime, VerificationError, fit_reason

PROTECTION_RESOURCE_TYPE = "Custom::ClusterDeletionProtection"
SAFETY_MARGIN_SECONDS = 30.0
DELETE_BUDGET_SECONDS = 60.0
#: CloudFormation's limit is 4,096 bytes for the whole response; the framework adds about 400 (ids, reason).
MAX_DATA_BYTES = 3500
ROLLBACK_SUMMARY = "rollback to a state verified earlier; not re-verified"
#: Optional property (EnvelopeEncryptionMonitoring sets it with alarms): where a verified deploy puts its datapoint.
METRIC_NAMESPACE_PROPERTY = "MetricNamespace"
#: A verified deploy publishes its datapoint only with this much of its budget left (the Lambda keeps 30 s more).
MIN_PUBLISH_SECONDS = 5.0


class PropertyError(ValueError):
    """A ResourceProperties value the handler cannot use; the message names the property, value and fix."""

    def __init__(self, message: str) -> None:
        super().__init__(fit_reason("properties", message))


class HandlerError(RuntimeError):
    """Anything unexpected, already turned into a bounded reason."""


def on_event(event: Any, context: Any) -> Any:
    """Dispatch: no RequestType = a scheduled run; the deletion-protection resource; else the verification."""
    if not isinstance(event, dict):
        raise HandlerError("Stage event: the event is not a JSON object. Invoke the verifier only through CloudFormation or its schedule.")
    if "RequestType" not in event:
        try:
            import scheduled
        except ModuleNotFoundError as exc:
            if exc.name != "scheduled":
                raise
            raise HandlerError("Stage event: a scheduled run (no RequestType) needs scheduled.py in the handler asset, "
                               "and it is missing. Deploy a matching eks-envelope version.") from None
        return scheduled.on_schedule(event, context)
    jsonlog.info("event", request_type=kube.scrub(event.get("RequestType"), 20), resource_type=kube.scrub(event.get("ResourceType"), 60),
                 logical_id=kube.scrub(event.get("LogicalResourceId"), 80), physical_id=kube.scrub(event.get("PhysicalResourceId"), 200))
    try:
        if event.get("ResourceType") == PROTECTION_RESOURCE_TYPE:
            import protection

            return protection.on_event(event, context)
        return on_verification_event(event, context)
    except (PropertyError, VerificationError, HandlerError):
        raise
    except Exception as exc:  # noqa: BLE001 - the last line of defence: a bounded reason, never a raw traceback
        import protection

        if isinstance(exc, protection.ProtectionError):
            raise
        jsonlog.error("handler.crashed", error=type(exc).__name__, message=kube.scrub(exc, 200))
        raise HandlerError(fit_reason("handler", f"internal error ({type(exc).__name__})",
                                      "Retry; if it repeats, report the handler.crashed log line.")) from None


def on_verification_event(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request_type = event.get("RequestType")
    if request_type == "Delete":
        return on_delete(event, context)
    if request_type in ("Create", "Update"):
        return on_create_or_update(event, context)
    raise PropertyError(f"Unknown RequestType {kube.scrub(request_type, 40)!r}; expected Create, Update or Delete.")


# ---------------------------------------------------------------------------------------------
# properties


def _props(event: dict[str, Any]) -> dict[str, Any]:
    props = event.get("ResourceProperties")
    if not isinstance(props, dict):
        raise PropertyError("ResourceProperties is missing or not an object. The construct passes them: redeploy with it.")
    return props


def _required(props: dict[str, Any], name: str) -> str:
    raw = props.get(name)
    if raw is None or not isinstance(raw, (str, int, float, bool)) or str(raw).strip() == "":
        raise PropertyError(f"Property {name} is missing or empty. The construct passes it: deploy with a matching eks-envelope version.")
    return str(raw).strip()


def _bool(props: dict[str, Any], name: str) -> bool:
    raw = props.get(name)
    if isinstance(raw, bool):
        return raw
    text = _required(props, name).lower()
    if text not in ("true", "false"):
        raise PropertyError(f"Property {name} is {kube.scrub(raw, 40)!r}; expected \"true\" or \"false\". Fix the value passed to the verifier.")
    return text == "true"


def _seconds(props: dict[str, Any], name: str, low: float, high: float) -> float:
    raw = _required(props, name)
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not (low <= value <= high):
        raise PropertyError(f"Property {name} is {kube.scrub(raw, 40)!r}; expected a number of seconds between {low:g} and {high:g}.")
    return value


def parse_properties(props: dict[str, Any], *, owner: str = "", run_id: str = "") -> Config:
    """ResourceProperties (strings from CloudFormation) to a Config. Every value is required: defaults live in the construct."""
    return Config(
        cluster_name=_required(props, "ClusterName"),
        expected_key=_required(props, "KeyArn"),
        cluster_role_arn=_required(props, "ClusterRoleArn"),
        namespace=_required(props, "CanaryNamespace"),
        label_key=_required(props, "CanaryLabelKey"),
        label_value=_required(props, "CanaryLabelValue"),
        pod_check=_bool(props, "PodCheck"),
        pod_image=_required(props, "PodImage"),
        pod_timeout_seconds=_seconds(props, "PodTimeoutSeconds", 10.0, 780.0),
        cloudtrail_check=_bool(props, "CloudTrailCheck"),
        cloudtrail_wait_seconds=_seconds(props, "CloudTrailWaitSeconds", 0.0, 600.0),
        cloudtrail_required=_bool(props, "CloudTrailRequired"),
        owner=owner or "unknown-owner",
        run_id=run_id or "unknown-run",
    )


def physical_id(cluster_name: str) -> str:
    """The verification's id from its Create on. An Update keeps whatever id the resource has (see on_create_or_update)."""
    return f"{cluster_name}/envelope-verification"


def _owner(event: dict[str, Any]) -> str:
    return f"{kube.scrub(event.get('StackId'), 300)}/{kube.scrub(event.get('LogicalResourceId'), 100)}"


def _region() -> str:
    return clients_mod.region()


def budget_seconds(context: Any, cap_seconds: float | None = None) -> float:
    """Lambda time left minus a margin (which, with the stage cleanup reserve, covers one AWS call's worst case)."""
    return clients_mod.remaining_budget(context, SAFETY_MARGIN_SECONDS, cap_seconds)


def build_runtime(context: Any, cap_seconds: float | None = None) -> Runtime:
    return Runtime(deadline=time.monotonic() + budget_seconds(context, cap_seconds))


def build_clients(region: str, *, budget_seconds: float, with_cloudtrail: bool = True) -> checks.Clients:
    return clients_mod.build_clients(region, budget_seconds=budget_seconds, with_cloudtrail=with_cloudtrail)


# ---------------------------------------------------------------------------------------------
# Create / Update / Delete


def on_create_or_update(event: dict[str, Any], context: Any) -> dict[str, Any]:
    props = _props(event)
    config = parse_properties(props, owner=_owner(event), run_id=kube.scrub(event.get("RequestId"), 100))
    namespace = _metric_namespace(props)
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
            jsonlog.info("verification.rollback_not_reverified", physical_id=kube.scrub(physical, 200))
            return {"PhysicalResourceId": physical, "Data": _data(config.expected_key or "", ROLLBACK_SUMMARY, [], [], [], None)}
    runtime = build_runtime(context)
    report = checks.run_verification(config, build_clients(_region(), budget_seconds=runtime.remaining(),
                                                           with_cloudtrail=config.cloudtrail_check), runtime)
    data = _data(report.key_arn or "", report.summary_json(), report.evidence, report.warnings, report.leftovers, report.support)
    if namespace:
        problem = publish_first_datapoint(namespace, config.cluster_name, report, runtime)
        if problem:
            data["Warnings"] = " | ".join(w for w in (data["Warnings"], problem) if w)
    if len(json.dumps(data)) > MAX_DATA_BYTES:  # the whole response must stay under CloudFormation's 4 KB
        data["Summary"] = json.dumps({"stages": [[r.name, r.status, r.ms, r.aws, r.k8s] for r in report.results]}, separators=(",", ":"))
        data["Warnings"] = data["Warnings"][:500]
        data["Leftovers"] = _bounded_names(report.leftovers, 10)
    if len(json.dumps(data)) > MAX_DATA_BYTES:
        data["Summary"] = data["Summary"][:1000]
    return {"PhysicalResourceId": physical, "Data": data}


def _metric_namespace(props: dict[str, Any]) -> str | None:
    """MetricNamespace, set by EnvelopeEncryptionMonitoring when it alarms on the Verified metric; None without it."""
    raw = props.get(METRIC_NAMESPACE_PROPERTY)
    if raw is None or raw == "":
        return None
    import scheduled

    problem = scheduled.namespace_problem(str(raw).strip())
    if problem:
        raise PropertyError(f"Property {problem}")
    return str(raw).strip()


def publish_first_datapoint(namespace: str, cluster: str, report: checks.Report, runtime: Runtime) -> str | None:
    """Put the Verified metric (and the support days) the scheduled runs put, so a fresh deploy's missing-data
    alarm starts with data. Never fails the verification: returns a warning when CloudWatch refuses it."""
    import scheduled
    from botocore.exceptions import BotoCoreError, ClientError

    metrics = scheduled.metric_data(cluster, report.passed, [], None, report.support)
    if runtime.remaining() < MIN_PUBLISH_SECONDS:  # a call the Lambda timeout could cut would turn a pass into a failure
        jsonlog.warning("verification.metric_not_published", namespace=namespace, error="out of time")
        return (f"no time left to put Verified in {namespace}: the VerificationMissing alarm may report missing data "
                "until the first scheduled run")
    try:
        cloudwatch_client(runtime.remaining()).put_metric_data(Namespace=namespace, MetricData=metrics)
    except (ClientError, BotoCoreError) as exc:
        code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else type(exc).__name__
        jsonlog.warning("verification.metric_not_published", namespace=namespace, error=kube.scrub(code, 60))
        return (f"PutMetricData in {namespace} failed ({kube.scrub(code, 60)}): the VerificationMissing alarm may "
                "report missing data until the first scheduled run")
    jsonlog.info("verification.metric_published", namespace=namespace, metrics=[d["MetricName"] for d in metrics])
    return None


def cloudwatch_client(budget_seconds: float) -> Any:
    return clients_mod.cloudwatch_client(_region(), budget_seconds=budget_seconds)


def _bounded_names(names: list[str], limit: int) -> str:
    return ",".join(names[:limit]) + (f",+{len(names) - limit} more (see the logs)" if len(names) > limit else "")


def _update_rollback_in_progress(event: dict[str, Any]) -> bool:
    """An Update that CloudFormation sends while rolling back an update: the stack is UPDATE_ROLLBACK_IN_PROGRESS.

    That holds whether the verification's own update failed or it passed and a later resource failed, and it
    never holds for a forward update, so the same change deployed again after a rollback is verified again.
    Without an answer from DescribeStacks the Update is verified: no assurance by guesswork.
    """
    import protection

    return protection.stack_rolling_back(stack_client(), event.get("StackId"), {"UPDATE_ROLLBACK_IN_PROGRESS"})


def stack_client() -> Any:
    """CloudFormation, to read the status of the stack this resource belongs to."""
    import protection

    return protection.aws_clients()[1]


def _data(key_arn: str, summary: str, evidence: list[str], warnings: list[str], leftovers: list[str],
          support: Any) -> dict[str, str]:
    """The same keys on every success, so GetAtt never breaks: Verified, KeyArn, Summary, Evidence, Warnings,
    Leftovers, and EKS's word on the cluster's version: KubernetesVersion, VersionStatus, EndOfStandardSupport
    ("unknown" when the version-support stage did not run or EKS did not answer)."""
    end = getattr(support, "end_of_standard_support", None)
    return {"Verified": "true", "KeyArn": key_arn, "Summary": summary, "Evidence": ",".join(evidence),
            "Warnings": " | ".join(warnings), "Leftovers": ",".join(leftovers),
            "KubernetesVersion": str(getattr(support, "version", "") or "unknown")[:20],
            "VersionStatus": str(getattr(support, "status", "") or "unknown")[:20],
            "EndOfStandardSupport": end.isoformat() if end is not None else "unknown"}


def on_delete(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Sweep provably-ours canaries within a short budget; any error (cluster gone, no access) still returns success."""
    props = event.get("ResourceProperties") if isinstance(event.get("ResourceProperties"), dict) else {}
    physical = str(event.get("PhysicalResourceId") or f"{props.get('ClusterName') or 'unknown'}/envelope-verification")
    try:
        config = parse_properties(props, owner=_owner(event), run_id=kube.scrub(event.get("RequestId"), 100))
        runtime = build_runtime(context, cap_seconds=DELETE_BUDGET_SECONDS)
        deleted, leftovers = cleanup_cluster(config, build_clients(_region(), budget_seconds=runtime.remaining() / 2,
                                                                   with_cloudtrail=False), runtime)
        jsonlog.info("delete.swept", cluster=config.cluster_name, deleted=deleted, leftovers=leftovers)
    except Exception as exc:  # noqa: BLE001 - a failed Delete would abandon the resource
        jsonlog.warning("delete.cleanup_skipped", error=type(exc).__name__, message=kube.scrub(exc, 160))
    return {"PhysicalResourceId": physical}


def cleanup_cluster(config: Config, clients: checks.Clients, runtime: Runtime) -> tuple[int, list[str]]:
    """DescribeCluster for endpoint and CA, then sweep; a missing or inactive cluster means nothing to do."""
    from botocore.exceptions import ClientError

    try:
        cluster = clients.eks.describe_cluster(name=config.cluster_name)["cluster"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return 0, []
        raise
    if cluster.get("status") != "ACTIVE":
        return 0, []
    facts = checks.ClusterFacts(config.cluster_name, cluster.get("endpoint") or "",
                                (cluster.get("certificateAuthority") or {}).get("data") or "", "", "", {})
    client = clients_mod.open_kube(facts, config, clients, runtime)
    client.policy = runtime.cleanup_policy
    return kube_checks.sweep_canaries(client, config, runtime)
