"""Day 2 in the bundled app: what the default template watches, what context turns on, and what stays lean."""
from __future__ import annotations

import json

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match, Template

from eks_envelope import EnvelopeConfigError
from eks_envelope.contract import VERIFIER_HANDLER
from eks_envelope.key import KEY_LOCK_SID
from eks_envelope.monitoring import KEY_THREATS
from stacks.settings import settings_from_context
from tests.helpers import bundled_template, new_app

BREAK_GLASS = "arn:aws:iam::123456789012:role/BreakGlass"


def _schedules(template: Template) -> dict:
    return template.find_resources("AWS::Events::Rule", {"Properties": {"ScheduleExpression": Match.any_value()}})


def _literal_input(value) -> str:
    """A target Input with tokens (cluster name, key ARN) is an Fn::Join: keep its literal parts."""
    if isinstance(value, str):
        return value
    _, parts = value["Fn::Join"]
    return "".join(p if isinstance(p, str) else "<token>" for p in parts)


@pytest.fixture(scope="module")
def default() -> Template:
    return bundled_template()


def test_default_template_holds_schedule_alarms_key_rules_and_topic(default: Template) -> None:
    (schedule,) = _schedules(default).values()
    assert schedule["Properties"]["ScheduleExpression"] == "rate(1 hour)"
    default.resource_count_is("AWS::CloudWatch::Alarm", 3)  # verification failed, missing, standard support ending
    default.resource_count_is("AWS::Events::Rule", 1 + len(KEY_THREATS))
    default.resource_count_is("AWS::SNS::Topic", 1)
    default.resource_count_is("AWS::Config::ConfigRule", 0)
    # The topic shares the logs key: no third key to keep after a teardown.
    default.resource_count_is("AWS::KMS::Key", 2)
    (topic,) = default.find_resources("AWS::SNS::Topic").values()
    assert topic["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0].startswith("ClusterLogsKey")


def test_default_template_stays_lean(default: Template) -> None:
    assert len(default.find_resources("AWS::Lambda::Function")) <= 3
    default.resource_count_is("AWS::CloudFormation::Stack", 0)
    default.resource_count_is("AWS::StepFunctions::StateMachine", 0)


def test_schedule_invokes_the_deploy_time_verifier(default: Template) -> None:
    (schedule,) = _schedules(default).values()
    (target,) = schedule["Properties"]["Targets"]
    custom = default.find_resources("Custom::EnvelopeEncryptionVerification")
    assert len(custom) == 1
    handler_ids = [lid for lid, fn in default.find_resources("AWS::Lambda::Function").items()
                   if fn["Properties"].get("Handler") == VERIFIER_HANDLER]
    assert target["Arn"] == {"Fn::GetAtt": [handler_ids[0], "Arn"]} and len(handler_ids) == 1
    payload = _literal_input(target["Input"])
    assert '"eks-envelope":"scheduled-verification"' in payload and "RequestType" not in payload


def test_ephemeral_turns_the_schedule_off_but_keeps_watching_the_key() -> None:
    template = bundled_template(ephemeral=True)
    assert _schedules(template) == {}
    template.resource_count_is("AWS::CloudWatch::Alarm", 0)
    template.resource_count_is("AWS::Events::Rule", len(KEY_THREATS))
    template.resource_count_is("AWS::SNS::Topic", 1)


@pytest.fixture(scope="module")
def everything_on() -> Template:
    """One synth with every Day 2 option: the compliance packs registered by the app must stay clean."""
    return bundled_template(
        verify_schedule_minutes=30, verify_lookback_hours=12, verify_schedule_secret=True,
        alarm_email="oncall@example.com", key_lock=True, key_lock_break_glass_arns=[BREAK_GLASS],
    )


def test_context_shapes_schedule_subscription_and_lock(everything_on: Template) -> None:
    (schedule,) = _schedules(everything_on).values()
    assert schedule["Properties"]["ScheduleExpression"] == "rate(30 minutes)"
    payload = _literal_input(schedule["Properties"]["Targets"][0]["Input"])
    assert '"LookbackHours":"12"' in payload and '"SecretCheck":"true"' in payload
    everything_on.has_resource_properties("AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "oncall@example.com"})
    everything_on.resource_count_is("AWS::Config::ConfigRule", 0)  # a guardrail stack's job now (test_guardrail.py)
    locks = [s for key in everything_on.find_resources("AWS::KMS::Key").values()
             for s in key["Properties"]["KeyPolicy"]["Statement"] if s.get("Sid") == KEY_LOCK_SID]
    assert len(locks) == 1
    exempt = locks[0]["Condition"]["ArnNotLike"]["aws:PrincipalArn"]
    assert exempt[0] == BREAK_GLASS and "cfn-exec-role" in json.dumps(exempt[1]), "the deployer stays exempt"


def test_monitoring_off_removes_every_day2_resource() -> None:
    template = bundled_template(monitoring=False)
    for cfn_type in ("AWS::Events::Rule", "AWS::CloudWatch::Alarm", "AWS::SNS::Topic"):
        template.resource_count_is(cfn_type, 0)


@pytest.mark.parametrize("context, expected", [
    ({"key_lock": True}, r"-c key_lock_break_glass_arns=\[\]: name at least one IAM role"),
    ({"key_lock_break_glass_arns": [BREAK_GLASS]}, r"key_lock_break_glass_arns=.*set -c key_lock=true too"),
    ({"verify_schedule_minutes": 1}, r"-c verify_schedule_minutes=1 minute: .*from 5 to 720, or 0 to turn"),
    ({"verify": False, "verify_schedule_minutes": 60, "verify_pod": False},
     r"keep -c verify=true, or set -c verify_schedule_minutes=0"),
    ({"alarm_email": "oncall"}, r"-c alarm_email=oncall: give one e-mail address"),
    ({"monitoring": False, "alarm_email": "oncall@example.com"}, r"alarms need monitoring: set -c monitoring=true"),
])
def test_fails_on_bad_day2_context(context: dict, expected: str) -> None:
    from app import build_app

    with pytest.raises(EnvelopeConfigError, match=expected):
        build_app(new_app(**context), with_packs=False)


def test_fails_on_a_topic_that_is_not_an_sns_arn() -> None:
    with pytest.raises(EnvelopeConfigError, match="alarm_topic_arn.*SNS topic ARN"):
        settings_from_context({"alarm_topic_arn": "oncall"})


def test_schedule_zero_turns_it_off_explicitly() -> None:
    assert _schedules(bundled_template(verify_schedule_minutes=0)) == {}


def test_unset_schedule_means_hourly_and_ephemeral_means_off() -> None:
    from stacks.envelope_stack import _monitoring_options

    assert _monitoring_options(settings_from_context({})).schedule.to_minutes() == 60
    assert _monitoring_options(settings_from_context({"ephemeral": True})).schedule is None
    assert _monitoring_options(settings_from_context({"ephemeral": True, "verify_schedule_minutes": 60})).schedule.to_minutes() == 60


def test_schedule_sends_every_property_of_the_verification(default: Template) -> None:
    """Scheduled runs are told what the deploy-time verification is told (the handler parses both alike)."""
    (custom,) = default.find_resources("Custom::EnvelopeEncryptionVerification").values()
    (schedule,) = _schedules(default).values()
    payload = _literal_input(schedule["Properties"]["Targets"][0]["Input"])
    for name in custom["Properties"]:
        if name not in ("ServiceToken", "ServiceTimeout", "RunNonce"):
            assert f'"{name}":' in payload, name
