"""The optional key lock: a Deny of the destructive key actions that can never lock the account out."""
from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Template
from cdk_nag import NagRuleCompliance

from eks_envelope import ClusterSecretsKey, EnvelopeConfigError
from eks_envelope.compliance.rules.kms import key_lock_keeps_a_way_in
from eks_envelope.key import KEY_LOCK_SID
from tests.helpers import new_app

BREAK_GLASS = "arn:aws:iam::123456789012:role/BreakGlass"
DEPLOYER = "arn:aws:iam::123456789012:role/cdk-deployer"


def _locked_key(construct_id: str, break_glass: list[str]) -> tuple[cdk.Stack, ClusterSecretsKey]:
    stack = cdk.Stack(new_app(), construct_id)
    key = ClusterSecretsKey(stack, "SecretsKey", deploy_principal=iam.ArnPrincipal(DEPLOYER))
    key.lock(break_glass)
    return stack, key


@pytest.fixture(scope="module")
def locked() -> tuple[dict, ClusterSecretsKey]:
    stack, key = _locked_key("Locked", [BREAK_GLASS])
    (resource,) = Template.from_stack(stack).find_resources("AWS::KMS::Key").values()
    return resource, key


def _statements(resource: dict) -> list[dict]:
    return resource["Properties"]["KeyPolicy"]["Statement"]


def test_lock_denies_the_three_destructive_actions_to_all_but_break_glass_and_deployer(locked) -> None:
    resource, key = locked
    (lock,) = [s for s in _statements(resource) if s.get("Sid") == KEY_LOCK_SID]
    assert lock["Effect"] == "Deny" and lock["Principal"] == {"AWS": "*"}
    assert sorted(lock["Action"]) == ["kms:DisableKey", "kms:PutKeyPolicy", "kms:ScheduleKeyDeletion"]
    assert lock["Condition"] == {"ArnNotLike": {"aws:PrincipalArn": [BREAK_GLASS, DEPLOYER]}}
    assert key.locked_for == (BREAK_GLASS, DEPLOYER)


def test_lock_keeps_the_account_root_delegation(locked) -> None:
    resource, _ = locked
    roots = [s for s in _statements(resource) if s["Effect"] == "Allow" and s["Action"] == "kms:*"]
    assert len(roots) == 1 and ":root" in str(roots[0]["Principal"])


def test_our_pack_accepts_the_lock(locked) -> None:
    _, key = locked
    assert key_lock_keeps_a_way_in(key.key.node.default_child) == NagRuleCompliance.COMPLIANT


def test_unlocked_key_has_no_deny_and_the_rule_does_not_apply() -> None:
    stack = cdk.Stack(new_app(), "Unlocked")
    key = ClusterSecretsKey(stack, "SecretsKey")
    (resource,) = Template.from_stack(stack).find_resources("AWS::KMS::Key").values()
    assert all(s["Effect"] == "Allow" for s in _statements(resource))
    assert key_lock_keeps_a_way_in(key.key.node.default_child) == NagRuleCompliance.NOT_APPLICABLE


@pytest.mark.parametrize("break_glass", [[], "arn:aws:iam::123456789012:role/BreakGlass"])
def test_fails_without_a_break_glass_list(break_glass) -> None:
    with pytest.raises(EnvelopeConfigError, match="key_lock_break_glass_arns.*at least one IAM role"):
        _locked_key("NoWayBack", break_glass)


def test_fails_on_a_session_arn_as_break_glass() -> None:
    session = "arn:aws:sts::123456789012:assumed-role/BreakGlass/alice"
    with pytest.raises(EnvelopeConfigError, match="key_lock_break_glass_arns.*assumed-role session"):
        _locked_key("SessionArn", [session])


def test_fails_without_a_deploy_principal_to_exempt() -> None:
    stack = cdk.Stack(new_app(), "NoDeployer", synthesizer=cdk.CliCredentialsStackSynthesizer())
    key = ClusterSecretsKey(stack, "SecretsKey")
    with pytest.raises(EnvelopeConfigError, match="deploy_principal.*exempts the principal that deploys"):
        key.lock([BREAK_GLASS])
