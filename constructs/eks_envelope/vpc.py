"""The VPC EnvelopeEncryptedCluster creates when none is given, and CDK's default-SG provider placed inside it."""
from __future__ import annotations

from typing import Sequence

from aws_cdk import Aws, CfnResource, Fn, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from .acknowledgements import acknowledge_each, checkov_skip, guard_suppress


#: What a private subnet without NAT needs to reach, by whom (interface endpoints; S3 is a free gateway endpoint).
#: Fargate pulls images from ECR (api + dkr, layers from S3), its pods assume IRSA roles through STS and
#: ship logs to CloudWatch Logs. The verifier's Lambdas and the Provider framework beside them call the
#: services in lambda/verifier (clients.py, protection.py, scheduled.py) and Lambda itself (the framework
#: invokes the handler).
FARGATE_ENDPOINTS = ("ECR", "ECR_DOCKER", "STS", "CLOUDWATCH_LOGS")
VERIFIER_ENDPOINTS = ("EKS", "KMS", "LAMBDA_", "CLOUDFORMATION")
#: Scheduled verification publishes its metric (PutMetricData) and looks back in CloudTrail.
SCHEDULED_ENDPOINTS = ("CLOUDWATCH_MONITORING", "CLOUDTRAIL")
#: The deploy-time CloudTrail stage.
CLOUDTRAIL_ENDPOINTS = ("CLOUDTRAIL",)


#: The new VPC's address range (CDK's default, stated so rules can name it as a literal: cdk-nag cannot
#: evaluate a security group rule whose CIDR is a GetAtt).
VPC_CIDR = "10.0.0.0/16"


def endpoints_without_nat(*, verify: bool, cloudtrail_check: bool, scheduled: bool) -> tuple[str, ...]:
    """The ``InterfaceVpcEndpointAwsService`` names a VPC without NAT needs for this configuration, in order."""
    wanted = list(FARGATE_ENDPOINTS)
    if verify:
        wanted += VERIFIER_ENDPOINTS
        if scheduled:
            wanted += SCHEDULED_ENDPOINTS
        if cloudtrail_check:
            wanted += CLOUDTRAIL_ENDPOINTS
    return tuple(dict.fromkeys(wanted))


def new_vpc(
    scope: Construct,
    max_azs: int,
    availability_zones: Sequence[str] | None,
    nat_gateways: int,
    logs_key: kms.IKey,
    retention: logs.RetentionDays,
    removal: RemovalPolicy,
    endpoints: Sequence[str] = (),
) -> ec2.Vpc:
    """The construct's own VPC: public subnets for the NAT gateways only, private ones for everything else,
    flow logs to a log group under ``logs_key``, and CDK's default-security-group provider inside it.
    With ``endpoints`` (names of ``InterfaceVpcEndpointAwsService``, for a VPC without NAT): those
    interface endpoints in the private subnets and an S3 gateway endpoint (docs/cost.md: each interface
    endpoint is billed per AZ-hour).

    Its ids (``Vpc``, ``FlowLogs``, ``FlowLogRole``, ``FlowLogPolicy``, ``EndpointSecurityGroup``) are
    created directly in ``scope``.
    """
    vpc = ec2.Vpc(
        scope,
        "Vpc",
        ip_addresses=ec2.IpAddresses.cidr(VPC_CIDR),
        max_azs=None if availability_zones else max_azs,
        availability_zones=list(availability_zones) if availability_zones else None,
        nat_gateways=nat_gateways,
        subnet_configuration=[
            # Public subnets hold the NAT gateways (with their own Elastic IPs): nothing placed
            # there gets a public address by accident.
            ec2.SubnetConfiguration(
                name="Public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24, map_public_ip_on_launch=False
            ),
            ec2.SubnetConfiguration(
                name="Private", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=19
            ),
        ],
    )
    if endpoints:
        _add_endpoints(scope, vpc, endpoints)
    _default_sg_provider_into_vpc(scope, vpc)
    for subnet in vpc.public_subnets:
        acknowledge_each(subnet.node.find_child("DefaultRoute"), {
            f"{pack}-VPCNoUnrestrictedRouteToIGW":
                "The public subnets exist for the NAT gateway's route to the internet; workloads and the "
                "API endpoint sit in private subnets, which route to the NAT gateway, never to the IGW."
            for pack in ("HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321")
        })
    flow_log_group = logs.LogGroup(
        scope, "FlowLogs", retention=retention, encryption_key=logs_key, removal_policy=removal
    )
    # Confused-deputy protection: only this account's flow logs may assume the role.
    flow_log_role = iam.Role(
        scope,
        "FlowLogRole",
        assumed_by=iam.ServicePrincipal(
            "vpc-flow-logs.amazonaws.com",
            conditions={
                "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                "ArnLike": {"aws:SourceArn": f"arn:{Aws.PARTITION}:ec2:{Aws.REGION}:{Aws.ACCOUNT_ID}:vpc-flow-log/*"},
            },
        ),
    )
    iam.ManagedPolicy(
        scope,
        "FlowLogPolicy",
        roles=[flow_log_role],
        statements=[
            iam.PolicyStatement(
                actions=[
                    "logs:CreateLogStream",
                    "logs:PutLogEvents",
                    "logs:DescribeLogGroups",
                    "logs:DescribeLogStreams",
                ],
                resources=[flow_log_group.log_group_arn],
            )
        ],
    )
    vpc.add_flow_log(
        "FlowLog",
        # Immutable: CDK would otherwise add an inline policy next to the managed one.
        destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_log_group, flow_log_role.without_policy_updates()),
    )
    return vpc


def _add_endpoints(scope: Construct, vpc: ec2.Vpc, services: Sequence[str]) -> None:
    """Interface endpoints behind one security group (HTTPS from the VPC only, no egress), plus S3 as a gateway."""
    private = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)
    # ECR serves image layers from S3: a gateway endpoint, free, on the private route tables.
    vpc.add_gateway_endpoint("S3Endpoint", service=ec2.GatewayVpcEndpointAwsService.S3, subnets=[private])
    group = ec2.SecurityGroup(
        scope, "EndpointSecurityGroup", vpc=vpc, allow_all_outbound=False,
        description="VPC interface endpoints: HTTPS from this VPC only",
    )
    group.add_ingress_rule(ec2.Peer.ipv4(VPC_CIDR), ec2.Port.tcp(443), "HTTPS from this VPC to the AWS API endpoints")
    for name in services:
        vpc.add_interface_endpoint(
            "".join(part.capitalize() for part in name.strip("_").split("_")) + "Endpoint",
            service=getattr(ec2.InterfaceVpcEndpointAwsService, name),
            subnets=private,
            security_groups=[group],
            private_dns_enabled=True,
            open=False,
        )


def _default_sg_provider_into_vpc(scope: Construct, vpc: ec2.Vpc) -> None:
    """Run CDK's provider that strips the VPC default security group's rules inside the VPC.

    The provider (a stack singleton, created by ``restrictDefaultSecurityGroup``) is a Lambda outside
    any VPC, which Control Tower's CT.LAMBDA.PR.3 refuses at deploy. Inside the VPC it needs: the
    managed policy for its network interfaces, a security group of its own (the default one is the
    group it closes), and the private subnets' routes to the NAT gateway before it runs, since it
    calls the EC2 API. Without NAT gateways it stays outside (acknowledged): nothing inside could reach EC2.
    """
    provider = Stack.of(scope).node.try_find_child("Custom::VpcRestrictDefaultSGCustomResourceProvider")
    if provider is None:
        return
    handler: CfnResource = provider.node.find_child("Handler")  # type: ignore[assignment]
    routes = [
        route for subnet in vpc.private_subnets
        if isinstance(route := subnet.node.try_find_child("DefaultRoute"), ec2.CfnRoute)
    ]
    # The first VPC of the stack with NAT routes gets the provider; it serves the stack's other VPCs from there.
    if routes and provider.node.try_find_child("SecurityGroup") is None:
        security_group = ec2.SecurityGroup(
            provider,
            "SecurityGroup",
            vpc=vpc,
            description="Default security group provider of CDK: HTTPS to the EC2 API",
            allow_all_outbound=False,
        )
        security_group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "EC2 API through the NAT gateway")
        handler.add_property_override("VpcConfig", {
            "SubnetIds": [subnet.subnet_id for subnet in vpc.private_subnets],
            "SecurityGroupIds": [security_group.security_group_id],
        })
        # The VPC-access policy also grants the logging the basic execution role gave.
        provider.node.find_child("Role").add_property_override(  # type: ignore[attr-defined]
            "ManagedPolicyArns",
            [Fn.sub("arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole")],
        )
        handler.node.add_dependency(*routes)
    elif provider.node.try_find_child("SecurityGroup") is None:
        outside = (
            "This VPC has no NAT gateway (nat_gateways=0), so from its private subnets CDK's provider could not "
            "reach the EC2 API to close the default security group; it runs outside the VPC instead."
        )
        guard_suppress(handler, "CT.LAMBDA.PR.3", outside)
        checkov_skip(handler, "CKV_AWS_117", outside)
    for check_id, reason in (
        ("CKV_AWS_115", "CDK's provider that closes the VPC default security group runs only during deploys, "
                        "invoked by CloudFormation; there is no load for a concurrency limit to cap."),
        ("CKV_AWS_116", "CDK's default-security-group provider is invoked only by CloudFormation, which records "
                        "every failure; a dead-letter queue would have no consumer."),
    ):
        checkov_skip(handler, check_id, reason)
