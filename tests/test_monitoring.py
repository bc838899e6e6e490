"""Day 2 monitoring on a bare stack: schedule, metrics and alarms, key-tamper rules, topic, Config rule.

Event patterns are matched against recorded event shapes (tests/fixtures/eventbridge-kms-management-events.json)
with moto's EventBridge pattern engine, the one its PutEvents uses.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Match, Template
from moto.events.models import EventPattern

from eks_envelope import EnvelopeConfigError
from eks_envelope.contract import SCHEDULED_EVENT_KIND, SCHEDULED_EVENT_MARKER
from eks_envelope.monitoring import KEY_THREATS, EnvelopeEncryptionMonitoring, MonitoringOptions, scheduled_payload
from tests.helpers import new_app

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "eventbridge-kms-management-events.json").read_text())
KEY_ARN = FIXTURE["key_arn"]
ALIAS = FIXTURE["alias"]
ROLE_ARN = "arn:aws:iam::111122223333:role/eks-envelope-ClusterRole-EXAMPLE"
CLUSTER = "eks-envelope"
#: Which rule each recorded threat must trigger, and only that one.
INTENDED_RULE = {
    "DisableKey": "KeyTamperRule",
    "ScheduleKeyDeletion": "KeyTamperRule",
    "PutKeyPolicy": "KeyTamperRule",
    "RevokeGrant": "KeyTamperRule",
    "RetireGrant": "KeyTamperRule",
    "DisableKeyRotation": "KeyTamperRule",
    "DeleteAlias": "KeyAliasRule",
    "UpdateAlias": "KeyAliasRule",
}


def _watched_stack(construct_id: str = "Watched", *, with_verifier: bool = True, **kwargs: Any) -> cdk.Stack:
    stack = cdk.Stack(new_app(), construct_id)
    key = kms.Key.from_key_arn(stack, "Key", KEY_ARN)
    function = role = None
    if with_verifier:
        role = iam.Role(stack, "VerifierRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
        function = lambda_.Function(
            stack, "Verifier", runtime=lambda_.Runtime.PYTHON_3_13, handler="index.on_event",
            code=lambda_.Code.from_inline("def on_event(event, context):\n    return {}\n"), role=role,
        )
    EnvelopeEncryptionMonitoring(
        stack, "Monitoring", cluster_name=CLUSTER, cluster_role_arn=ROLE_ARN, key=key, key_alias=ALIAS,
        verifier_function=function, verifier_role=role, **kwargs,
    )
    return stack


@pytest.fixture(scope="module")
def template() -> Template:
    return Template.from_stack(_watched_stack(alarm_email="oncall@example.com"))


def _one(template: Template, cfn_type: str, props: dict[str, Any] | None = None) -> dict[str, Any]:
    found = template.find_resources(cfn_type, {"Properties": props} if props else None)
    assert len(found) == 1, f"expected one {cfn_type} matching {props}, found {sorted(found)}"
    return next(iter(found.values()))


# --- schedule ---------------------------------------------------------------------------------------------

def test_schedule_invokes_the_verifier_hourly_with_a_scheduled_payload(template: Template) -> None:
    rule = _one(template, "AWS::Events::Rule", {"ScheduleExpression": Match.any_value()})
    assert rule["Properties"]["ScheduleExpression"] == "rate(1 hour)"
    (target,) = rule["Properties"]["Targets"]
    function_id, attribute = target["Arn"]["Fn::GetAtt"]
    assert function_id.startswith("Verifier") and attribute == "Arn"
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 0}
    payload = json.loads(target["Input"])
    assert payload[SCHEDULED_EVENT_MARKER] == SCHEDULED_EVENT_KIND
    assert "RequestType" not in payload, "a scheduled event must never look like a CloudFormation request"
    assert payload["ClusterName"] == CLUSTER and payload["KeyArn"] == KEY_ARN and payload["ClusterRoleArn"] == ROLE_ARN
    assert (payload["LookbackHours"], payload["SecretCheck"], payload["MetricNamespace"]) == ("24", "false", "EksEnvelope")
    template.has_resource_properties(
        "AWS::Lambda::Permission",
        {"Action": "lambda:InvokeFunction", "Principal": "events.amazonaws.com",
         "SourceArn": {"Fn::GetAtt": [Match.string_like_regexp("MonitoringSchedule"), "Arn"]}},
    )


def test_verifier_may_put_metrics_in_its_namespace_only_and_look_up_events(template: Template) -> None:
    policy = _one(template, "AWS::IAM::ManagedPolicy")
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert {"Action": "cloudwatch:PutMetricData", "Effect": "Allow", "Resource": "*",
            "Condition": {"StringEquals": {"cloudwatch:namespace": "EksEnvelope"}}} in statements
    assert {"Action": "cloudtrail:LookupEvents", "Effect": "Allow", "Resource": "*"} in statements
    (role,) = policy["Properties"]["Roles"]
    assert role["Ref"].startswith("VerifierRole")


# --- metrics and alarms -----------------------------------------------------------------------------------

def _alarm(template: Template, statistic: str, metric: str = "Verified") -> dict[str, Any]:
    return _one(template, "AWS::CloudWatch::Alarm", {"Statistic": statistic, "MetricName": metric})["Properties"]


@pytest.mark.parametrize("statistic", ["Minimum", "SampleCount"])
def test_alarms_watch_the_verified_metric_of_this_cluster_and_notify_the_topic(template: Template, statistic: str) -> None:
    alarm = _alarm(template, statistic)
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Period"]) == ("EksEnvelope", "Verified", 3600)
    assert alarm["Dimensions"] == [{"Name": "ClusterName", "Value": CLUSTER}]
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("LessThanThreshold", 1)
    topic = {"Ref": next(iter(template.find_resources("AWS::SNS::Topic")))}
    assert alarm["AlarmActions"] == [topic] and alarm["OKActions"] == [topic]


def test_failed_run_alarms_at_once_and_leaves_missing_runs_to_the_other_alarm(template: Template) -> None:
    alarm = _alarm(template, "Minimum")
    assert (alarm["EvaluationPeriods"], alarm["TreatMissingData"]) == (1, "notBreaching")


def test_missing_runs_are_breaching_two_periods_in_a_row(template: Template) -> None:
    alarm = _alarm(template, "SampleCount")
    assert (alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"], alarm["TreatMissingData"]) == (2, 2, "breaching")


def test_support_alarm_fires_at_60_days_left_in_standard_support(template: Template) -> None:
    alarm = _alarm(template, "Minimum", "DaysToEndOfStandardSupport")
    assert (alarm["Namespace"], alarm["Period"], alarm["Dimensions"]) == ("EksEnvelope", 3600, [{"Name": "ClusterName", "Value": CLUSTER}])
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("LessThanOrEqualToThreshold", 60)
    # An unknown answer publishes nothing; stopped runs are the missing-data alarm's job.
    assert (alarm["EvaluationPeriods"], alarm["TreatMissingData"]) == (1, "notBreaching")
    assert "EKS's DescribeClusterVersions date" in alarm["AlarmDescription"]


def test_support_warning_is_configurable_and_can_be_turned_off() -> None:
    t = Template.from_stack(_watched_stack("Warn90", options=MonitoringOptions(support_warning=cdk.Duration.days(90))))
    assert _alarm(t, "Minimum", "DaysToEndOfStandardSupport")["Threshold"] == 90
    t = Template.from_stack(_watched_stack("NoWarn", options=MonitoringOptions(support_warning=None)))
    assert not t.find_resources("AWS::CloudWatch::Alarm", {"Properties": {"MetricName": "DaysToEndOfStandardSupport"}})
    t.resource_count_is("AWS::CloudWatch::Alarm", 2)


@pytest.mark.parametrize("value, shown", [
    (cdk.Duration.hours(36), "1 day 12 hours"), (cdk.Duration.days(400), "400 days"), (cdk.Duration.days(0), "0 days"),
])
def test_fails_on_a_support_warning_of_no_whole_days_in_range(value: Any, shown: str) -> None:
    with pytest.raises(EnvelopeConfigError) as err:
        _watched_stack("BadWarning", options=MonitoringOptions(support_warning=value))
    text = str(err.value)
    assert "monitoring.support_warning" in text and shown in text
    assert "or None to turn the alarm off" in text


def test_fails_on_a_support_warning_that_is_no_duration() -> None:
    with pytest.raises(EnvelopeConfigError, match=r"MonitoringOptions.support_warning='60': give an aws_cdk.Duration"):
        MonitoringOptions(support_warning="60")


def _verified_stack(construct_id: str, **kwargs: Any) -> tuple[Template, str]:
    """A monitored stack with a verification resource, as EnvelopeEncryptedCluster wires it."""
    stack = cdk.Stack(new_app(), construct_id)
    key = kms.Key.from_key_arn(stack, "Key", KEY_ARN)
    role = iam.Role(stack, "VerifierRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    function = lambda_.Function(stack, "Verifier", runtime=lambda_.Runtime.PYTHON_3_13, handler="index.on_event",
                                code=lambda_.Code.from_inline("def on_event(event, context):\n    return {}\n"), role=role)
    verification = cdk.CustomResource(stack, "Verification", service_token=function.function_arn,
                                      resource_type="Custom::EnvelopeEncryptionVerification", properties={"ClusterName": CLUSTER})
    EnvelopeEncryptionMonitoring(stack, "Monitoring", cluster_name=CLUSTER, cluster_role_arn=ROLE_ARN, key=key,
                                 verifier_function=function, verifier_role=role, verification=verification, **kwargs)
    return Template.from_stack(stack), stack.get_logical_id(verification.node.default_child)


def test_a_fresh_deploy_starts_with_the_verifications_datapoint() -> None:
    # Without it, "verification missing" (missing data breaching) alarms after every fresh deploy until the first
    # scheduled run: the verification publishes Verified itself, and every alarm is created after it.
    t, verification_id = _verified_stack("Seeded")
    props = t.find_resources("Custom::EnvelopeEncryptionVerification")[verification_id]["Properties"]
    assert props["MetricNamespace"] == "EksEnvelope"
    alarms = t.find_resources("AWS::CloudWatch::Alarm")
    assert len(alarms) == 3 and all(verification_id in a.get("DependsOn", []) for a in alarms.values())


def test_no_schedule_no_first_datapoint() -> None:
    t, verification_id = _verified_stack("Unseeded", options=MonitoringOptions(schedule=None))
    assert "MetricNamespace" not in t.find_resources("Custom::EnvelopeEncryptionVerification")[verification_id]["Properties"]


# --- the topic ----------------------------------------------------------------------------------------------

def test_topic_is_encrypted_with_its_own_rotating_key(template: Template) -> None:
    topic = _one(template, "AWS::SNS::Topic")
    key_id = topic["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]
    key = template.to_json()["Resources"][key_id]
    assert key["Type"] == "AWS::KMS::Key" and key["Properties"]["EnableKeyRotation"] is True
    services = {s["Principal"]["Service"]: s for s in key["Properties"]["KeyPolicy"]["Statement"]
                if "Service" in s.get("Principal", {})}
    assert set(services) == {"events.amazonaws.com", "cloudwatch.amazonaws.com"}
    for statement in services.values():
        assert statement["Action"] == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert services["cloudwatch.amazonaws.com"]["Condition"] == {
        "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


def test_topic_policy_refuses_publishing_without_tls(template: Template) -> None:
    statements = _one(template, "AWS::SNS::TopicPolicy")["Properties"]["PolicyDocument"]["Statement"]
    (deny,) = [s for s in statements if s["Effect"] == "Deny"]
    assert (deny["Principal"], deny["Action"]) == ("*", "sns:Publish")
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert deny["Resource"] == {"Ref": next(iter(template.find_resources("AWS::SNS::Topic")))}
    publishers = {s["Principal"]["Service"] for s in statements if s["Effect"] == "Allow"}
    assert publishers == {"events.amazonaws.com", "cloudwatch.amazonaws.com"}


def test_given_topic_key_is_used_instead_of_a_new_one() -> None:
    stack = cdk.Stack(new_app(), "SharedKey")
    logs_key = kms.Key(stack, "LogsKey", enable_key_rotation=True)
    EnvelopeEncryptionMonitoring(stack, "Monitoring", cluster_name=CLUSTER, cluster_role_arn=ROLE_ARN,
                                 key=kms.Key.from_key_arn(stack, "Key", KEY_ARN), topic_key=logs_key)
    t = Template.from_stack(stack)
    t.resource_count_is("AWS::KMS::Key", 1)
    topic = _one(t, "AWS::SNS::Topic")
    assert topic["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0].startswith("LogsKey")
    (key,) = t.find_resources("AWS::KMS::Key").values()
    assert "cloudwatch.amazonaws.com" in json.dumps(key["Properties"]["KeyPolicy"])


def test_alarm_email_subscribes_to_the_topic(template: Template) -> None:
    template.has_resource_properties("AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "oncall@example.com"})


def test_own_topic_replaces_the_new_one() -> None:
    stack2 = cdk.Stack(new_app(), "OwnTopic", env=cdk.Environment(account="111122223333", region="us-west-2"))
    key = kms.Key.from_key_arn(stack2, "Key", KEY_ARN)
    topic = sns.Topic.from_topic_arn(stack2, "Oncall", "arn:aws:sns:us-west-2:111122223333:oncall")
    EnvelopeEncryptionMonitoring(stack2, "Monitoring", cluster_name=CLUSTER, cluster_role_arn=ROLE_ARN, key=key,
                                 alarm_topic=topic)
    t = Template.from_stack(stack2)
    t.resource_count_is("AWS::SNS::Topic", 0)
    t.resource_count_is("AWS::KMS::Key", 0)
    for rule in t.find_resources("AWS::Events::Rule").values():
        assert rule["Properties"]["Targets"][0]["Arn"] == "arn:aws:sns:us-west-2:111122223333:oncall"


# --- key-threatening events ---------------------------------------------------------------------------------

def _arrays_of_objects_as_value_arrays(node: Any) -> Any:
    """EventBridge matches a field inside an array of objects against the field's values in every element
    (``detail.resources.ARN``); moto's engine walks objects only, so present such arrays as value arrays."""
    if isinstance(node, dict):
        return {k: _arrays_of_objects_as_value_arrays(v) for k, v in node.items()}
    if isinstance(node, list) and node and all(isinstance(item, dict) for item in node):
        merged: dict[str, list[Any]] = {}
        for item in node:
            for k, v in _arrays_of_objects_as_value_arrays(item).items():
                merged.setdefault(k, []).append(v)
        return merged
    return node


def _matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    return EventPattern.load(json.dumps(pattern)).matches_event(_arrays_of_objects_as_value_arrays(event))


@pytest.fixture(scope="module")
def patterns(template: Template) -> dict[str, dict[str, Any]]:
    """Construct id of each key-tamper rule -> its synthesized event pattern."""
    found = {}
    for logical_id, rule in template.find_resources("AWS::Events::Rule", {"Properties": {"EventPattern": Match.any_value()}}).items():
        (construct_id,) = [t.construct_id for t in KEY_THREATS if logical_id.startswith(f"Monitoring{t.construct_id}")]
        found[construct_id] = rule["Properties"]["EventPattern"]
    return found


def test_key_rule_and_alias_rule_cover_every_threatening_call(patterns: dict[str, dict[str, Any]]) -> None:
    assert set(patterns) == {t.construct_id for t in KEY_THREATS}
    assert sorted(patterns["KeyTamperRule"]["detail"]["eventName"]) == sorted(
        ["DisableKey", "ScheduleKeyDeletion", "PutKeyPolicy", "RevokeGrant", "RetireGrant", "DisableKeyRotation"])
    assert sorted(patterns["KeyAliasRule"]["detail"]["eventName"]) == ["DeleteAlias", "UpdateAlias"]
    for construct_id, pattern in patterns.items():
        assert pattern["source"] == ["aws.kms"] and pattern["detail-type"] == ["AWS API Call via CloudTrail"]
        detail = pattern["detail"]
        assert detail.get("resources") == {"ARN": [KEY_ARN]} or detail.get("requestParameters") == {"aliasName": [ALIAS]}


@pytest.mark.parametrize("name", sorted(INTENDED_RULE))
def test_each_threat_triggers_exactly_its_rule(patterns: dict[str, dict[str, Any]], name: str) -> None:
    event = FIXTURE["threats"][name]
    triggered = sorted(rule for rule, pattern in patterns.items() if _matches(pattern, event))
    assert triggered == [INTENDED_RULE[name]]


@pytest.mark.parametrize("name", sorted(FIXTURE["unrelated"]))
def test_unrelated_kms_events_trigger_no_rule(patterns: dict[str, dict[str, Any]], name: str) -> None:
    event = FIXTURE["unrelated"][name]
    assert [rule for rule, pattern in patterns.items() if _matches(pattern, event)] == []


def test_eks_decrypt_from_the_shared_lookup_fixture_triggers_no_rule(patterns: dict[str, dict[str, Any]]) -> None:
    """The CloudTrail records of EKS using the key (LookupEvents shape), delivered as EventBridge would."""
    lookup = json.loads((Path(__file__).parent / "handler" / "fixtures" / "cloudtrail-lookup-events-eks-kms.json").read_text())
    records = [json.loads(e["CloudTrailEvent"]) for e in lookup["Events"]]
    assert records, "the shared fixture holds EKS's KMS calls"
    for record in records:
        record["resources"] = [{"ARN": KEY_ARN, "accountId": "111122223333", "type": "AWS::KMS::Key"}]
        event = {"version": "0", "id": record["eventID"], "detail-type": "AWS API Call via CloudTrail",
                 "source": "aws.kms", "account": "111122223333", "time": record["eventTime"],
                 "region": record["awsRegion"], "resources": [], "detail": record}
        assert [rule for rule, pattern in patterns.items() if _matches(pattern, event)] == [], record["eventName"]


def test_the_matcher_sees_arrays_of_objects() -> None:
    """Guard against a matcher that can never match: the key ARN sits only inside detail.resources[]."""
    pattern = {"detail": {"resources": {"ARN": [KEY_ARN]}}}
    assert _matches(pattern, FIXTURE["threats"]["RetireGrant"])
    assert not _matches(pattern, FIXTURE["unrelated"]["DisableKey-other-key"])


def test_notification_names_the_call_the_caller_and_the_runbook(template: Template) -> None:
    rule = _one(template, "AWS::Events::Rule", {"Description": Match.string_like_regexp("ScheduleKeyDeletion")})
    (target,) = rule["Properties"]["Targets"]
    transformer = target["InputTransformer"]
    assert set(transformer["InputPathsMap"].values()) >= {"$.detail.eventName", "$.detail.userIdentity.arn"}
    assert "Runbook: docs/verifier.md#day-2-keep-proving-it, row <detail-eventName>" in transformer["InputTemplate"]


def test_no_alias_rule_without_an_alias() -> None:
    stack = cdk.Stack(new_app(), "NoAlias")
    key = kms.Key.from_key_arn(stack, "Key", KEY_ARN)
    EnvelopeEncryptionMonitoring(stack, "Monitoring", cluster_name=CLUSTER, cluster_role_arn=ROLE_ARN, key=key)
    t = Template.from_stack(stack)
    t.resource_count_is("AWS::Events::Rule", len(KEY_THREATS) - 1)
    t.resource_count_is("AWS::CloudWatch::Alarm", 0)  # no verifier: nothing to schedule, nothing to alarm on


# --- options ------------------------------------------------------------------------------------------------

def test_schedule_off_keeps_the_key_rules_and_drops_schedule_and_alarms() -> None:
    t = Template.from_stack(_watched_stack("Unscheduled", options=MonitoringOptions(schedule=None)))
    assert not t.find_resources("AWS::Events::Rule", {"Properties": {"ScheduleExpression": Match.any_value()}})
    t.resource_count_is("AWS::CloudWatch::Alarm", 0)
    t.resource_count_is("AWS::Events::Rule", len(KEY_THREATS))


def test_fails_on_config_rule_because_a_periodic_rule_takes_no_scope() -> None:
    """It used to add EKS_SECRETS_ENCRYPTED with a Scope, which AWS Config rejects on periodic rules (guardrail.py)."""
    with pytest.raises(EnvelopeConfigError, match=r"monitoring.config_rule=True: .*scope on periodic rules"):
        _watched_stack("WithConfig", options=MonitoringOptions(config_rule=True))


def test_config_rule_is_off_by_default(template: Template) -> None:
    template.resource_count_is("AWS::Config::ConfigRule", 0)


def test_custom_schedule_lookback_and_secret_roundtrip() -> None:
    options = MonitoringOptions(schedule=cdk.Duration.minutes(15), lookback=cdk.Duration.hours(6), secret_roundtrip=True)
    t = Template.from_stack(_watched_stack("Custom", options=options))
    rule = _one(t, "AWS::Events::Rule", {"ScheduleExpression": Match.any_value()})
    assert rule["Properties"]["ScheduleExpression"] == "rate(15 minutes)"
    payload = json.loads(rule["Properties"]["Targets"][0]["Input"])
    assert (payload["LookbackHours"], payload["SecretCheck"]) == ("6", "true")
    assert {a["Properties"]["Period"] for a in t.find_resources("AWS::CloudWatch::Alarm").values()} == {900}


def test_fails_on_bad_monitoring_props_all_at_once() -> None:
    options = MonitoringOptions(schedule=cdk.Duration.minutes(2), lookback=cdk.Duration.hours(400),
                                metric_namespace="AWS/EKS")
    with pytest.raises(EnvelopeConfigError) as err:
        _watched_stack("Bad", options=options, alarm_email="not-an-address")
    text = str(err.value)
    for field in ("monitoring.schedule", "monitoring.lookback (hours)", "monitoring.metric_namespace", "alarm_email"):
        assert field in text
    assert "from 5 to 720" in text and "'AWS/'" in text and "400" in text


def test_fails_on_a_schedule_of_no_whole_minutes_with_the_field_not_a_crash() -> None:
    with pytest.raises(EnvelopeConfigError, match="monitoring.schedule.*whole number of minutes"):
        _watched_stack("Odd", options=MonitoringOptions(schedule=cdk.Duration.seconds(90)))


def test_fails_when_a_schedule_is_asked_for_without_a_verifier() -> None:
    with pytest.raises(EnvelopeConfigError, match="monitoring.schedule.*keep verify=True, or set schedule=None"):
        _watched_stack("NoVerifier", with_verifier=False, options=MonitoringOptions(schedule=cdk.Duration.hours(1)))


# --- the contract with the handler --------------------------------------------------------------------------

def test_handler_reads_what_the_schedule_sends() -> None:
    """The construct's payload (from the verification's own properties) parses in the handler's scheduled path."""
    from verifier.entry import scheduled

    assert scheduled.ScheduledVerification.is_scheduled({SCHEDULED_EVENT_MARKER: SCHEDULED_EVENT_KIND})
    properties = {"ClusterName": CLUSTER, "KeyArn": KEY_ARN, "ClusterRoleArn": ROLE_ARN, "CanaryNamespace": "default",
                  "CanaryLabelKey": "eks-envelope.io/canary", "CanaryLabelValue": "verifier", "PodCheck": "true",
                  "PodImage": "public.ecr.aws/docker/library/busybox:stable", "PodTimeoutSeconds": "300",
                  "CloudTrailCheck": "true", "CloudTrailWaitSeconds": "120", "CloudTrailRequired": "true",
                  "RunNonce": "2026-11-28T08:00:00"}
    payload = scheduled_payload(properties, MonitoringOptions(lookback=cdk.Duration.hours(48), secret_roundtrip=True))
    assert "RunNonce" not in payload and "RequestType" not in payload
    request = scheduled.parse_event(payload)
    assert (request.config.cluster_name, request.config.expected_key) == (CLUSTER, KEY_ARN)
    assert (request.config.pod_check, request.config.cloudtrail_check, request.config.secret_check) == (False, False, True)
    assert (request.lookback_hours, request.namespace) == (48, "EksEnvelope")


def test_verifier_metric_name_matches_the_handler() -> None:
    from verifier.stages import metrics

    from eks_envelope.monitoring import VERIFIED_METRIC

    assert metrics.VERIFIED_METRIC == VERIFIED_METRIC


def test_support_metric_and_namespace_property_match_the_handler() -> None:
    from verifier.contract import VerificationProperties
    from verifier.stages import metrics

    from eks_envelope.monitoring import METRIC_NAMESPACE_PROPERTY, SUPPORT_DAYS_METRIC

    assert metrics.SUPPORT_DAYS_METRIC == SUPPORT_DAYS_METRIC
    read = VerificationProperties.from_properties({**VerificationProperties(CLUSTER, KEY_ARN, ROLE_ARN).to_properties(),
                                                   METRIC_NAMESPACE_PROPERTY: "Ops"})
    assert read.metric_namespace == "Ops"
