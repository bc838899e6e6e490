"""CloudFormation custom resource (CDK Provider framework): prove envelope encryption works, or fail the deploy."""
from __future__ import annotations

import json
import os
import time
from typing import Any

import boto3
from botocore.config import Config as BotoConfig

import checks
import jsonlog
import kube

SAFETY_MARGIN_SECONDS = 30.0
DELETE_BUDGET_SECONDS = 60.0
MAX_DATA_BYTES = 4096
_BOTO_CONFIG = BotoConfig(
    retries={"mode": "standard", "max_attempts": 4},
    connect_timeout=5,
    read_timeout=15,
    user_agent_extra="eks-envelope-verifier",
)


class PropertyError(ValueError):
    """A ResourceProperties value the handler cannot use; the message names the property, value and fix."""


def build_clients(region: str, with_cloudtrail: bool = True) -> checks.Clients:
    """boto3 clients with standard retries and explicit timeouts; STS pinned to the regional endpoint for the token."""
    session = boto3.session.Session(region_name=region)
    sts = session.client("sts", region_name=region, endpoint_url=kube.sts_endpoint(region), config=_BOTO_CONFIG)
    return checks.Clients(
        eks=session.client("eks", config=_BOTO_CONFIG),
        kms=session.client("kms", config=_BOTO_CONFIG),
        cloudtrail=session.client("cloudtrail", config=_BOTO_CONFIG) if with_cloudtrail else None,
        token_provider=lambda cluster: kube.make_token(sts, cluster),
    )


def build_runtime(context: Any, cap_seconds: float | None = None) -> checks.Runtime:
    """Deadline = Lambda time left minus a margin, so we fail with a reason instead of being killed."""
    remaining = context.get_remaining_time_in_millis() / 1000.0 if context is not None else 840.0
    budget = max(1.0, remaining - SAFETY_MARGIN_SECONDS)
    if cap_seconds is not None:
        budget = min(budget, cap_seconds)
    return checks.Runtime(deadline=time.monotonic() + budget)


def _bool(props: dict[str, Any], name: str, default: bool) -> bool:
    raw = props.get(name)
    if raw is None or raw == "":
        return default
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
        return raw.strip().lower() == "true"
    raise PropertyError(f"Property {name} is {str(raw)[:40]!r}; expected \"true\" or \"false\". Fix the value passed to the verifier.")


def _seconds(props: dict[str, Any], name: str, default: float, low: float, high: float) -> float:
    raw = props.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except (TypeError, ValueError):
        value = float("nan")
    if not (low <= value <= high):
        raise PropertyError(f"Property {name} is {str(raw)[:40]!r}; expected a number of seconds between {low:g} and {high:g}.")
    return value


def _text(props: dict[str, Any], name: str, default: str) -> str:
    raw = props.get(name)
    return default if raw is None or str(raw).strip() == "" else str(raw).strip()


def parse_properties(props: dict[str, Any]) -> checks.Config:
    """ResourceProperties (all strings from CloudFormation) to a Config; missing optional values take defaults."""
    for required in ("ClusterName", "KeyArn"):
        if not str(props.get(required) or "").strip():
            raise PropertyError(f"Property {required} is missing or empty. The construct must pass the {required} of the cluster to verify.")
    return checks.Config(
        cluster_name=str(props["ClusterName"]).strip(),
        expected_key=str(props["KeyArn"]).strip(),
        cluster_role_arn=_text(props, "ClusterRoleArn", "") or None,
        namespace=_text(props, "CanaryNamespace", checks.DEFAULT_NAMESPACE),
        label_key=_text(props, "CanaryLabelKey", checks.CANARY_LABEL_KEY),
        label_value=_text(props, "CanaryLabelValue", checks.CANARY_LABEL_VALUE),
        pod_check=_bool(props, "PodCheck", False),
        pod_image=_text(props, "PodImage", checks.DEFAULT_POD_IMAGE),
        pod_timeout_seconds=_seconds(props, "PodTimeoutSeconds", 300.0, 10.0, 780.0),
        cloudtrail_check=_bool(props, "CloudTrailCheck", False),
        cloudtrail_wait_seconds=_seconds(props, "CloudTrailWaitSeconds", 120.0, 0.0, 600.0),
    )


def physical_id(cluster_name: str) -> str:
    return f"{cluster_name}/envelope-verification"


def _region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def on_event(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Provider framework entry point: Create/Update verify, Delete cleans up and always succeeds."""
    request_type = event.get("RequestType")
    jsonlog.info("event", request_type=request_type, logical_id=event.get("LogicalResourceId"),
                 physical_id=event.get("PhysicalResourceId"), cluster=(event.get("ResourceProperties") or {}).get("ClusterName"))
    if request_type == "Delete":
        return on_delete(event, context)
    if request_type in ("Create", "Update"):
        return on_create_or_update(event, context)
    raise PropertyError(f"Unknown RequestType {request_type!r}; expected Create, Update or Delete.")


def on_create_or_update(event: dict[str, Any], context: Any) -> dict[str, Any]:
    config = parse_properties(event.get("ResourceProperties") or {})
    runtime = build_runtime(context)
    report = checks.run_verification(config, build_clients(_region(), config.cloudtrail_check), runtime)
    data = {"Verified": "true", "KeyArn": report.key_arn or "", "Summary": report.summary_json()}
    if len(json.dumps(data)) >= MAX_DATA_BYTES:  # keep the response under CloudFormation's 4 KB
        data["Summary"] = json.dumps({"stages": [[r.name, r.status, r.ms, r.aws, r.k8s] for r in report.results]}, separators=(",", ":"))
    return {"PhysicalResourceId": physical_id(config.cluster_name), "Data": data}


def on_delete(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Best-effort sweep of labelled canaries; any error (cluster gone, no access) still returns success."""
    props = event.get("ResourceProperties") or {}
    physical = event.get("PhysicalResourceId") or physical_id(str(props.get("ClusterName") or "unknown"))
    try:
        cluster_name = str(props.get("ClusterName") or "").strip()
        if cluster_name:
            config = checks.Config(
                cluster_name=cluster_name,
                namespace=_text(props, "CanaryNamespace", checks.DEFAULT_NAMESPACE),
                label_key=_text(props, "CanaryLabelKey", checks.CANARY_LABEL_KEY),
                label_value=_text(props, "CanaryLabelValue", checks.CANARY_LABEL_VALUE),
            )
            runtime = build_runtime(context, cap_seconds=DELETE_BUDGET_SECONDS)
            deleted = cleanup_cluster(config, build_clients(_region(), with_cloudtrail=False), runtime)
            jsonlog.info("delete.swept", cluster=cluster_name, deleted=deleted)
    except Exception as exc:  # noqa: BLE001 - a failed Delete would abandon the resource
        jsonlog.warning("delete.cleanup_skipped", error=f"{exc.__class__.__name__}: {str(exc)[:160]}")
    return {"PhysicalResourceId": physical}


def cleanup_cluster(config: checks.Config, clients: checks.Clients, runtime: checks.Runtime) -> int:
    """DescribeCluster for endpoint and CA, then delete labelled canaries; a missing cluster means nothing to do."""
    from botocore.exceptions import ClientError

    try:
        cluster = clients.eks.describe_cluster(name=config.cluster_name)["cluster"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return 0
        raise
    if cluster.get("status") != "ACTIVE":
        return 0
    client = kube.KubeClient(
        cluster.get("endpoint") or "",
        (cluster.get("certificateAuthority") or {}).get("data") or "",
        lambda: clients.token_provider(config.cluster_name),
        deadline=runtime.deadline,
        policy=runtime.cleanup_policy,
        clock=runtime.clock,
        sleep=runtime.sleep,
    )
    return checks.sweep_canaries(client, config)
