"""What the day-2 monitoring takes: MonitoringOptions (how it watches), MonitoringProps (the construct's
props), and the checks both go through."""
from __future__ import annotations

import re
from dataclasses import dataclass

from aws_cdk import CustomResource, Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns

from .contract import DEFAULT_LOOKBACK_HOURS, DEFAULT_METRIC_NAMESPACE, VerificationProperties, metric_namespace_problem
from .props import Props, typed_props
from .validation import Problems, check_int_range, is_token

#: The support alarm's threshold may be at most this: standard support lasts 14 months from release.
MAX_SUPPORT_WARNING_DAYS = 365
#: A scheduled run may be at most this far apart: two missed periods must fit in one day of alarm history.
MAX_SCHEDULE_MINUTES = 720
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@typed_props
@dataclass(frozen=True)
class MonitoringOptions:
    """How the cluster is watched after the deploy.

    A part of :class:`~eks_envelope.cluster_props.ClusterProps` (``monitoring``) and of :class:`MonitoringProps`
    (``options``), checked by them as a whole: whether a schedule is allowed depends on the verifier.

    :param schedule: how often the verifier runs on its own. ``None`` turns scheduled verification
        (and the alarms on its metric) off. :default: - every hour; off in ephemeral environments
    :param lookback: how far back each scheduled run looks in CloudTrail for KMS use by the cluster role.
        :default: 24 hours
    :param secret_roundtrip: scheduled runs also write and read a canary Secret (a few Kubernetes calls
        and KMS requests per run). :default: False
    :param metric_namespace: CloudWatch namespace of the metrics. :default: "EksEnvelope"
    :param config_rule: refused when True. It added ``EKS_SECRETS_ENCRYPTED`` scoped to this cluster, which AWS
        Config rejects (a periodic rule takes no scope); unscoped it would judge every cluster of the account
        against this one key. Use ``SecretsEncryptionGuardrail`` (account) or
        ``OrganizationSecretsEncryptionGuardrail`` with the approved keys (guardrail.py). :default: False
    :param support_warning: alarm when the cluster's Kubernetes version has this many days or fewer left in
        EKS standard support (EKS's own date, read by each scheduled run); ``None`` turns the alarm off.
        EKS announces an end of standard support at least 60 days ahead. :default: 60 days
    """

    schedule: Duration | None = Duration.hours(1)
    lookback: Duration = Duration.hours(DEFAULT_LOOKBACK_HOURS)
    secret_roundtrip: bool = False
    metric_namespace: str = DEFAULT_METRIC_NAMESPACE
    config_rule: bool = False
    support_warning: Duration | None = Duration.days(60)


def check_monitoring(
    problems: Problems,
    options: MonitoringOptions,
    *,
    alarm_email: str | None,
    alarm_topic: sns.ITopic | None,
    verify: bool,
) -> None:
    """Every problem with the monitoring props, named by field, with the fix."""
    if options.schedule is not None:
        # Milliseconds convert without error for any duration; to_minutes() raises on 90 seconds.
        millis = options.schedule.to_milliseconds() if not is_token(options.schedule.to_string()) else None
        if millis is not None and (millis % 60_000 or not 5 <= millis // 60_000 <= MAX_SCHEDULE_MINUTES):
            problems.add(
                "monitoring.schedule", options.schedule.to_human_string(),
                f"give a whole number of minutes from 5 to {MAX_SCHEDULE_MINUTES}, or None to turn the schedule off",
            )
        if not verify:
            problems.add(
                "monitoring.schedule", options.schedule.to_human_string(),
                "scheduled verification runs the verifier: keep verify=True, or set schedule=None",
            )
    if options.config_rule:
        problems.add(
            "monitoring.config_rule", options.config_rule,
            "a per-cluster AWS Config rule cannot deploy: EKS_SECRETS_ENCRYPTED is periodic and AWS Config rejects a "
            "scope on periodic rules; unscoped it judges every cluster of the account against this one key. Drop it and "
            "add SecretsEncryptionGuardrail (account) or OrganizationSecretsEncryptionGuardrail with all approved keys "
            "(docs/guardrail.md)",
        )
    lookback_hours = options.lookback.to_hours() if options.lookback.to_seconds() % 3600 == 0 else options.lookback.to_human_string()
    check_int_range(problems, "monitoring.lookback (hours)", lookback_hours, low=1, high=168)
    warning = options.support_warning
    if warning is not None and not is_token(warning.to_string()):  # its type: MonitoringOptions' typed props
        millis = warning.to_milliseconds()  # to_seconds()/to_days() raise on a fraction
        if millis % 86_400_000 or not 1 <= millis // 86_400_000 <= MAX_SUPPORT_WARNING_DAYS:
            problems.add("monitoring.support_warning", warning.to_human_string(),
                         f"give whole days from 1 to {MAX_SUPPORT_WARNING_DAYS} (e.g. Duration.days(60)), "
                         "or None to turn the alarm off")
    if metric_namespace_problem(options.metric_namespace or "") is not None:  # the handler's own rule
        problems.add(
            "monitoring.metric_namespace", options.metric_namespace,
            "1-255 letters, digits or . - _ / # :, not starting with 'AWS/' (reserved for AWS services)",
        )
    if alarm_email is not None and not is_token(alarm_email) and not _EMAIL_RE.match(alarm_email):
        problems.add("alarm_email", alarm_email, "give one e-mail address, e.g. 'platform-oncall@example.com'")
    if alarm_topic is not None and not hasattr(alarm_topic, "topic_arn"):
        problems.add("alarm_topic", alarm_topic, "give an aws_sns.ITopic (sns.Topic.from_topic_arn(...) for an ARN)")


@typed_props
@dataclass(frozen=True)
class MonitoringProps(Props):
    """The props of :class:`~eks_envelope.monitoring.EnvelopeEncryptionMonitoring`, as one frozen object."""

    #: the EKS cluster whose key is watched.
    cluster_name: str
    #: its cluster role; scheduled runs look for this role's KMS calls.
    cluster_role_arn: str
    #: the secrets key.
    key: kms.IKey
    #: the key's alias (``alias/...``); its DeleteAlias/UpdateAlias are watched. :default: - none watched
    key_alias: str | None = None
    #: the verifier Lambda the schedule invokes (``EnvelopeEncryptionVerifier.function``).
    #: :default: - no scheduled verification
    verifier_function: lambda_.IFunction | None = None
    #: that Lambda's role, which gets PutMetricData and LookupEvents. :default: - required with verifier_function
    verifier_role: iam.IRole | None = None
    #: what the verification resource is told (``EnvelopeEncryptionVerifier.verification_properties``);
    #: scheduled runs are told the same, as the contract's ScheduledVerification.
    #: :default: - the contract's defaults for this cluster, key and role
    verification_properties: VerificationProperties | None = None
    #: the verification custom resource (``EnvelopeEncryptionVerifier.resource``). With a
    #: schedule, it is told the metric namespace so a verified deploy publishes the first ``Verified``
    #: datapoint, and the alarms are created after it: a fresh deploy starts with data instead of a
    #: "verification missing" alarm until the first scheduled run. :default: - none: the missing-data alarm
    #: may fire after a fresh deploy until the first scheduled run reports
    verification: CustomResource | None = None
    #: schedule, look-back, namespace, support warning. :default: - hourly, 24 h look-back
    options: MonitoringOptions | None = None
    #: subscribe this address to the topic (confirm the e-mail AWS sends). :default: - none
    alarm_email: str | None = None
    #: send everything to this topic instead of a new one. :default: - a new encrypted topic
    alarm_topic: sns.ITopic | None = None
    #: the key of the new topic; it must be a key of this app, since its policy gets a
    #: statement for CloudWatch alarms. :default: - a new key for the topic only
    topic_key: kms.Key | None = None
    #: a new topic key is deleted with the stack. :default: False
    ephemeral: bool = False

    @property
    def options_in_effect(self) -> MonitoringOptions:
        """The given options, or hourly verification when there is a verifier to run (else none)."""
        return self.options or MonitoringOptions(schedule=Duration.hours(1) if self.verifier_function is not None else None)

    @property
    def scheduled(self) -> bool:
        """Scheduled verification (and its alarms) is on."""
        options = self.options_in_effect
        return self.verifier_function is not None and self.verifier_role is not None and options.schedule is not None

    def check(self, problems: Problems) -> None:
        verify = self.verifier_function is not None
        check_monitoring(problems, self.options_in_effect, alarm_email=self.alarm_email, alarm_topic=self.alarm_topic,
                         verify=verify)
        if verify and self.verifier_role is None:
            problems.add("verifier_role", None, "give the verifier Lambda's role: it needs PutMetricData and LookupEvents")
