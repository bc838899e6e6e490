"""AWS Config guardrails: account and organization rules over every EKS cluster, never a scoped periodic rule.

EKS_SECRETS_ENCRYPTED and EKS_CLUSTER_SECRETS_ENCRYPTED are periodic; AWS Config rejects a Scope on a
periodic rule (InvalidParameterValueException). The per-cluster rule `config_rule=true` used to add had
one, so it could never deploy.
"""
from __future__ import annotations

import json
import subprocess

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from eks_envelope import EnvelopeConfigError, EnvelopeEncryptedCluster, MonitoringOptions
from eks_envelope.guardrail import (
    CLUSTER_RULE,
    CLUSTER_RULE_NOT_OFFERED,
    SECRETS_RULE,
    OrganizationSecretsEncryptionGuardrail,
    SecretsEncryptionGuardrail,
)
from tests.helpers import REPO, new_app, synth_bundled_app

KEY_A = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
KEY_B = "arn:aws:kms:us-east-1:444455556666:key/abcd1234-ab12-cd34-ef56-abcdef123456"
PERIODIC_EKS_RULES = {CLUSTER_RULE, SECRETS_RULE}


def _rules(template: Template) -> list[dict]:
    return [*template.find_resources("AWS::Config::ConfigRule").values(),
            *template.find_resources("AWS::Config::OrganizationConfigRule").values()]


def _no_scope_on_periodic_eks_rules(template: dict) -> None:
    """The service constraint itself: a periodic EKS managed rule carries no scope of any kind."""
    for resource in template["Resources"].values():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::Config::ConfigRule" and PERIODIC_EKS_RULES & set(json.dumps(props["Source"]).split('"')):
            assert "Scope" not in props
        if resource["Type"] == "AWS::Config::OrganizationConfigRule":
            metadata = props["OrganizationManagedRuleMetadata"]
            assert not {"ResourceTypesScope", "ResourceIdScope", "TagKeyScope", "TagValueScope"} & set(metadata)


# --- config_rule=true is refused with the fix -------------------------------------------------------------------

def test_fails_on_a_per_cluster_config_rule_with_the_fix() -> None:
    with pytest.raises(EnvelopeConfigError, match=r"monitoring.config_rule=True: .*periodic.*SecretsEncryptionGuardrail"):
        EnvelopeEncryptedCluster(cdk.Stack(new_app(), "S"), "Cluster", monitoring=MonitoringOptions(config_rule=True))


def test_fails_on_context_config_rule_true_in_context_spelling() -> None:
    from app import build_app

    for extra in ({}, {"monitoring": "false"}):
        with pytest.raises(EnvelopeConfigError) as raised:
            build_app(new_app(config_rule="true", **extra))
        message = str(raised.value)
        assert "-c config_rule=true:" in message and "-c org_guardrail_key_arns=" in message
        assert message.count("config_rule=true") == 1, message


# --- account level -----------------------------------------------------------------------------------------------

def _account(region: str | None = None, **props) -> Template:
    env = cdk.Environment(account="111122223333", region=region) if region else None
    stack = cdk.Stack(new_app(), "Guardrail", env=env)
    SecretsEncryptionGuardrail(stack, "Guardrail", key_arns=[KEY_A, KEY_B], **props)
    return Template.from_stack(stack)


def test_account_rule_is_periodic_unscoped_with_every_approved_key() -> None:
    template = _account()
    (rule,) = _rules(template)
    props = rule["Properties"]
    assert props["InputParameters"] == {"kmsKeyArns": f"{KEY_A},{KEY_B}"}
    assert props["MaximumExecutionFrequency"] == "TwentyFour_Hours"
    assert props["Source"]["Owner"] == "AWS"
    _no_scope_on_periodic_eks_rules(template.to_json())


def test_auto_picks_the_cluster_rule_where_offered_at_deploy_time() -> None:
    template = _account().to_json()
    (rule,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::Config::ConfigRule"]
    choice = rule["Properties"]["Source"]["SourceIdentifier"]["Fn::If"]
    assert choice[1:] == [SECRETS_RULE, CLUSTER_RULE]
    regions = {c["Fn::Equals"][1] for c in template["Conditions"][choice[0]]["Fn::Or"]}
    assert regions == set(CLUSTER_RULE_NOT_OFFERED) and "cn-north-1" in regions


@pytest.mark.parametrize(("region", "expected"), [("eu-west-1", CLUSTER_RULE), ("cn-north-1", SECRETS_RULE),
                                                  ("ca-west-1", SECRETS_RULE)])
def test_auto_is_a_literal_in_a_stack_with_a_region(region: str, expected: str) -> None:
    (rule,) = _rules(_account(region))
    assert rule["Properties"]["Source"]["SourceIdentifier"] == expected


def test_the_rule_choice_is_a_prop() -> None:
    (rule,) = _rules(_account(rule=SECRETS_RULE, maximum_execution_frequency="Six_Hours"))
    assert rule["Properties"]["Source"]["SourceIdentifier"] == SECRETS_RULE
    assert rule["Properties"]["MaximumExecutionFrequency"] == "Six_Hours"


@pytest.mark.parametrize(("props", "expected"), [
    ({"key_arns": []}, r"key_arns=\[\]: give the approved key ARNs"),
    ({"key_arns": KEY_A}, r"key_arns='arn:aws:kms.*pass a list, e.g. \['arn:aws:kms"),
    ({"key_arns": ["arn:aws:kms:eu-west-1:111122223333:alias/eks"]}, r"an alias ARN is not what"),
    ({"key_arns": [KEY_A, KEY_A]}, r"list each key once"),
    ({"key_arns": [KEY_A] * 1 + [KEY_A.replace("1234abcd", f"{i:08x}") for i in range(1, 14)]}, r"split the approved keys"),
    ({"key_arns": [KEY_A], "rule": "EKS_SECRETS"}, r"rule='EKS_SECRETS': use one of auto"),
    ({"key_arns": [KEY_A], "maximum_execution_frequency": "Daily"}, r"maximum_execution_frequency='Daily'"),
], ids=["empty", "string", "alias", "duplicate", "too-long", "unknown-rule", "bad-frequency"])
def test_fails_on_bad_guardrail_props(props: dict, expected: str) -> None:
    with pytest.raises(EnvelopeConfigError, match=expected):
        SecretsEncryptionGuardrail(cdk.Stack(new_app(), "S"), "Guardrail", **props)


# --- organization level (issue 24) ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def org_assembly():
    return synth_bundled_app(org_guardrail_key_arns=f"{KEY_A},{KEY_B}")


def _org_template(assembly) -> dict:
    (stack,) = [s for s in assembly.stacks if s.stack_name == "EksEnvelope-OrgGuardrail"]
    return stack.template


def test_org_guardrail_is_an_optional_stack_of_the_app(org_assembly) -> None:
    assert sorted(s.stack_name for s in org_assembly.stacks) == ["EksEnvelope", "EksEnvelope-OrgGuardrail"]
    assert [s.stack_name for s in synth_bundled_app().stacks] == ["EksEnvelope"]


def test_org_rule_shares_the_rule_choice_and_carries_the_keys(org_assembly) -> None:
    template = _org_template(org_assembly)
    (rule,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::Config::OrganizationConfigRule"]
    metadata = rule["Properties"]["OrganizationManagedRuleMetadata"]
    assert json.loads(metadata["InputParameters"]) == {"kmsKeyArns": f"{KEY_A},{KEY_B}"}
    assert metadata["RuleIdentifier"]["Fn::If"][1:] == [SECRETS_RULE, CLUSTER_RULE]
    assert metadata["MaximumExecutionFrequency"] == "TwentyFour_Hours"
    assert rule["Properties"]["OrganizationConfigRuleName"] == "eks-envelope-secrets-on-approved-keys"
    _no_scope_on_periodic_eks_rules(template)


def test_org_guardrail_construct_checks_excluded_accounts() -> None:
    with pytest.raises(EnvelopeConfigError, match=r"excluded_accounts='1234': give 12-digit"):
        OrganizationSecretsEncryptionGuardrail(cdk.Stack(new_app(), "S"), "G", key_arns=[KEY_A], excluded_accounts=["1234"])


def test_fails_on_a_bad_org_key_in_context_spelling() -> None:
    from app import build_app

    with pytest.raises(EnvelopeConfigError, match=r"-c org_guardrail_key_arns=arn:aws:kms:eu-west-1:111122223333:alias/x: "):
        build_app(new_app(org_guardrail_key_arns="arn:aws:kms:eu-west-1:111122223333:alias/x"))


def test_account_guardrail_stack_from_context() -> None:
    names = sorted(s.stack_name for s in synth_bundled_app(account_guardrail_key_arns=KEY_A).stacks)
    assert names == ["EksEnvelope", "EksEnvelope-Guardrail"]


@pytest.mark.e2e
def test_guardrail_templates_pass_make_scan(org_assembly, tmp_path) -> None:
    """checkov, cfn-lint and the Control Tower controls, as `make scan` runs them over cdk.out (scripts/scan.py)."""
    scan_python = REPO / ".venv-scan" / "bin" / "python"
    if not scan_python.exists():
        pytest.fail("the scanners' virtualenv is missing: run `make scan-deps` (make test does)")
    guardrail_only = tmp_path / "cdk.out"
    guardrail_only.mkdir()
    (guardrail_only / "EksEnvelope-OrgGuardrail.template.json").write_text(json.dumps(_org_template(org_assembly)))
    result = subprocess.run([str(scan_python), str(REPO / "scripts" / "scan.py"), str(guardrail_only)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr


def test_guardrail_props_object_builds_the_same_rule_as_keyword_arguments() -> None:
    from eks_envelope import OrganizationSecretsEncryptionGuardrailProps

    def built(**kwargs: object) -> dict:
        stack = cdk.Stack(new_app(), "Org", env=cdk.Environment(region="eu-west-1"))
        OrganizationSecretsEncryptionGuardrail(stack, "Guardrail", **kwargs)
        return Template.from_stack(stack).to_json()

    values = dict(key_arns=[KEY_A], excluded_accounts=["111122223333"], rule_name="approved-keys")
    assert built(props=OrganizationSecretsEncryptionGuardrailProps(**values)) == built(**values)
    with pytest.raises(EnvelopeConfigError) as raised:
        OrganizationSecretsEncryptionGuardrailProps(key_arns=[], excluded_accounts=["12"], rule_name="")
    assert [p.field for p in raised.value.problems] == ["key_arns", "excluded_accounts", "rule_name"]
