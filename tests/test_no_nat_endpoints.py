"""A new VPC without NAT gateways gets the VPC endpoints Fargate and the verifier need, or is refused.

Without NAT and without endpoints, CoreDNS (and every pod) on Fargate cannot pull its image, and the
verifier in the private subnets cannot reach EKS or KMS: the deploy hangs or the cluster never serves.
"""
from __future__ import annotations

import json

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from eks_envelope import EnvelopeConfigError, EnvelopeEncryptedCluster, VerifierOptions
from tests.helpers import construct_template, new_app

PRIVATE_IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/busybox:stable"
FARGATE_SERVICES = {"ecr.api", "ecr.dkr", "sts", "logs"}
VERIFIER_SERVICES = {"eks", "kms", "lambda", "cloudformation"}


def _interface_services(template: Template) -> set[str]:
    found = set()
    for endpoint in template.find_resources("AWS::EC2::VPCEndpoint").values():
        props = endpoint["Properties"]
        if props.get("VpcEndpointType") == "Interface":
            name = props["ServiceName"]
            found.add(name["Fn::Join"][1][-1].lstrip(".") if isinstance(name, dict) else name.split(".", 3)[-1])
    return found


def _gateway_endpoints(template: Template) -> list[dict]:
    return [e for e in template.find_resources("AWS::EC2::VPCEndpoint").values()
            if e["Properties"].get("VpcEndpointType") == "Gateway"]


@pytest.fixture(scope="module")
def without_verifier() -> Template:
    return construct_template(cluster_name="eks-envelope", nat_gateways=0, verify=False)


@pytest.fixture(scope="module")
def with_verifier() -> Template:
    stack = cdk.Stack(new_app(), "EksEnvelope")
    EnvelopeEncryptedCluster(stack, "Cluster", cluster_name="eks-envelope", nat_gateways=0,
                             verifier_options=VerifierOptions(pod_image=PRIVATE_IMAGE, cloudtrail_check=True))
    return Template.from_stack(stack)


def test_no_nat_without_verifier_has_what_fargate_pulls_images_through(without_verifier: Template) -> None:
    assert _interface_services(without_verifier) == FARGATE_SERVICES
    (s3,) = _gateway_endpoints(without_verifier)
    assert "s3" in json.dumps(s3["Properties"]["ServiceName"])
    without_verifier.resource_count_is("AWS::EC2::NatGateway", 0)


def test_endpoints_accept_https_from_the_vpc_only(without_verifier: Template) -> None:
    groups = without_verifier.find_resources("AWS::EC2::SecurityGroup", {"Properties": {
        "GroupDescription": "VPC interface endpoints: HTTPS from this VPC only"}})
    (group,) = groups.values()
    (ingress,) = group["Properties"]["SecurityGroupIngress"]
    assert (ingress["IpProtocol"], ingress["FromPort"], ingress["ToPort"]) == ("tcp", 443, 443)
    (vpc,) = without_verifier.find_resources("AWS::EC2::VPC").values()
    assert ingress["CidrIp"] == vpc["Properties"]["CidrBlock"] == "10.0.0.0/16"
    egress = group["Properties"]["SecurityGroupEgress"]
    assert all(rule["CidrIp"] == "255.255.255.255/32" for rule in egress), "no egress from the endpoints"
    for endpoint in without_verifier.find_resources("AWS::EC2::VPCEndpoint").values():
        if endpoint["Properties"]["VpcEndpointType"] == "Interface":
            assert endpoint["Properties"]["PrivateDnsEnabled"] is True
            assert len(endpoint["Properties"]["SecurityGroupIds"]) == 1


def test_no_nat_with_the_verifier_deploys_with_its_endpoints(with_verifier: Template) -> None:
    # The scheduled verification (hourly by default) publishes to CloudWatch; CloudTrail is checked on deploy.
    assert _interface_services(with_verifier) == FARGATE_SERVICES | VERIFIER_SERVICES | {"monitoring", "cloudtrail"}


def test_with_nat_gateways_no_endpoint_is_added() -> None:
    construct_template(cluster_name="eks-envelope").resource_count_is("AWS::EC2::VPCEndpoint", 0)


def test_fails_on_no_nat_with_a_canary_image_from_the_internet() -> None:
    with pytest.raises(EnvelopeConfigError, match=r"nat_gateways=0: .*public.ecr.aws.*cannot be pulled.*pod_image.*pod_check=False"):
        EnvelopeEncryptedCluster(cdk.Stack(new_app(), "S"), "Cluster", nat_gateways=0)


def test_no_nat_with_pod_check_off_needs_no_private_image() -> None:
    stack = cdk.Stack(new_app(), "S")
    EnvelopeEncryptedCluster(stack, "Cluster", nat_gateways=0, verifier_options=VerifierOptions(pod_check=False),
                             monitor=False)
    # No schedule and no CloudTrail stage: neither the metrics nor the CloudTrail endpoint is paid for.
    assert _interface_services(Template.from_stack(stack)) == FARGATE_SERVICES | VERIFIER_SERVICES


def test_the_app_without_nat_passes_every_compliance_pack() -> None:
    """The app's packs run at synth and fail it on any finding; the endpoints' rule names the CIDR as a literal,
    which cdk-nag can evaluate (a GetAtt made its security-group rules error out)."""
    from tests.helpers import synth_bundled_app

    (stack,) = synth_bundled_app(nat_gateways="0", verify_pod="false").stacks
    services = _interface_services(Template.from_json(stack.template))
    assert FARGATE_SERVICES | VERIFIER_SERVICES <= services
