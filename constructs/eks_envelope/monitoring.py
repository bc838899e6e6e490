"""Day 2: keep proving envelope encryption after the deploy, and raise the alarm when the key is threatened.

EKS's API server caches its data key: a key that is disabled, scheduled for deletion, loses its grant
or has its policy rewritten keeps "working" until the API server restarts. This construct watches for
exactly that, all to one topic: a scheduled run of the same verifier Lambda with CloudWatch alarms on
its metric (scheduled_verification.py) and EventBridge rules on the CloudTrail management events that
threaten the key (key_threats.py). Its props: monitoring_props.py.
"""
from __future__ import annotations

from typing import Any

from aws_cdk import Aws, CfnResource, CustomResource, Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from .acknowledgements import acknowledge
from .contract import (
    DEFAULT_METRIC_NAMESPACE,
    EPHEMERAL_METADATA_KEY,
    METRIC_NAMESPACE_PROPERTY,
    SUPPORT_DAYS_METRIC,
    VERIFIED_METRIC,
    ScheduledVerification,
    VerificationProperties,
)
from .key import deny_create_grant_except_for_aws_services
from .key_threats import ALIAS_EVENTS, KEY_EVENTS, KEY_THREATS, RUNBOOK, KeyThreat, threat_rules
from .monitoring_props import (
    MAX_SCHEDULE_MINUTES,
    MAX_SUPPORT_WARNING_DAYS,
    MonitoringOptions,
    MonitoringProps,
    check_monitoring,
)
from .props import props_from, typed_props
from .retention import Retention
from .scheduled_verification import schedule_verification, verified_metric

__all__ = [
    "ALIAS_EVENTS", "DEFAULT_METRIC_NAMESPACE", "EnvelopeEncryptionMonitoring", "KEY_EVENTS", "KEY_THREATS",
    "KeyThreat", "MAX_SCHEDULE_MINUTES", "MAX_SUPPORT_WARNING_DAYS", "METRIC_NAMESPACE_PROPERTY", "MonitoringOptions",
    "MonitoringProps", "RUNBOOK", "SUPPORT_DAYS_METRIC", "VERIFIED_METRIC", "check_monitoring", "scheduled_event",
]


def scheduled_event(props: MonitoringProps, options: MonitoringOptions) -> dict[str, str]:
    """The schedule's payload: the contract's ScheduledVerification of what the verification is told."""
    verification = props.verification_properties or VerificationProperties(
        cluster_name=props.cluster_name, key_arn=props.key.key_arn, cluster_role_arn=props.cluster_role_arn,
    )
    return ScheduledVerification(
        verification,
        secret_check=options.secret_roundtrip,
        lookback_hours=int(options.lookback.to_hours()),
        metric_namespace=options.metric_namespace,
    ).to_event()


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

    def __init__(self, scope: Construct, construct_id: str, *, props: MonitoringProps | None = None, **kwargs: Any) -> None:
        """
        :param props: a MonitoringProps, or its fields as keyword arguments (not both); each is documented there.
        """
        super().__init__(scope, construct_id)
        props = props_from(MonitoringProps, props, kwargs, owner=self)
        props.validate()
        #: The props in effect: ``props``, or the keyword arguments as a MonitoringProps.
        self.props = props
        options = props.options_in_effect
        #: The MonitoringOptions in effect.
        self.options = options
        #: CloudWatch namespace of the verification metrics (``options.metric_namespace``).
        self.metric_namespace = options.metric_namespace

        #: The KMS key of the new alarm topic; None when ``alarm_topic`` was given.
        self.topic_key: kms.Key | None = None
        #: The topic every alarm and key event goes to: the given ``alarm_topic`` or a new encrypted one.
        self.topic: sns.ITopic = props.alarm_topic or self._new_topic(Retention(ephemeral=props.ephemeral), props.topic_key)
        if props.alarm_email:
            subscription = self.topic.add_subscription(subscriptions.EmailSubscription(props.alarm_email))
            acknowledge(
                subscription,
                "Serverless-SNSRedrivePolicy",
                "An e-mail subscription: a dead-letter queue would keep undelivered mails where nobody reads them; the "
                "alarm states in CloudWatch and the events in CloudTrail stay the record of what happened.",
            )

        #: EventBridge rules on tampering with the key, by construct id.
        self.key_event_rules: dict[str, events.Rule] = threat_rules(self, props.key, props.key_alias, self.topic)

        #: The rule running the scheduled verification; None when the schedule is off.
        self.schedule: events.Rule | None = None
        #: The verifier role's PutMetricData/LookupEvents policy; None when the schedule is off.
        self.verifier_policy: iam.ManagedPolicy | None = None
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
        if props.scheduled:
            assert props.verifier_function is not None and props.verifier_role is not None
            parts = schedule_verification(
                self, cluster_name=props.cluster_name, event=scheduled_event(props, options),
                function=props.verifier_function, role=props.verifier_role, options=options, topic=self.topic,
            )
            self.schedule, self.verifier_policy = parts.schedule, parts.policy
            self.failed_alarm, self.missing_alarm, self.support_alarm = parts.failed_alarm, parts.missing_alarm, parts.support_alarm
            self.verifier_attachments = [parts.schedule, parts.policy]
            if props.verification is not None:
                self._start_with_the_deploys_datapoint(props.verification)

    def _new_topic(self, retention: Retention, topic_key: kms.Key | None) -> sns.Topic:
        """A KMS-encrypted, TLS-only topic; CloudWatch (and, through its targets, EventBridge) may use the key."""
        if topic_key is None:
            # Like the other keys: kept on update or delete, removed when a failed first deploy rolls back.
            topic_key = kms.Key(
                self,
                "TopicKey",
                description="Encrypts the eks-envelope alarm topic (alarms and key-tamper events)",
                enable_key_rotation=True,
                removal_policy=retention.key_removal,
                pending_window=retention.key_pending_window,
            )
            if retention.ephemeral:
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
        # SNS asks KMS on the publisher's behalf. The SnsTopic targets grant EventBridge themselves;
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

    def _start_with_the_deploys_datapoint(self, verification: CustomResource) -> None:
        """The verification publishes the first datapoint of a deploy, and the alarms exist only after it."""
        resource = verification.node.default_child
        assert isinstance(resource, CfnResource)
        resource.add_property_override(METRIC_NAMESPACE_PROPERTY, self.metric_namespace)
        for alarm in (self.failed_alarm, self.missing_alarm, self.support_alarm):
            if alarm is not None:
                alarm.node.add_dependency(verification)

    def verified_metric(self, cluster_name: str, period: Duration) -> cloudwatch.Metric:
        """The 0/1 ``Verified`` metric of this cluster, as the scheduled verifier publishes it."""
        return verified_metric(self.metric_namespace, cluster_name, period)
