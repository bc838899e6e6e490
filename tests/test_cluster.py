"""EnvelopeEncryptedCluster defaults and options, one behaviour per test, on a bare stack (no app, no packs)."""
from __future__ import annotations

import json

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match, Template

from eks_envelope import EnvelopeConfigError, EnvelopeEncryptedCluster
from eks_envelope.cluster import DEFAULT_KUBERNETES_VERSION
from tests.helpers import construct_template, new_app, only_resource

ADMIN = "arn:aws:iam::123456789012:role/PlatformAdmin"
#: The name the app gives its cluster (the construct's own default derives one from its path).
NAME = "eks-envelope"
ALL_LOG_TYPES = ["api", "audit", "authenticator", "controllerManager", "scheduler"]


@pytest.fixture(scope="module")
def template() -> Template:
    return construct_template(cluster_name=NAME)


@pytest.fixture(scope="module")
def customised() -> Template:
    return construct_template(
        cluster_name=NAME,
        admin_principal_arns=[ADMIN],
        public_access_cidrs=["203.0.113.0/24"],
        fargate_namespaces=["serverless", "apps"],
        kubernetes_version="1.35",
        nat_gateways=2,
    )


@pytest.fixture(scope="module")
def cluster(template: Template) -> dict:
    return only_resource(template, "AWS::EKS::Cluster")


def cluster_id(template: Template) -> str:
    (logical_id,) = template.find_resources("AWS::EKS::Cluster")
    return logical_id


def test_secrets_encrypted_with_the_apps_own_key(template: Template, cluster: dict) -> None:
    (config,) = cluster["Properties"]["EncryptionConfig"]
    assert config["Resources"] == ["secrets"]
    key_id = config["Provider"]["KeyArn"]["Fn::GetAtt"][0]
    assert template.to_json()["Resources"][key_id]["Type"] == "AWS::KMS::Key"
    assert "secrets" in template.to_json()["Resources"][key_id]["Properties"]["Description"]


def test_endpoint_private_only_by_default(cluster: dict) -> None:
    vpc_config = cluster["Properties"]["ResourcesVpcConfig"]
    assert vpc_config["EndpointPrivateAccess"] is True
    assert vpc_config["EndpointPublicAccess"] is False
    assert "PublicAccessCidrs" not in vpc_config


def test_all_five_control_plane_log_types(cluster: dict) -> None:
    enabled = [t["Type"] for t in cluster["Properties"]["Logging"]["ClusterLogging"]["EnabledTypes"]]
    assert sorted(enabled) == sorted(ALL_LOG_TYPES)


def test_control_plane_log_group_exists_first_encrypted_with_retention(template: Template, cluster: dict) -> None:
    groups = template.find_resources("AWS::Logs::LogGroup", {"Properties": {"LogGroupName": "/aws/eks/eks-envelope/cluster"}})
    (group_id,) = groups
    assert groups[group_id]["Properties"]["RetentionInDays"] == 365
    assert "KmsKeyId" in groups[group_id]["Properties"]
    assert group_id in cluster["DependsOn"]


def test_every_log_group_encrypted_with_retention(template: Template) -> None:
    groups = template.find_resources("AWS::Logs::LogGroup")
    assert len(groups) >= 4
    for group in groups.values():
        assert "KmsKeyId" in group["Properties"] and "RetentionInDays" in group["Properties"]


def test_access_entries_without_cluster_creator_admin(cluster: dict) -> None:
    assert cluster["Properties"]["AccessConfig"] == {
        "AuthenticationMode": "API",
        "BootstrapClusterCreatorAdminPermissions": False,
    }


def test_deletion_protection_switched_on_after_verification_not_at_creation(template: Template, cluster: dict) -> None:
    # Protected from creation, the ACTIVE cluster could not be deleted when a later step of the
    # first deploy fails, and the rollback would end in ROLLBACK_FAILED.
    assert "DeletionProtection" not in cluster["Properties"]
    resources = template.to_json()["Resources"]
    (guard_id,) = template.find_resources("Custom::ClusterDeletionProtection")
    guard = resources[guard_id]
    assert guard["Properties"]["Protect"] == "true"
    assert guard["Properties"]["ClusterName"] == {"Ref": cluster_id(template)}
    (verification_id,) = template.find_resources("Custom::EnvelopeEncryptionVerification")
    assert verification_id in guard["DependsOn"]
    # Created last, deleted first: every other resource of the construct is a dependency.
    others = {lid for lid, r in resources.items() if lid.startswith("Cluster") and lid != guard_id
              and not lid.startswith("ClusterVerifier")}
    assert others <= set(guard["DependsOn"])


def test_upgrade_policy_standard_by_default(cluster: dict) -> None:
    assert cluster["Properties"]["UpgradePolicy"] == {"SupportType": "STANDARD"}


def test_extended_support_is_a_deliberate_choice() -> None:
    cluster = only_resource(construct_template(cluster_name=NAME, support_type="EXTENDED"), "AWS::EKS::Cluster")
    assert cluster["Properties"]["UpgradePolicy"] == {"SupportType": "EXTENDED"}


def test_default_version_is_newest_in_standard_support(cluster: dict) -> None:
    assert cluster["Properties"]["Version"] == DEFAULT_KUBERNETES_VERSION == "1.36"


def test_no_auto_mode_and_no_nodes(template: Template, cluster: dict) -> None:
    assert cluster["Properties"]["ComputeConfig"] == {"Enabled": False}
    for node_type in ("AWS::EKS::Nodegroup", "AWS::AutoScaling::AutoScalingGroup", "AWS::EC2::LaunchTemplate"):
        template.resource_count_is(node_type, 0)


def test_control_plane_in_private_subnets_only(template: Template, cluster: dict) -> None:
    resources = template.to_json()["Resources"]
    for subnet in cluster["Properties"]["ResourcesVpcConfig"]["SubnetIds"]:
        assert "Private" in resources[subnet["Ref"]]["Metadata"]["aws:cdk:path"]


def test_fargate_profile_selects_user_namespaces_kube_system_and_the_canary(template: Template) -> None:
    profile = only_resource(template, "AWS::EKS::FargateProfile")
    selectors = profile["Properties"]["Selectors"]
    assert {"Namespace": "serverless"} in [{k: v for k, v in s.items() if v} for s in selectors]
    assert any(s["Namespace"] == "kube-system" for s in selectors)
    canary = [s for s in selectors if s["Namespace"] == "default"]
    assert canary and canary[0]["Labels"] == [{"Key": "eks-envelope.io/canary", "Value": "verifier"}]
    assert len(selectors) == 3


def test_pod_execution_role_trust_conditioned_on_the_clusters_profiles(template: Template) -> None:
    profile = only_resource(template, "AWS::EKS::FargateProfile")
    role_id = profile["Properties"]["PodExecutionRoleArn"]["Fn::GetAtt"][0]
    role = template.to_json()["Resources"][role_id]
    (stmt,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert stmt["Principal"] == {"Service": "eks-fargate-pods.amazonaws.com"}
    source_arn = json.dumps(stmt["Condition"]["ArnLike"]["aws:SourceArn"])
    assert ":fargateprofile/eks-envelope/*" in source_arn


def test_only_coredns_is_installed_and_it_runs_on_fargate(template: Template) -> None:
    """vpc-cni and kube-proxy are DaemonSets that never schedule on Fargate (docs/design/addons.md): not installed."""
    addons = {a["Properties"]["AddonName"]: a for a in template.find_resources("AWS::EKS::Addon").values()}
    assert set(addons) == {"coredns"}
    assert json.loads(addons["coredns"]["Properties"]["ConfigurationValues"]) == {"computeType": "Fargate"}
    assert any("FargateProfile" in dep for dep in addons["coredns"]["DependsOn"])


def test_new_vpc_two_azs_one_nat_gateway_and_flow_logs(template: Template) -> None:
    template.resource_count_is("AWS::EC2::Subnet", 4)
    template.resource_count_is("AWS::EC2::NatGateway", 1)
    template.has_resource_properties(
        "AWS::EC2::FlowLog", {"LogDestinationType": "cloud-watch-logs", "ResourceType": "VPC", "TrafficType": "ALL"}
    )


def test_public_endpoint_only_from_listed_cidrs(customised: Template) -> None:
    vpc_config = only_resource(customised, "AWS::EKS::Cluster")["Properties"]["ResourcesVpcConfig"]
    assert vpc_config["EndpointPublicAccess"] is True
    assert vpc_config["EndpointPrivateAccess"] is True
    assert vpc_config["PublicAccessCidrs"] == ["203.0.113.0/24"]


def test_admin_principals_get_cluster_admin_access_entries(customised: Template) -> None:
    entries = customised.find_resources("AWS::EKS::AccessEntry", {"Properties": {"PrincipalArn": ADMIN}})
    (entry,) = entries.values()
    (policy,) = entry["Properties"]["AccessPolicies"]
    assert policy["AccessScope"] == {"Type": "cluster"}
    assert "policy/AmazonEKSClusterAdminPolicy" in json.dumps(policy["PolicyArn"])


def test_props_reach_the_cluster(customised: Template) -> None:
    props = only_resource(customised, "AWS::EKS::Cluster")["Properties"]
    assert props["Version"] == "1.35"
    namespaces = [s["Namespace"] for s in only_resource(customised, "AWS::EKS::FargateProfile")["Properties"]["Selectors"]]
    assert namespaces[:2] == ["serverless", "apps"]
    customised.resource_count_is("AWS::EC2::NatGateway", 2)


def test_warns_when_nobody_can_use_kubectl() -> None:
    from aws_cdk.assertions import Annotations
    import aws_cdk as cdk
    from eks_envelope import EnvelopeEncryptedCluster
    from tests.helpers import new_app

    without, with_admin = (cdk.Stack(new_app(), name) for name in ("NoAdmin", "Admin"))
    EnvelopeEncryptedCluster(without, "Cluster")
    EnvelopeEncryptedCluster(with_admin, "Cluster", admin_principal_arns=[ADMIN])
    message = Match.string_like_regexp("No admin_principal_arns: nobody can use kubectl")
    Annotations.from_stack(without).has_warning("*", message)
    Annotations.from_stack(with_admin).has_no_warning("*", message)


def test_flow_log_role_trust_has_confused_deputy_conditions(template: Template) -> None:
    roles = template.find_resources("AWS::IAM::Role", {"Properties": {"AssumeRolePolicyDocument": {
        "Statement": [Match.object_like({"Principal": {"Service": "vpc-flow-logs.amazonaws.com"}})]}}})
    ((_, role),) = roles.items()
    (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert set(statement["Condition"]["StringEquals"]) == {"aws:SourceAccount"}
    assert "vpc-flow-log/*" in json.dumps(statement["Condition"]["ArnLike"]["aws:SourceArn"])


def test_no_reserved_concurrency_by_default(template: Template) -> None:
    # Lambda refuses reservations that leave fewer than 100 unreserved: new accounts have 10.
    for logical_id, function in template.find_resources("AWS::Lambda::Function").items():
        assert "ReservedConcurrentExecutions" not in function["Properties"], logical_id


def test_custom_resources_have_a_service_timeout(template: Template) -> None:
    for cfn_type in ("Custom::EnvelopeEncryptionVerification", "Custom::ClusterDeletionProtection"):
        (resource,) = template.find_resources(cfn_type).values()
        assert 900 < int(resource["Properties"]["ServiceTimeout"]) < 3600, cfn_type


def test_verification_delete_always_reaches_its_handler(template: Template) -> None:
    resources = template.to_json()["Resources"]
    (verification,) = template.find_resources("Custom::EnvelopeEncryptionVerification").values()
    depends = set(verification["DependsOn"])
    policies = {lid for lid, r in resources.items() if r["Type"] == "AWS::IAM::ManagedPolicy" and lid.startswith("ClusterVerifier")}
    roles = {lid for lid, r in resources.items() if r["Type"] == "AWS::IAM::Role" and lid.startswith("ClusterVerifier")}
    assert len(policies) == 2 and len(roles) == 2
    assert policies | roles <= depends
    assert verification["Properties"]["RollbackSafe"] == "true"


# --- verify=False: nothing can switch protection on after the deploy, so none is set at creation ---------

@pytest.fixture(scope="module")
def unverified() -> tuple[cdk.Stack, Template]:
    stack = cdk.Stack(new_app(), "Unverified")
    EnvelopeEncryptedCluster(stack, "Cluster", cluster_name="eks-envelope", verify=False, monitor=False)
    return stack, Template.from_stack(stack)


def test_without_the_verifier_the_cluster_is_created_unprotected_so_a_failed_create_rolls_back(
    unverified: tuple[cdk.Stack, Template],
) -> None:
    stack, template = unverified
    (cluster,) = template.find_resources("AWS::EKS::Cluster").values()
    assert not cluster["Properties"].get("DeletionProtection"), "set at creation it blocks the rollback of a failed create"
    template.resource_count_is("Custom::ClusterDeletionProtection", 0)
    cdk.assertions.Annotations.from_stack(stack).has_warning(
        "/Unverified/Cluster", cdk.assertions.Match.string_like_regexp("verify=False: the cluster has no deletion protection"))


def test_fails_on_deletion_protection_without_the_verifier() -> None:
    stack = cdk.Stack(new_app(), "Refused")
    with pytest.raises(EnvelopeConfigError, match=r"deletion_protection=True: deletion protection is switched on by the verifier's handler"):
        EnvelopeEncryptedCluster(stack, "Cluster", verify=False, deletion_protection=True)


# --- props as one object: the same construct from ClusterProps or from keyword arguments -----------------

CUSTOM_PROPS = dict(
    cluster_name=NAME, admin_principal_arns=[ADMIN], public_access_cidrs=["203.0.113.0/24"],
    fargate_namespaces=["serverless", "apps"], kubernetes_version="1.35", nat_gateways=2, ephemeral=True,
    alarm_email="oncall@example.com",
)


def _built(**kwargs: object) -> dict:
    stack = cdk.Stack(new_app(), "EksEnvelope")
    EnvelopeEncryptedCluster(stack, "Cluster", **kwargs)
    return Template.from_stack(stack).to_json()


def test_props_object_builds_the_same_template_as_keyword_arguments(customised: Template) -> None:
    from eks_envelope import ClusterProps, MonitoringOptions, VerifierOptions

    props = dict(CUSTOM_PROPS, verifier_options=VerifierOptions(cloudtrail_check=True),
                 monitoring=MonitoringOptions(schedule=cdk.Duration.minutes(30)), ephemeral=False)
    assert _built(props=ClusterProps(**props)) == _built(**props)
    # ...and an object made of the fixture's props is the fixture's template.
    customised_props = {k: CUSTOM_PROPS[k] for k in ("cluster_name", "admin_principal_arns", "public_access_cidrs",
                                                      "fargate_namespaces", "kubernetes_version", "nat_gateways")}
    assert _built(props=ClusterProps(**customised_props)) == customised.to_json()


def test_the_construct_keeps_the_props_it_was_given_and_decides_retention_once() -> None:
    from aws_cdk import RemovalPolicy

    from eks_envelope import ClusterProps

    props = ClusterProps(ephemeral=True, verify=False, monitor=False)
    stack = cdk.Stack(new_app(), "Ephemeral")
    cluster = EnvelopeEncryptedCluster(stack, "Cluster", props=props)
    assert cluster.props is props
    assert (cluster.retention.key_removal, cluster.retention.log_removal, cluster.retention.deletion_protection) == (
        RemovalPolicy.DESTROY, RemovalPolicy.DESTROY, False)
    kwargs_built = EnvelopeEncryptedCluster(cdk.Stack(new_app(), "Kwargs"), "Cluster", ephemeral=True, verify=False, monitor=False)
    assert kwargs_built.props == props and kwargs_built.retention == cluster.retention


def test_a_strict_verification_schedules_runs_that_are_not_strict() -> None:
    """The one intended payload change of the contract's ScheduledVerification: strict CloudTrail mode is a
    deploy-time stage; the schedule says so instead of passing the verification's "true" through."""
    from eks_envelope import VerifierOptions

    t = Template.from_json(_built(cluster_name=NAME, verifier_options=VerifierOptions(cloudtrail_required=True)))
    (verification,) = t.find_resources("Custom::EnvelopeEncryptionVerification").values()
    assert verification["Properties"]["CloudTrailRequired"] == "true"
    (schedule,) = t.find_resources("AWS::Events::Rule", {"Properties": {"ScheduleExpression": Match.any_value()}}).values()
    # The payload is JSON joined around the cluster's, key's and role's references: read it with those as placeholders.
    parts = schedule["Properties"]["Targets"][0]["Input"]["Fn::Join"][1]
    payload = json.loads("".join(part if isinstance(part, str) else "<ref>" for part in parts))
    assert (payload["CloudTrailRequired"], payload["CloudTrailCheck"], payload["PodCheck"]) == ("false", "false", "false")
    assert payload["ClusterName"] == payload["KeyArn"] == "<ref>" and "RunNonce" not in payload


def test_fails_on_the_renamed_monitoring_prop_with_the_new_name() -> None:
    from aws_cdk import aws_kms as kms

    from eks_envelope import EnvelopeEncryptionMonitoring

    stack = cdk.Stack(new_app(), "Renamed")
    key = kms.Key.from_key_arn(stack, "Key", "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab")
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'verifier_properties'; did you mean 'verification_properties'\?"):
        EnvelopeEncryptionMonitoring(stack, "Monitoring", cluster_name="c", cluster_role_arn=ADMIN, key=key, verifier_properties={})
