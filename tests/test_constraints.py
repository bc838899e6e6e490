"""scripts/constraints.py: each service-constraint rule fails a template that breaks it and passes one that does not."""
from __future__ import annotations

import copy
import functools
import json
from typing import Any

import pytest

from tests.helpers import REPO, load_module


@functools.lru_cache(maxsize=None)
def constraints() -> Any:
    return load_module("constraints", REPO / "scripts" / "constraints.py")


def _template(resources: dict[str, Any], qualifier: str | None = "hnb659fds") -> dict[str, Any]:
    template: dict[str, Any] = {"Resources": resources}
    if qualifier:
        template["Parameters"] = {"BootstrapVersion": {"Type": "AWS::SSM::Parameter::Value<String>",
                                                       "Default": f"/cdk-bootstrap/{qualifier}/version"}}
    return template


def _config_rule(identifier: str, **extra: Any) -> dict[str, Any]:
    return {"Type": "AWS::Config::ConfigRule", "Properties": {
        "Source": {"Owner": "AWS", "SourceIdentifier": identifier}, **extra}}


_SCOPE = {"Scope": {"ComplianceResourceTypes": ["AWS::EKS::Cluster"], "ComplianceResourceId": "prod"}}


def _waiter(interval: int, attempts: int) -> dict[str, Any]:
    """The Provider framework's waiter state machine as aws-cdk-lib 2.275 writes it."""
    return {"Type": "AWS::StepFunctions::StateMachine", "Properties": {"DefinitionString": {"Fn::Join": ["", [
        '{"StartAt":"framework-isComplete-task","States":{"framework-isComplete-task":{"End":true,"Retry":[{"ErrorEquals":'
        f'["States.ALL"],"IntervalSeconds":{interval},"MaxAttempts":{attempts},"BackoffRate":1}}],"Catch":[{{"ErrorEquals":'
        '["States.ALL"],"Next":"framework-onTimeout-task"}],"Type":"Task","Resource":"',
        {"Fn::GetAtt": ["IsComplete", "Arn"]},
        '"},"framework-onTimeout-task":{"End":true,"Type":"Task","Resource":"', {"Fn::GetAtt": ["OnTimeout", "Arn"]}, '"}}}',
    ]]}}}


def _provider(interval: int, attempts: int, **custom: Any) -> dict[str, Any]:
    return {
        "Waiter": _waiter(interval, attempts),
        "OnEvent": {"Type": "AWS::Lambda::Function", "Properties": {"Timeout": 900, "Environment": {"Variables": {
            "WAITER_STATE_MACHINE_ARN": {"Ref": "Waiter"}}}}},
        "Association": {"Type": "Custom::EnvelopeEncryptionAssociation", "Properties": {
            "ServiceToken": {"Fn::GetAtt": ["OnEvent", "Arn"]}, **custom}},
    }


def _endpoint(service: str, kind: str = "Interface") -> dict[str, Any]:
    return {"Type": "AWS::EC2::VPCEndpoint", "Properties": {
        "VpcId": {"Ref": "Vpc"}, "VpcEndpointType": kind,
        "ServiceName": {"Fn::Join": ["", ["com.amazonaws.", {"Ref": "AWS::Region"}, f".{service}"]]}}}


def _vpc_without_nat(endpoints: list[str], *, verifier: dict[str, str] | None = None) -> dict[str, Any]:
    resources: dict[str, Any] = {
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
        "Profile": {"Type": "AWS::EKS::FargateProfile", "Properties": {"Selectors": [{"Namespace": "apps"}]}},
    }
    resources.update({f"Endpoint{i}": _endpoint(s) for i, s in enumerate(endpoints)})
    if verifier is not None:
        resources["Verification"] = {"Type": "Custom::EnvelopeEncryptionVerification", "Properties": verifier}
        resources["HandlerRole"] = {"Type": "AWS::IAM::Role", "Properties": {}}
        resources["Handler"] = {"Type": "AWS::Lambda::Function", "Properties": {
            "Role": {"Fn::GetAtt": ["HandlerRole", "Arn"]}, "VpcConfig": {"SubnetIds": ["subnet-1"]}}}
        resources["HandlerPolicy"] = {"Type": "AWS::IAM::ManagedPolicy", "Properties": {
            "Roles": [{"Ref": "HandlerRole"}], "PolicyDocument": {"Statement": [
                {"Effect": "Allow", "Action": ["eks:DescribeCluster", "cloudformation:DescribeStacks"], "Resource": "*"},
                {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": "*"},
            ]}}}
    return _template(resources)


def _key(principal_arn: Any) -> dict[str, Any]:
    return {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": {"Statement": [
        {"Effect": "Allow", "Principal": {"AWS": principal_arn}, "Action": "kms:CreateGrant", "Resource": "*"}]}}}


_BOOTSTRAP_ROLE = {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/cdk-{q}-cfn-exec-role-${AWS::AccountId}-${AWS::Region}"}


def _bootstrap_key(qualifier: str) -> dict[str, Any]:
    return _key({"Fn::Sub": _BOOTSTRAP_ROLE["Fn::Sub"].replace("{q}", qualifier)})


def _log_group(key_statements: list[dict[str, Any]]) -> dict[str, Any]:
    return _template({
        "Key": {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": {"Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "kms:*", "Resource": "*"},
            *key_statements]}}},
        "Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"KmsKeyId": {"Fn::GetAtt": ["Key", "Arn"]}}},
    })


_LOGS_STATEMENT = {"Effect": "Allow", "Principal": {"Service": {"Fn::Join": ["", ["logs.", {"Ref": "AWS::Region"}, ".amazonaws.com"]]}},
                   "Action": ["kms:Decrypt*", "kms:Encrypt*", "kms:GenerateDataKey*"], "Resource": "*"}


FAILING: dict[str, list[Any]] = {
    "periodic_config_rules_have_no_scope": [
        pytest.param(_template({"Rule": _config_rule("EKS_SECRETS_ENCRYPTED", **_SCOPE)}), id="eks-secrets-encrypted-scoped"),
        pytest.param(_template({"Rule": _config_rule("EKS_CLUSTER_SECRETS_ENCRYPTED", **_SCOPE)}), id="eks-cluster-secrets-encrypted-scoped"),
        pytest.param(_template({"Rule": _config_rule("ANY_OTHER", MaximumExecutionFrequency="One_Hour", **_SCOPE)}), id="frequency-scoped"),
    ],
    "custom_resources_answer_within_an_hour": [
        pytest.param(_template(_provider(30, 240)), id="provider-waits-two-hours"),
        pytest.param(_template(_provider(30, 100, ServiceTimeout="960")), id="waiter-longer-than-service-timeout"),
        pytest.param(_template({"R": {"Type": "AWS::CloudFormation::CustomResource", "Properties": {"ServiceTimeout": 7200}}}), id="service-timeout-over-an-hour"),
        pytest.param(_template({"R": {"Type": "Custom::X", "Properties": {"ServiceTimeout": "0"}}}), id="service-timeout-zero"),
    ],
    "no_plain_retain": [
        pytest.param(_template({"Key": {"Type": "AWS::KMS::Key", "DeletionPolicy": "Retain"}}), id="retained-key"),
    ],
    "new_vpc_without_nat_has_endpoints": [
        pytest.param(_vpc_without_nat([]), id="no-endpoints"),
        pytest.param(_vpc_without_nat(["ecr.api", "ecr.dkr", "sts"]), id="no-s3-gateway"),
        pytest.param(_vpc_without_nat(["ecr.api", "ecr.dkr", "s3", "sts", "eks", "kms", "logs", "cloudformation"],
                                      verifier={"CloudTrailCheck": "true"}), id="verifier-cloudtrail-without-endpoint"),
        pytest.param(_vpc_without_nat(["ecr.api", "ecr.dkr", "s3", "sts", "eks", "kms", "logs"],
                                      verifier={"CloudTrailCheck": "false"}), id="handler-policy-service-without-endpoint"),
    ],
    "key_policies_name_only_this_bootstrap": [
        pytest.param(_template({"Key": _bootstrap_key("hnb659fds")}, qualifier="team1"), id="default-role-custom-qualifier"),
        pytest.param(_template({"Key": _bootstrap_key("team1")}, qualifier=None), id="role-without-bootstrap"),
    ],
    "fargate_profiles_have_at_most_five_selectors": [
        pytest.param(_template({"P": {"Type": "AWS::EKS::FargateProfile", "Properties": {"Selectors": [{"Namespace": f"n{i}"} for i in range(6)]}}}), id="six-selectors"),
        pytest.param(_template({"P": {"Type": "AWS::EKS::FargateProfile", "Properties": {"Selectors": [
            {"Namespace": "n", "Labels": [{"Key": f"k{i}", "Value": "v"} for i in range(6)]}]}}}), id="six-labels"),
    ],
    "log_group_keys_let_cloudwatch_logs_use_them": [
        pytest.param(_log_group([]), id="root-only-key"),
        pytest.param(_log_group([{**_LOGS_STATEMENT, "Principal": {"Service": "cloudwatch.amazonaws.com"}}]), id="other-service"),
    ],
}

PASSING: dict[str, list[Any]] = {
    "periodic_config_rules_have_no_scope": [
        pytest.param(_template({"Rule": _config_rule("EKS_SECRETS_ENCRYPTED")}), id="periodic-unscoped"),
        pytest.param(_template({"Rule": _config_rule("EKS_ENDPOINT_NO_PUBLIC_ACCESS")}), id="other-periodic-unscoped"),
        pytest.param(_template({"Rule": _config_rule("S3_BUCKET_VERSIONING_ENABLED", **_SCOPE)}), id="change-triggered-scoped"),
    ],
    "custom_resources_answer_within_an_hour": [
        pytest.param(_template(_provider(30, 100)), id="provider-waits-50-minutes"),
        pytest.param(_template({"R": {"Type": "Custom::X", "Properties": {"ServiceTimeout": "960"}}}), id="service-timeout-16-minutes"),
    ],
    "no_plain_retain": [
        pytest.param(_template({"Key": {"Type": "AWS::KMS::Key", "DeletionPolicy": "RetainExceptOnCreate", "UpdateReplacePolicy": "Retain"}}), id="retain-except-on-create"),
    ],
    "new_vpc_without_nat_has_endpoints": [
        pytest.param(_vpc_without_nat(["ecr.api", "ecr.dkr", "s3", "sts"]), id="fargate-endpoints"),
        pytest.param(_vpc_without_nat(["ecr.api", "ecr.dkr", "s3", "sts", "eks", "kms", "logs", "cloudformation", "cloudtrail"],
                                      verifier={"CloudTrailCheck": "true"}), id="verifier-endpoints"),
        pytest.param(_template({"Vpc": {"Type": "AWS::EC2::VPC"}, "Nat": {"Type": "AWS::EC2::NatGateway"},
                                "Profile": {"Type": "AWS::EKS::FargateProfile"}}), id="nat-gateway"),
    ],
    "key_policies_name_only_this_bootstrap": [
        pytest.param(_template({"Key": _bootstrap_key("team1")}, qualifier="team1"), id="own-qualifier"),
        pytest.param(_template({"Key": _key("arn:aws:iam::123456789012:role/Deployer")}, qualifier="team1"), id="explicit-deployer"),
    ],
    "fargate_profiles_have_at_most_five_selectors": [
        pytest.param(_template({"P": {"Type": "AWS::EKS::FargateProfile", "Properties": {"Selectors": [{"Namespace": f"n{i}"} for i in range(5)]}}}), id="five-selectors"),
    ],
    "log_group_keys_let_cloudwatch_logs_use_them": [
        pytest.param(_log_group([_LOGS_STATEMENT]), id="logs-service-allowed"),
        pytest.param(_template({"Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"KmsKeyId": "arn:aws:kms:eu-west-1:1:key/x"}}}), id="key-of-another-template"),
    ],
}


def _rule(name: str) -> Any:
    return getattr(constraints(), name)


def test_every_rule_has_failing_and_passing_cases_and_a_source() -> None:
    names = [rule.__name__ for rule in constraints().RULES]
    assert sorted(names) == sorted(FAILING) == sorted(PASSING)
    for rule in constraints().RULES:
        assert "Source" in (rule.__doc__ or ""), f"{rule.__name__} names no source"


@pytest.mark.parametrize(("rule", "template"), [pytest.param(r, p.values[0], id=f"{r}-{p.id}") for r, ps in FAILING.items() for p in ps])
def test_fails_a_template_that_breaks_the_rule(rule: str, template: dict[str, Any]) -> None:
    violations = _rule(rule)(copy.deepcopy(template))
    assert violations, f"{rule} passed a template that breaks it"
    assert all(isinstance(lid, str) and message for lid, message in violations)


@pytest.mark.parametrize(("rule", "template"), [pytest.param(r, p.values[0], id=f"{r}-{p.id}") for r, ps in PASSING.items() for p in ps])
def test_passes_a_template_that_keeps_the_rule(rule: str, template: dict[str, Any]) -> None:
    assert _rule(rule)(copy.deepcopy(template)) == []


def test_waiter_seconds_reads_the_provider_framework_definition() -> None:
    assert constraints().waiter_seconds(_waiter(30, 240)) == 7200
    assert constraints().waiter_seconds(_waiter(5, 3)) == 15


def test_a_missing_endpoint_names_the_service_and_who_needs_it() -> None:
    (finding,) = constraints().new_vpc_without_nat_has_endpoints(_vpc_without_nat(["ecr.api", "ecr.dkr", "sts"]))
    assert finding[0] == "Vpc" and "VPC endpoint for s3, which Fargate pods need" in finding[1]


def test_scan_runs_the_rules_over_an_assembly(tmp_path) -> None:
    (tmp_path / "Bad.template.json").write_text(json.dumps(_template({"Key": {"Type": "AWS::KMS::Key", "DeletionPolicy": "Retain"}})))
    (tmp_path / "Good.template.json").write_text(json.dumps(_template({})))
    templates = sorted(tmp_path.glob("*.template.json"))
    findings = constraints().run(templates)
    assert [(f["rule"], f["template"], f["logical_id"]) for f in findings] == [("no_plain_retain", "Bad.template.json", "Key")]
    outcome = constraints().summarise(findings, templates)
    assert outcome.failed and outcome.summary.startswith(f"constraints: 1 violation of {len(constraints().RULES)} service rules on 2 templates")
    assert constraints().main([str(tmp_path)]) == 1
