"""Scheduled verification: an EventBridge schedule that runs the verifier Lambda with the contract's
ScheduledVerification payload, the Lambda's permission to publish its metrics, and the alarms on them."""
from __future__ import annotations

from typing import NamedTuple

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from constructs import Construct

from .acknowledgements import acknowledge
from .contract import SUPPORT_DAYS_METRIC, VERIFIED_METRIC
from .key_threats import RUNBOOK
from .monitoring_props import MonitoringOptions


class ScheduledParts(NamedTuple):
    """What :func:`schedule_verification` builds."""

    schedule: events.Rule
    policy: iam.ManagedPolicy
    failed_alarm: cloudwatch.Alarm
    missing_alarm: cloudwatch.Alarm
    support_alarm: cloudwatch.Alarm | None


def schedule_verification(
    scope: Construct,
    *,
    cluster_name: str,
    event: dict[str, str],
    function: lambda_.IFunction,
    role: iam.IRole,
    options: MonitoringOptions,
    topic: sns.ITopic,
) -> ScheduledParts:
    """The schedule sending ``event`` to ``function`` every ``options.schedule``, ``role``'s metric and
    CloudTrail permissions, and the alarms on what the runs publish, each notifying ``topic``."""
    period = options.schedule
    assert period is not None
    schedule = events.Rule(
        scope,
        "Schedule",
        description="eks-envelope: scheduled envelope-encryption verification",
        schedule=events.Schedule.rate(period),
    )
    schedule.add_target(
        targets.LambdaFunction(
            function,
            event=events.RuleTargetInput.from_object(event),
            # A failed run is reported by its metric; a retry would only blur the hourly record.
            retry_attempts=0,
        )
    )
    acknowledge(
        schedule,
        "Serverless-EventBusDLQ",
        "A scheduled run that is never delivered leaves no Verified data point, and the VerificationMissing alarm "
        "(missing data is breaching) reports exactly that; a dead-letter queue would duplicate the alarm unwatched.",
    )

    # PutMetricData and LookupEvents have no resource-level permissions: '*', narrowed by namespace.
    policy = iam.ManagedPolicy(
        scope,
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
    acknowledge(
        policy,
        "AwsSolutions-IAM5[Resource::*]",
        "cloudwatch:PutMetricData and cloudtrail:LookupEvents support no resource-level permissions (service "
        "authorization reference); PutMetricData is limited to this namespace by the cloudwatch:namespace condition.",
    )

    verified = verified_metric(options.metric_namespace, cluster_name, period)
    # Missing runs are the second alarm's job: one alarm, one meaning.
    failed_alarm = _alarm(
        scope, topic, "VerificationFailedAlarm",
        "a scheduled verification could not prove envelope encryption with the customer key. Read the "
        "attestation in the verifier's log group",
        verified.with_(statistic=cloudwatch.Stats.MINIMUM),
        periods=1,
        missing=cloudwatch.TreatMissingData.NOT_BREACHING,
    )
    missing_alarm = _alarm(
        scope, topic, "VerificationMissingAlarm",
        "no scheduled verification reported for two periods: the verifier stopped running (schedule "
        "disabled, Lambda failing, throttled or without network)",
        verified.with_(statistic=cloudwatch.Stats.SAMPLE_COUNT),
        periods=2,
        missing=cloudwatch.TreatMissingData.BREACHING,
    )
    support_alarm = None
    if options.support_warning is not None:
        days = int(options.support_warning.to_days())
        # Missing data is not breaching: an unknown answer (DescribeClusterVersions denied or throttled)
        # publishes no datapoint, and stopped runs are VerificationMissingAlarm's job.
        support_alarm = _alarm(
            scope, topic, "StandardSupportEndingAlarm",
            f"the cluster's Kubernetes version has {days} days or fewer left in EKS standard support (EKS's "
            "DescribeClusterVersions date); after it EKS bills extended support or upgrades the cluster. "
            "Plan the upgrade",
            cloudwatch.Metric(namespace=options.metric_namespace, metric_name=SUPPORT_DAYS_METRIC,
                              dimensions_map={"ClusterName": cluster_name}, period=period,
                              statistic=cloudwatch.Stats.MINIMUM),
            periods=1,
            missing=cloudwatch.TreatMissingData.NOT_BREACHING,
            threshold=days,
            comparison=cloudwatch.ComparisonOperator.LESS_THAN_OR_EQUAL_TO_THRESHOLD,
        )
    return ScheduledParts(schedule, policy, failed_alarm, missing_alarm, support_alarm)


def verified_metric(namespace: str, cluster_name: str, period: Duration) -> cloudwatch.Metric:
    """The 0/1 ``Verified`` metric of a cluster, as the scheduled verifier publishes it."""
    return cloudwatch.Metric(
        namespace=namespace,
        metric_name=VERIFIED_METRIC,
        dimensions_map={"ClusterName": cluster_name},
        period=period,
    )


def _alarm(
    scope: Construct, topic: sns.ITopic, construct_id: str, meaning: str, metric: cloudwatch.Metric, *, periods: int,
    missing: cloudwatch.TreatMissingData, threshold: float = 1,
    comparison: cloudwatch.ComparisonOperator = cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
) -> cloudwatch.Alarm:
    """An alarm on ``metric`` against ``threshold`` (default: ``Verified`` < 1) for ``periods`` periods in a
    row, notifying the topic both ways."""
    alarm = cloudwatch.Alarm(
        scope,
        construct_id,
        alarm_description=f"eks-envelope: {meaning}. Runbook: {RUNBOOK}.",
        metric=metric,
        threshold=threshold,
        comparison_operator=comparison,
        evaluation_periods=periods,
        datapoints_to_alarm=periods,
        treat_missing_data=missing,
    )
    alarm.add_alarm_action(cw_actions.SnsAction(topic))
    alarm.add_ok_action(cw_actions.SnsAction(topic))
    return alarm
