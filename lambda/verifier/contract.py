"""The wire contract between the constructs and the verifier handler: one module, imported by both sides.

The constructs write CloudFormation properties with ``to_properties()`` (and the scheduled payload with
``ScheduledVerification.to_event()``); the handler reads them with ``from_properties()`` / ``from_event()``.
Every name that crosses the wire is spelled here once: resource types, property names, the scheduled
marker, metric names, the canary labels and the construct's defaults for the workstation command.

Over 400 lines because it is the one file both sides import: the properties in, the answers out, the
names and the defaults of four resources and the schedule; split, the halves would be imported apart again.

Stdlib only (the library imports it without boto3, the Lambda without aws-cdk-lib). Values on the
construct side may be CDK tokens: ``to_properties()`` only spells them, validation of construct props
happens at synth in the library. ``from_*`` refuse what the handler cannot use with a ``PropertyError``
that names the property, the value and the fix.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Mapping

from .text import scrub

__all__ = [
    "ASSOCIATION_RESOURCE_TYPE", "BUDGET_SECONDS", "CALLER_KEY_ACTIONS", "CLUSTER_ROLE_KEY_ACTIONS", "CANARY_LABEL_KEY", "CANARY_LABEL_VALUE", "CANARY_NAMESPACE",
    "CLOUDTRAIL_WAIT_RANGE", "CLOUDTRAIL_WAIT_SECONDS", "CLUSTER_DIMENSION", "DEFAULT_LOOKBACK_HOURS", "DEFAULT_METRIC_NAMESPACE",
    "DEFAULT_PAGE_SIZE", "DEFAULT_REENCRYPT_KINDS", "DELETION_PROTECTION_RESOURCE_TYPE", "EPHEMERAL_METADATA_KEY",
    "EVIDENCE_EVENTS_METRIC", "EVIDENCE_METRIC", "MAX_LOOKBACK_HOURS", "PAGE_SIZE_RANGE", "POD_IMAGE",
    "POD_TIMEOUT_RANGE", "POD_TIMEOUT_SECONDS", "SCHEDULED_EVENT_KIND", "SCHEDULED_EVENT_MARKER", "STAGE_DIMENSION", "STAGE_METRIC",
    "SUPPORT_DAYS_METRIC", "VERIFICATION_RESOURCE_TYPE", "VERIFIED_METRIC", "ASSOCIATION_HANDLER", "VERIFIER_HANDLER", "AssociationProperties",
    "AssociationData", "PropertyError", "ProtectionData", "ProtectionProperties", "ScheduledVerification",
    "VerificationData", "VerificationProperties",
    "metric_namespace_problem",
    "METRIC_NAMESPACE_PROPERTY", "PROTECT_PROPERTY",
]

# ---------------------------------------------------------------------------------------------
# names

#: Custom resource that proves envelope encryption after each deploy (the verifier's Lambda serves it).
VERIFICATION_RESOURCE_TYPE = "Custom::EnvelopeEncryptionVerification"
#: Custom resource that switches EKS deletion protection on after a verified deploy (and off for a
#: deliberate teardown). The verifier's Lambda serves it.
DELETION_PROTECTION_RESOURCE_TYPE = "Custom::ClusterDeletionProtection"
#: Custom resource that starts (and with ``Complete``, finishes) encrypting an existing cluster.
ASSOCIATION_RESOURCE_TYPE = "Custom::EnvelopeEncryptionAssociation"

#: The Lambda handlers, as the asset's root sees them (``eks_envelope.handler.asset_dir()``): the verifier
#: (verification, deletion protection and the schedule) and the existing-cluster association.
VERIFIER_HANDLER = "verifier.entry.dispatch.on_event"
ASSOCIATION_HANDLER = "verifier.entry.association.on_event"

#: A scheduled verification event carries this key with this value, and no ``RequestType``.
SCHEDULED_EVENT_MARKER = "eks-envelope"
SCHEDULED_EVENT_KIND = "scheduled-verification"

#: CloudFormation resource metadata key set to ``True`` on resources of an ephemeral environment.
#: The compliance pack relaxes "retained / deletion-protected" rules only where it is present.
EPHEMERAL_METADATA_KEY = "eks-envelope:ephemeral"

#: The verifier works with namespace-scoped rights in a namespace that always exists.
CANARY_NAMESPACE = "default"
#: Only the verifier's canary objects carry this label; a Fargate selector on it runs the canary pod.
CANARY_LABEL_KEY = "eks-envelope.io/canary"
CANARY_LABEL_VALUE = "verifier"

#: Metrics the handler publishes and the construct's alarms watch.
DEFAULT_METRIC_NAMESPACE = "EksEnvelope"
VERIFIED_METRIC = "Verified"
STAGE_METRIC = "StagePassed"
EVIDENCE_METRIC = "EvidenceFound"
EVIDENCE_EVENTS_METRIC = "EvidenceEvents"
#: Days to the end of EKS standard support (EKS's own date).
SUPPORT_DAYS_METRIC = "DaysToEndOfStandardSupport"
#: The verification resource's property naming the namespace its first ``Verified`` datapoint goes to (set by
#: EnvelopeEncryptionMonitoring on the verifier's resource; ``VerificationProperties.metric_namespace``).
METRIC_NAMESPACE_PROPERTY = "MetricNamespace"
#: The deletion-protection resource's switch (``ProtectionProperties.protect``); the compliance pack reads it too.
PROTECT_PROPERTY = "Protect"
#: Dimensions of those metrics: every one carries the cluster; StagePassed the stage too.
CLUSTER_DIMENSION = "ClusterName"
STAGE_DIMENSION = "Stage"

#: What EKS's cluster role needs on the key to wrap and unwrap data keys (KMS v2 provider): the key policy the
#: construct writes grants it, and the association checks it (SimulatePrincipalPolicy) before it changes anything.
CLUSTER_ROLE_KEY_ACTIONS = ("kms:Encrypt", "kms:Decrypt", "kms:DescribeKey", "kms:ListGrants")
#: What the principal that creates the cluster (or associates the key) needs: EKS creates a grant for the cluster role.
CALLER_KEY_ACTIONS = ("kms:CreateGrant", "kms:DescribeKey")

# ---------------------------------------------------------------------------------------------
# defaults: the construct's, and the workstation command's (which runs without CDK)

POD_IMAGE = "public.ecr.aws/docker/library/busybox:stable"
POD_TIMEOUT_SECONDS = 300
CLOUDTRAIL_WAIT_SECONDS = 120
#: The whole run: a Lambda gets at most 15 minutes, the CLI the same.
BUDGET_SECONDS = 900.0
DEFAULT_LOOKBACK_HOURS = 24
MAX_LOOKBACK_HOURS = 168
#: Kubernetes objects the association re-encrypts by default, and the page size of its list calls.
DEFAULT_REENCRYPT_KINDS = ("secrets",)
DEFAULT_PAGE_SIZE = 250

#: Ranges the handler accepts (the construct's own validation is stricter or equal).
POD_TIMEOUT_RANGE = (10.0, 780.0)
CLOUDTRAIL_WAIT_RANGE = (0.0, 600.0)
PAGE_SIZE_RANGE = (1, 1000)

_NAMESPACE_RE = re.compile(r"^[A-Za-z0-9./_#:-]{1,255}$")


class PropertyError(ValueError):
    """A property value the other side cannot use: the message names the property, the value and the fix."""


def metric_namespace_problem(namespace: str, field: str = "MetricNamespace") -> str | None:
    """Why ``namespace`` cannot be a CloudWatch namespace of ours, with the fix; None when it can."""
    if _NAMESPACE_RE.match(namespace) and not namespace.startswith("AWS/"):
        return None
    return (f"{field} is {namespace[:60]!r}; expected 1-255 letters, digits or ./_#:- not starting with "
            "'AWS/'. Fix MonitoringOptions.metric_namespace.")


# ---------------------------------------------------------------------------------------------
# spelling and reading single values


def _spell(value: Any) -> str:
    """How a value travels: CloudFormation passes every property as a string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _object(props: Any, what: str = "ResourceProperties") -> Mapping[str, Any]:
    if not isinstance(props, Mapping):
        raise PropertyError(f"{what} is missing or not an object. The construct passes them: redeploy with it.")
    return props


def _absent(raw: Any) -> bool:
    """Not given: missing, null or blank (CloudFormation passes an unset optional property as nothing or "")."""
    return raw is None or str(raw).strip() == ""


def _text(props: Mapping[str, Any], name: str) -> str:
    raw = props.get(name)
    if _absent(raw) or not isinstance(raw, (str, int, float, bool)):
        raise PropertyError(f"Property {name} is missing or empty. The construct passes it: deploy with a matching eks-envelope version.")
    return str(raw).strip()


def _optional_text(props: Mapping[str, Any], name: str) -> str | None:
    return None if _absent(props.get(name)) else _text(props, name)


def _bool(props: Mapping[str, Any], name: str, default: bool | None = None) -> bool:
    raw = props.get(name)
    if isinstance(raw, bool):
        return raw
    if default is not None and _absent(raw):
        return default
    text = _text(props, name).lower()
    if text not in ("true", "false"):
        raise PropertyError(f"Property {name} is {scrub(raw, 40)!r}; expected \"true\" or \"false\". Fix the value passed by the construct.")
    return text == "true"


def _seconds(props: Mapping[str, Any], name: str, bounds: tuple[float, float]) -> float:
    raw = _text(props, name)
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    low, high = bounds
    if not (low <= value <= high):
        raise PropertyError(f"Property {name} is {scrub(raw, 40)!r}; expected a number of seconds between {low:g} and {high:g}.")
    return value


def _whole(props: Mapping[str, Any], name: str, bounds: tuple[int, int], default: int, fix: str) -> int:
    raw = props.get(name)
    text = str(default) if _absent(raw) else str(raw).strip()
    low, high = bounds
    if not text.isdigit() or not low <= int(text) <= high:
        raise PropertyError(f"Property {name} is {scrub(text, 20)!r}; expected a whole number from {low} to {high}. {fix}")
    return int(text)


# ---------------------------------------------------------------------------------------------
# Custom::EnvelopeEncryptionVerification


@dataclass(frozen=True)
class VerificationProperties:
    """What the verification resource is told. Every field is required on the wire: defaults live here."""

    cluster_name: str
    key_arn: str
    cluster_role_arn: str
    pod_check: bool = True
    pod_image: str = POD_IMAGE
    pod_timeout_seconds: float = POD_TIMEOUT_SECONDS
    cloudtrail_check: bool = False
    cloudtrail_wait_seconds: float = CLOUDTRAIL_WAIT_SECONDS
    #: Strict mode: no CloudTrail evidence of the cluster role using the key within the wait fails the deploy.
    cloudtrail_required: bool = False
    canary_namespace: str = CANARY_NAMESPACE
    canary_label_key: str = CANARY_LABEL_KEY
    canary_label_value: str = CANARY_LABEL_VALUE
    #: The handler answers an Update sent while the stack is UPDATE_ROLLBACK_IN_PROGRESS without re-verifying.
    rollback_safe: bool = True
    #: A new value each synth makes CloudFormation send an Update on every deploy; None: no nonce.
    run_nonce: str | None = None
    #: Set by EnvelopeEncryptionMonitoring: a verified deploy puts its first ``Verified`` datapoint here.
    metric_namespace: str | None = None

    def to_properties(self) -> dict[str, str]:
        props = {
            "ClusterName": self.cluster_name,
            "KeyArn": self.key_arn,
            "ClusterRoleArn": self.cluster_role_arn,
            "CanaryNamespace": self.canary_namespace,
            "CanaryLabelKey": self.canary_label_key,
            "CanaryLabelValue": self.canary_label_value,
            "PodCheck": _spell(self.pod_check),
            "PodImage": self.pod_image,
            "RollbackSafe": _spell(self.rollback_safe),
            "PodTimeoutSeconds": _spell(self.pod_timeout_seconds),
            "CloudTrailCheck": _spell(self.cloudtrail_check),
            "CloudTrailWaitSeconds": _spell(self.cloudtrail_wait_seconds),
            "CloudTrailRequired": _spell(self.cloudtrail_required),
        }
        if self.run_nonce is not None:
            props["RunNonce"] = self.run_nonce
        if self.metric_namespace is not None:
            props["MetricNamespace"] = self.metric_namespace
        return props

    @classmethod
    def from_properties(cls, props: Any) -> VerificationProperties:
        props = _object(props)
        namespace = _optional_text(props, "MetricNamespace")
        if namespace is not None and (problem := metric_namespace_problem(namespace, "Property MetricNamespace")):
            raise PropertyError(problem)
        return cls(
            cluster_name=_text(props, "ClusterName"),
            key_arn=_text(props, "KeyArn"),
            cluster_role_arn=_text(props, "ClusterRoleArn"),
            canary_namespace=_text(props, "CanaryNamespace"),
            canary_label_key=_text(props, "CanaryLabelKey"),
            canary_label_value=_text(props, "CanaryLabelValue"),
            pod_check=_bool(props, "PodCheck"),
            pod_image=_text(props, "PodImage"),
            pod_timeout_seconds=_seconds(props, "PodTimeoutSeconds", POD_TIMEOUT_RANGE),
            cloudtrail_check=_bool(props, "CloudTrailCheck"),
            cloudtrail_wait_seconds=_seconds(props, "CloudTrailWaitSeconds", CLOUDTRAIL_WAIT_RANGE),
            cloudtrail_required=_bool(props, "CloudTrailRequired"),
            rollback_safe=_bool(props, "RollbackSafe", default=False),
            run_nonce=_optional_text(props, "RunNonce"),
            metric_namespace=namespace,
        )


# ---------------------------------------------------------------------------------------------
# the scheduled verification (an EventBridge payload, not a custom resource)


@dataclass(frozen=True)
class ScheduledVerification:
    """The schedule's payload: the verification's properties without a pod or a deploy-time CloudTrail wait.

    It never carries ``RequestType``: that is how the handler tells a scheduled run from CloudFormation.
    """

    verification: VerificationProperties
    #: False: cluster and key stages only, no Kubernetes call at all.
    secret_check: bool = True
    lookback_hours: int = DEFAULT_LOOKBACK_HOURS
    metric_namespace: str = DEFAULT_METRIC_NAMESPACE

    def __post_init__(self) -> None:
        # A scheduled run proves the configuration and the key, not a pod; its CloudTrail look-back is its own.
        object.__setattr__(self, "verification", replace(self.verification, pod_check=False, cloudtrail_check=False,
                                                         cloudtrail_required=False, run_nonce=None, metric_namespace=None))

    def to_event(self) -> dict[str, str]:
        event = self.verification.to_properties()
        event.update({
            SCHEDULED_EVENT_MARKER: SCHEDULED_EVENT_KIND,
            "SecretCheck": _spell(self.secret_check),
            "LookbackHours": _spell(self.lookback_hours),
            "MetricNamespace": self.metric_namespace,
        })
        return event

    @staticmethod
    def is_scheduled(event: Any) -> bool:
        return isinstance(event, Mapping) and event.get(SCHEDULED_EVENT_MARKER) == SCHEDULED_EVENT_KIND

    @classmethod
    def from_event(cls, event: Any) -> ScheduledVerification:
        if not cls.is_scheduled(event):
            raise PropertyError(
                f"Event has no {SCHEDULED_EVENT_MARKER!r}: {SCHEDULED_EVENT_KIND!r} marker; a scheduled run is started by "
                "the EventBridge schedule of EnvelopeEncryptionMonitoring, which sends it.")
        props = {k: v for k, v in event.items() if k not in (SCHEDULED_EVENT_MARKER, "MetricNamespace")}
        namespace = str(event.get("MetricNamespace") or DEFAULT_METRIC_NAMESPACE).strip()
        if problem := metric_namespace_problem(namespace):
            raise PropertyError(problem)
        return cls(
            verification=VerificationProperties.from_properties(props),
            secret_check=_bool(props, "SecretCheck"),
            lookback_hours=_whole(props, "LookbackHours", (1, MAX_LOOKBACK_HOURS), DEFAULT_LOOKBACK_HOURS,
                                  "Fix MonitoringOptions.lookback."),
            metric_namespace=namespace,
        )


# ---------------------------------------------------------------------------------------------
# Custom::ClusterDeletionProtection


@dataclass(frozen=True)
class ProtectionProperties:
    cluster_name: str
    protect: bool

    def to_properties(self) -> dict[str, str]:
        return {"ClusterName": self.cluster_name, PROTECT_PROPERTY: _spell(self.protect)}

    @classmethod
    def from_properties(cls, props: Any) -> ProtectionProperties:
        props = _object(props)
        return cls(cluster_name=_text(props, "ClusterName"), protect=_bool(props, PROTECT_PROPERTY))


# ---------------------------------------------------------------------------------------------
# Custom::EnvelopeEncryptionAssociation


@dataclass(frozen=True)
class AssociationProperties:
    cluster_name: str
    key_arn: str
    #: ``secrets`` (core/v1) or ``group/version/plural``; the handler checks each kind's form.
    reencrypt_kinds: tuple[str, ...] = DEFAULT_REENCRYPT_KINDS
    #: False: start the association and return; True (a later deploy): re-encrypt and verify.
    complete: bool = False
    page_size: int = DEFAULT_PAGE_SIZE

    def to_properties(self) -> dict[str, str]:
        props = {"ClusterName": self.cluster_name, "KeyArn": self.key_arn,
                 "ReencryptKinds": ",".join(self.reencrypt_kinds), "Complete": _spell(self.complete)}
        if self.page_size != DEFAULT_PAGE_SIZE:
            props["PageSize"] = _spell(self.page_size)
        return props

    @classmethod
    def from_properties(cls, props: Any) -> AssociationProperties:
        props = _object(props)
        raw_kinds = str(props.get("ReencryptKinds") or ",".join(DEFAULT_REENCRYPT_KINDS))
        kinds = tuple(k.strip() for k in raw_kinds.split(",") if k.strip())
        return cls(
            cluster_name=_text(props, "ClusterName"),
            key_arn=_text(props, "KeyArn"),
            reencrypt_kinds=kinds or DEFAULT_REENCRYPT_KINDS,
            complete=_bool(props, "Complete", default=False),
            page_size=_whole(props, "PageSize", PAGE_SIZE_RANGE, DEFAULT_PAGE_SIZE, "The construct passes it: deploy with a matching eks-envelope version."),
        )


# ---------------------------------------------------------------------------------------------
# answers: each resource's Data, which the constructs read with GetAtt (``ATTRIBUTES`` names them)


@dataclass(frozen=True)
class VerificationData:
    """A verified Create or Update: the same keys every time, so GetAtt never breaks ("unknown" where EKS did not say)."""

    ATTRIBUTES: ClassVar[tuple[str, ...]] = ("Verified", "KeyArn", "Summary", "Evidence", "Warnings", "Leftovers",
                                             "KubernetesVersion", "VersionStatus", "EndOfStandardSupport")
    key_arn: str
    summary: str
    evidence: str = ""
    warnings: str = ""
    leftovers: str = ""
    kubernetes_version: str = "unknown"
    version_status: str = "unknown"
    end_of_standard_support: str = "unknown"

    def to_data(self) -> dict[str, str]:
        return dict(zip(self.ATTRIBUTES, ("true", self.key_arn, self.summary, self.evidence, self.warnings, self.leftovers,
                                          self.kubernetes_version, self.version_status, self.end_of_standard_support)))


@dataclass(frozen=True)
class ProtectionData:
    """Whether the cluster is deletion-protected now."""

    ATTRIBUTES: ClassVar[tuple[str, ...]] = ("Protected",)
    protected: bool

    def to_data(self) -> dict[str, str]:
        return {"Protected": _spell(self.protected)}


@dataclass(frozen=True)
class AssociationData:
    """Where the association stands (``Status``: ASSOCIATING or ASSOCIATED) and what the operator does next."""

    ATTRIBUTES: ClassVar[tuple[str, ...]] = ("KeyArn", "UpdateId", "Status", "Reencrypted", "Next")
    key_arn: str
    update_id: str
    status: str
    reencrypted: str
    next_steps: str

    def to_data(self) -> dict[str, str]:
        return dict(zip(self.ATTRIBUTES, (self.key_arn, self.update_id, self.status, self.reencrypted, self.next_steps)))
