"""Key-threatening events: the CloudTrail management calls that can cut a cluster off its secrets key, as
EventBridge rules that notify the alarm topic.

EKS's API server caches its data key: a key that is disabled, scheduled for deletion, loses its grant or
has its policy rewritten keeps "working" until the API server restarts. These rules say so at once
(EventBridge sees management events only through a CloudTrail trail).
"""
from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from .acknowledgements import acknowledge

#: Docs anchor of the runbooks, quoted in every notification.
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


def threat_rules(scope: Construct, key: kms.IKey, key_alias: str | None, topic: sns.ITopic) -> dict[str, events.Rule]:
    """One rule per threat (the alias rule only with an alias), by construct id, each notifying ``topic``."""
    return {threat.construct_id: threat_rule(scope, threat, key, key_alias, topic)
            for threat in KEY_THREATS if key_alias or not threat.on_alias}


def threat_rule(scope: Construct, threat: KeyThreat, key: kms.IKey, key_alias: str | None, topic: sns.ITopic) -> events.Rule:
    detail: dict[str, object] = {"eventSource": ["kms.amazonaws.com"], "eventName": list(threat.event_names)}
    if threat.on_alias:
        # DeleteAlias names only the alias; UpdateAlias names the alias and the new target key.
        detail["requestParameters"] = {"aliasName": [key_alias]}
    else:
        # CloudTrail lists the key ARN under resources[] whatever the caller passed (key id, ARN,
        # or a grant token for RetireGrant, whose requestParameters are null).
        detail["resources"] = {"ARN": [key.key_arn]}
    rule = events.Rule(
        scope,
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
    rule.add_target(targets.SnsTopic(topic, message=message))
    acknowledge(
        rule,
        "Serverless-EventBusDLQ",
        "The target is this construct's SNS topic in the same account: EventBridge retries delivery for 24 hours "
        "(its default retry policy) and counts failures in AWS/Events FailedInvocations; a queue nobody reads "
        "would add an unwatched copy, not an alert.",
    )
    return rule
