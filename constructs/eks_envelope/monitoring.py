"""Day 2: keep proving envelope encryption after the deploy, and raise the alarm when the key is threatened.

EKS's API server caches its data key: a key that is disabled, scheduled for deletion, loses its grant
or has its policy rewritten keeps "working" until the API server restarts. This module watches for
exactly that: a scheduled run of the same verifier Lambda, CloudWatch alarms on its metric, and
EventBridge rules on the CloudTrail management events that threaten the key — all to one topic.

Over 400 lines: the options with their checks, the construct, and the threat table it turns into
EventBridge rules belong together; none of them is used without the others.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

from aws_cdk import Aws, CfnResource, CustomResource, Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from .contract import (
    CANARY_LABEL_KEY,
    CANARY_LABEL_VALUE,
    CANARY_NAMESPACE,
    EPHEMERAL_METADATA_KEY,
    SCHEDULED_EVENT_KIND,
    SCHEDULED_EVENT_MARKER,
)
from .key import deny_create_grant_except_for_aws_services
from .acknowledgements import acknowledge
from .props import typed_props
from .validation import Problems, check_int_range, is_token

#: CloudWatch namespace of the scheduled verification's metrics.
DEFAULT_METRIC_NAMESPACE = "EksEnvelope"
#: Metric the alarms watch: 1 when a scheduled run verified the cluster, 0 when it did not.
VERIFIED_METRIC = "Verified"
#: Days to the end of EKS standard support of the cluster's version, as EKS's DescribeClusterVersions says.
SUPPORT_DAYS_METRIC = "DaysToEndOfStandardSupport"
#: The verification resource's property naming the namespace its first datapoint goes to (the handler reads it).
METRIC_NAMESPACE_PROPERTY = "MetricNamespace"
#: The support alarm's threshold may be at most this: standard support lasts 14 months from release.
MAX_SUPPORT_WARNING_DAYS = 365
#: A scheduled run may be at most this far apart: two missed periods must fit in one day of alarm history.
MAX_SCHEDULE_MINUTES = 720
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_METRIC_NAMESPACE_RE = re.compile(r"^[A-Za-z0-9./_#:-]{1,255}$")
#: README anchor of the runbooks, quoted in every notification.
RUNBOOK = "docs/verifier.md#day-2-keep-proving-it"


@dataclass(frozen=True)
class KeyThreat:
    """A CloudTrail management event on the key that the monitoring turns into a notification."""

    construct_id: str
    event_names: tuple[str, ...]
    meaning: str
    on_alias: bool = False


#: The CloudTrail management events that threaten the key. Two rules, not one per event: each EventBridge
#: rule costs about 0.1 s of every synth (measured), and the notification names the event anyway.
KEY_EVENTS = ("DisableKey", "ScheduleKeyDeletion", "PutKeyPolicy", "RevokeGrant", "RetireGrant", "DisableKeyRotation")
ALIAS_EVENTS = ("DeleteAlias", "UpdateAlias")
KEY_THREATS: tuple[KeyThreat, ...] = (
    KeyThreat(
        "KeyTamperRule", KEY_EVENTS,
        "a call that can cut the cluster off its secrets key (disable, delete, re-policy, grant removal) or stop its "
        "rotation",
    ),
    KeyThreat("KeyAliasRule", ALIAS_EVENTS, "the secrets key's alias was deleted or repointed", on_alias=True),
)


@typed_props
@dataclass(frozen=True)
class MonitoringOptions:
    """How the cluster is watched after the deploy.

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
    lookback: Duration = Duration.hours(24)
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
    if not _METRIC_NAMESPACE_RE.match(options.metric_namespace or "") or options.metric_namespace.startswith("AWS/"):
        problems.add(
            "monitoring.metric_namespace", options.metric_namespace,
            "1-255 letters, digits or . - _ / # :, not starting with 'AWS/' (reserved for AWS services)",
        )
    if alarm_email is not None and not is_token(alarm_email) and not _EMAIL_RE.match(alarm_email):
        problems.add("alarm_email", alarm_email, "give one e-mail address, e.g. 'platform-oncall@example.com'")
    if alarm_topic is not None and not hasattr(alarm_topic, "topic_arn"):
        problems.add("alarm_topic", alarm_topic, "give an aws_sns.ITopic (sns.Topic.from_topic_arn(...) for an ARN)")


def scheduled_payload(properties: Mapping[str, str], options: MonitoringOptions) -> dict[str, str]:
    """The verification's own properties, marked scheduled: no pod, no deploy-time CloudTrail wait, no nonce.

    It never carries ``RequestType``: that is how the handler tells a scheduled run from CloudFormation.
    """
    payload = {k: v for k, v in properties.items() if k not in ("RunNonce", "ServiceToken")}
    payload.update({
        SCHEDULED_EVENT_MARKER: SCHEDULED_EVENT_KIND,
        "PodCheck": "false",
        "CloudTrailCheck": "false",
        "SecretCheck": str(options.secret_roundtrip).lower(),
        "LookbackHours": str(int(options.lookback.to_hours())),
        "MetricNamespace": options.metric_namespace,
    })
    return payload


@typed_props
class EnvelopeEncryptionMonitoring(Construct):
    """Scheduled verification, alarms on its metric and alerts on key-threatening events, to one topic.

    - an EventBridge schedule invokes the verifier Lambda with a payload marked scheduled (no
      ``RequestType``); each run publishes ``Verified`` (0/1), per-stage outcomes and CloudTrail evidence;
    - CloudWatch alarms on ``Verified``: one for a failed run, one for runs that stopped (missing data
      is breaching);
    - EventBridge rules on the CloudTrail management events that threaten the key, filtered to its ARN,
      and on its alias (needs a CloudTrail trail: EventBridge sees management events only through one);
    - one SNS topic, encrypted with its own KMS key and refusing non-TLS publishers, or yours.

    AWS Config's EKS rules are account- or organization-wide guardrails, not part of one cluster's
    monitoring: guardrail.py.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cluster_name: str,
        cluster_role_arn: str,
        key: kms.IKey,
        key_alias: str | None = None,
        verifier_function: lambda_.IFunction | None = None,
        verifier_role: iam.IRole | None = None,
        verifier_properties: Mapping[str, str] | None = None,
        verification: CustomResource | None = None,
        options: MonitoringOptions | None = None,
        alarm_email: str | None = None,
        alarm_topic: sns.ITopic | None = None,
        topic_key: kms.Key | None = None,
        ephemeral: bool = False,
    ) -> None:
        """
        :param cluster_name: the EKS cluster whose key is watched.
        :param cluster_role_arn: its cluster role; scheduled runs look for this role's KMS calls.
        :param key: the secrets key.
        :param key_alias: the key's alias (``alias/...``); its DeleteAlias/UpdateAlias are watched. :default: - none watched
        :param verifier_function: the verifier Lambda the schedule invokes (``EnvelopeEncryptionVerifier.function``).
            :default: - no scheduled verification
        :param verifier_role: that Lambda's role, which gets PutMetricData and LookupEvents.
            :default: - required with verifier_function
        :param verifier_properties: the verification custom resource's properties
            (``EnvelopeEncryptionVerifier.properties``); scheduled runs are told the same.
            :default: - cluster, key, role and canary names only
        :param verification: the verification custom resource (``EnvelopeEncryptionVerifier.resource``). With a
            schedule, it is told the metric namespace so a verified deploy publishes the first ``Verified``
            datapoint, and the alarms are created after it: a fresh deploy starts with data instead of a
            "verification missing" alarm until the first scheduled run. :default: - none: the missing-data alarm
            may fire after a fresh deploy until the first scheduled run reports
        :param options: schedule, look-back, namespace, support warning. :default: - hourly, 24 h look-back
        :param alarm_email: subscribe this address to the topic (confirm the e-mail AWS sends). :default: - none
        :param alarm_topic: send everything to this topic instead of a new one. :default: - a new encrypted topic
        :param topic_key: the key of the new topic; it must be a key of this app, since its policy gets a
            statement for CloudWatch alarms. :default: - a new key for the topic only
        :param ephemeral: a new topic key is deleted with the stack. :default: False
        """
        super().__init__(scope, construct_id)
        verify = verifier_function is not None
        options = options or MonitoringOptions(schedule=Duration.hours(1) if verify else None)
        problems = Problems()
        check_monitoring(problems, options, alarm_email=alarm_email, alarm_topic=alarm_topic, verify=verify)
        if verify and verifier_role is None:
            problems.add("verifier_role", None, "give the verifier Lambda's role: it needs PutMetricData and LookupEvents")
        problems.raise_if_any()
        #: The MonitoringOptions in effect.
        self.options = options
        #: CloudWatch namespace of the verification metrics (``options.metric_namespace``).
        self.metric_namespace = options.metric_namespace

        #: The KMS key of the new alarm topic; None when ``alarm_topic`` was given.
        self.topic_key: kms.Key | None = None
        #: The topic every alarm and key event goes to: the given ``alarm_topic`` or a new encrypted one.
        self.topic: sns.ITopic = alarm_topic or self._new_topic(ephemeral, topic_key)
        if alarm_email:
            subscription = self.topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
            acknowledge(
                subscription,
                "Serverless-SNSRedrivePolicy",
                "An e-mail subscription: a dead-letter queue would keep undelivered mails where nobody reads them; the "
                "alarm states in CloudWatch and the events in CloudTrail stay the record of what happened.",
            )

        #: EventBridge rules on tampering with the key, by construct id.
        self.key_event_rules: dict[str, events.Rule] = {}
        for threat in KEY_THREATS:
            if threat.on_alias and not key_alias:
                continue
            self.key_event_rules[threat.construct_id] = self._threat_rule(threat, key, key_alias)

        #: The rule running the scheduled verification; None when the schedule is off.
        self.schedule: events.Rule | None = None
        #: What this construct attaches to the verifier's function and role (its invoke permission, its
        #: policy): the verification resource must depend on them, so its Delete still reaches its handler.
        self.verifier_attachments: list[Construct] = []
        #: Alarm on a failed scheduled verification; None when the schedule is off.
        self.failed_alarm: cloudwatch.Alarm | None = None
        #: Alarm on scheduled verifications that stopped reporting; None when the schedule is off.
        self.missing_alarm: cloudwatch.Alarm | None = None
        #: Alarm on the cluster's version nearing its end of EKS standard support; None when the schedule or
        #: ``options.support_warning`` is off.
        self.support_alarm: cloudwatch.Alarm | None = None
        if verifier_function is not None and verifier_role is not None and options.schedule is not None:
            payload = scheduled_payload(
                verifier_properties or {
                    "ClusterName": cluster_name,
                    "KeyArn": key.key_arn,
                    "ClusterRoleArn": cluster_role_arn,
                    "CanaryNamespace": CANARY_NAMESPACE,
                    "CanaryLabelKey": CANARY_LABEL_KEY,
                    "CanaryLabelValue": CANARY_LABEL_VALUE,
                },
                options,
            )
            self._schedule_verification(cluster_name, payload, verifier_function, verifier_role, options)
            if verification is not None:
                self._start_with_the_deploys_datapoint(verification)


    # ------------------------------------------------------------------------------------------
    # the topic

    def _new_topic(self, ephemeral: bool, topic_key: kms.Key | None) -> sns.Topic:
        """A KMS-encrypted, TLS-only topic; CloudWatch (and, through its targets, EventBridge) may use the key."""
        if topic_key is None:
            # Like the other keys: kept on update or delete, removed when a failed first deploy rolls back.
            removal = RemovalPolicy.DESTROY if ephemeral else RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE
            topic_key = kms.Key(
                self,
                "TopicKey",
                description="Encrypts the eks-envelope alarm topic (alarms and key-tamper events)",
                enable_key_rotation=True,
                removal_policy=removal,
                pending_window=Duration.days(7) if ephemeral else Duration.days(30),
            )
            if ephemeral:
                topic_key.node.default_child.add_metadata(EPHEMERAL_METADATA_KEY, True)
            # Nobody needs a grant on this key (SNS uses it on the publisher's behalf): Control Tower CT.KMS.PR.3.
            topic_key.add_to_resource_policy(deny_create_grant_except_for_aws_services())
        self.topic_key = topic_key
        topic = sns.Topic(
            self,
            "Topic",
            display_name="eks-envelope alarms",
            master_key=self.topic_key,
            enforce_ssl=True,
        )
        # SNS asks KMS on the publisher's behalf. The SnsTopic targets below grant EventBridge themselves;
        # CloudWatch needs this statement, and the condition keeps other accounts' alarms out.
        self.topic_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchPublishesAlarms",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            )
        )
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsOfThisAccount",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            )
        )
        return topic

    # ------------------------------------------------------------------------------------------
    # key-threatening events

    def _threat_rule(self, threat: KeyThreat, key: kms.IKey, key_alias: str | None) -> events.Rule:
        detail: dict[str, object] = {"eventSource": ["kms.amazonaws.com"], "eventName": list(threat.event_names)}
        if threat.on_alias:
            # DeleteAlias names only the alias; UpdateAlias names the alias and the new target key.
            detail["requestParameters"] = {"aliasName": [key_alias]}
        else:
            # CloudTrail lists the key ARN under resources[] whatever the caller passed (key id, ARN,
            # or a grant token for RetireGrant, whose requestParameters are null).
            detail["resources"] = {"ARN": [key.key_arn]}
        rule = events.Rule(
            self,
            threat.construct_id,
            description=f"eks-envelope: {'/'.join(threat.event_names)} on the cluster's secrets key",
            event_pattern=events.EventPattern(
                source=["aws.kms"],
                detail_type=["AWS API Call via CloudTrail"],
                detail=detail,
            ),
        )
        message = events.RuleTargetInput.from_text(
            f"eks-envelope: {events.EventField.from_path('$.detail.eventName')} by "
            f"{events.EventField.from_path('$.detail.userIdentity.arn')} at "
            f"{events.EventField.from_path('$.detail.eventTime')} in {events.EventField.from_path('$.region')} — "
            f"{threat.meaning}. Runbook: {RUNBOOK}, row {events.EventField.from_path('$.detail.eventName')}."
        )
        rule.add_target(targets.SnsTopic(self.topic, message=message))
        acknowledge(
            rule,
            "Serverless-EventBusDLQ",
            "The target is this construct's SNS topic in the same account: EventBridge retries delivery for 24 hours "
            "(its default retry policy) and counts failures in AWS/Events FailedInvocations; a queue nobody reads "
            "would add an unwatched copy, not an alert.",
        )
        return rule

    # ------------------------------------------------------------------------------------------
    # scheduled verification

    def _schedule_verification(
        self,
        cluster_name: str,
        payload: dict[str, str],
        function: lambda_.IFunction,
        role: iam.IRole,
        options: MonitoringOptions,
    ) -> None:
        period = options.schedule
        assert period is not None
        self.schedule = events.Rule(
            self,
            "Schedule",
            description="eks-envelope: scheduled envelope-encryption verification",
            schedule=events.Schedule.rate(period),
        )
        self.schedule.add_target(
            targets.LambdaFunction(
                function,
                event=events.RuleTargetInput.from_object(payload),
                # A failed run is reported by its metric; a retry would only blur the hourly record.
                retry_attempts=0,
            )
        )
        acknowledge(
            self.schedule,
            "Serverless-EventBusDLQ",
            "A scheduled run that is never delivered leaves no Verified data point, and the VerificationMissing alarm "
            "(missing data is breaching) reports exactly that; a dead-letter queue would duplicate the alarm unwatched.",
        )

        # PutMetricData and LookupEvents have no resource-level permissions: '*', narrowed by namespace.
        self.verifier_policy = iam.ManagedPolicy(
            self,
            "ScheduledVerificationPolicy",
            roles=[role],
            statements=[
                iam.PolicyStatement(
                    actions=["cloudwatch:PutMetricData"],
                    resources=["*"],
                    conditions={"StringEquals": {"cloudwatch:namespace": options.metric_namespace}},
                ),
                iam.PolicyStatement(actions=["cloudtrail:LookupEvents"], resources=["*"]),
            ],
        )
        self.verifier_attachments = [self.schedule, self.verifier_policy]
        acknowledge(
            self.verifier_policy,
            "AwsSolutions-IAM5[Resource::*]",
            "cloudwatch:PutMetricData and cloudtrail:LookupEvents support no resource-level permissions (service "
            "authorization reference); PutMetricData is limited to this namespace by the cloudwatch:namespace condition.",
        )

        verified = self.verified_metric(cluster_name, period)
        # Missing runs are the second alarm's job: one alarm, one meaning.
        self.failed_alarm = self._alarm(
            "VerificationFailedAlarm",
            "a scheduled verification could not prove envelope encryption with the customer key. Read the "
            "attestation in the verifier's log group",
            verified.with_(statistic=cloudwatch.Stats.MINIMUM),
            periods=1,
            missing=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.missing_alarm = self._alarm(
            "VerificationMissingAlarm",
            "no scheduled verification reported for two periods: the verifier stopped running (schedule "
            "disabled, Lambda failing, throttled or without network)",
            verified.with_(statistic=cloudwatch.Stats.SAMPLE_COUNT),
            periods=2,
            missing=cloudwatch.TreatMissingData.BREACHING,
        )
        if options.support_warning is not None:
            days = int(options.support_warning.to_days())
            # Missing data is not breaching: an unknown answer (DescribeClusterVersions denied or throttled)
            # publishes no datapoint, and stopped runs are VerificationMissingAlarm's job.
            self.support_alarm = self._alarm(
                "StandardSupportEndingAlarm",
                f"the cluster's Kubernetes version has {days} days or fewer left in EKS standard support (EKS's "
                "DescribeClusterVersions date); after it EKS bills extended support or upgrades the cluster. "
                "Plan the upgrade",
                cloudwatch.Metric(namespace=self.metric_namespace, metric_name=SUPPORT_DAYS_METRIC,
                                  dimensions_map={"ClusterName": cluster_name}, period=period,
                                  statistic=cloudwatch.Stats.MINIMUM),
                periods=1,
                missing=cloudwatch.TreatMissingData.NOT_BREACHING,
                threshold=days,
                comparison=cloudwatch.ComparisonOperator.LESS_THAN_OR_EQUAL_TO_THRESHOLD,
            )

    def _start_with_the_deploys_datapoint(self, verification: CustomResource) -> None:
        """The verification publishes the first datapoint of a deploy, and the alarms exist only after it."""
        resource = verification.node.default_child
        assert isinstance(resource, CfnResource)
        resource.add_property_override(METRIC_NAMESPACE_PROPERTY, self.metric_namespace)
        for alarm in (self.failed_alarm, self.missing_alarm, self.support_alarm):
            if alarm is not None:
                alarm.node.add_dependency(verification)

    def _alarm(
        self, construct_id: str, meaning: str, metric: cloudwatch.Metric, *, periods: int, missing: cloudwatch.TreatMissingData,
        threshold: float = 1, comparison: cloudwatch.ComparisonOperator = cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
    ) -> cloudwatch.Alarm:
        """An alarm on ``metric`` against ``threshold`` (default: ``Verified`` < 1) for ``periods`` periods in a
        row, notifying the topic both ways."""
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            alarm_description=f"eks-envelope: {meaning}. Runbook: {RUNBOOK}.",
            metric=metric,
            threshold=threshold,
            comparison_operator=comparison,
            evaluation_periods=periods,
            datapoints_to_alarm=periods,
            treat_missing_data=missing,
        )
        alarm.add_alarm_action(cw_actions.SnsAction(self.topic))
        alarm.add_ok_action(cw_actions.SnsAction(self.topic))
        return alarm

    def verified_metric(self, cluster_name: str, period: Duration) -> cloudwatch.Metric:
        """The 0/1 ``Verified`` metric of this cluster, as the scheduled verifier publishes it."""
        return cloudwatch.Metric(
            namespace=self.metric_namespace,
            metric_name=VERIFIED_METRIC,
            dimensions_map={"ClusterName": cluster_name},
            period=period,
        )

