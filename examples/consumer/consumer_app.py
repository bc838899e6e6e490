"""Compose EnvelopeEncryptedCluster into your own app: your VPC, a key from another stack."""
import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from constructs import Construct
from eks_envelope import EnvelopeEncryptedCluster, VerifierOptions


class SharedKeyStack(cdk.Stack):
    """A platform team's stack that owns the secrets key (rotation on, retained except on a failed first deploy)."""

    def __init__(self, scope: Construct, construct_id: str, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.key = kms.Key(
            self, "EksSecretsKey", enable_key_rotation=True,
            # Kept when the stack is deleted, yet deleted when its first deploy rolls back.
            removal_policy=cdk.RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        )


class TeamClusterStack(cdk.Stack):
    """An application team's cluster in a VPC that already exists."""

    def __init__(self, scope: Construct, construct_id: str, *, key: kms.IKey, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        vpc = ec2.Vpc.from_vpc_attributes(
            self, "ExistingVpc",
            vpc_id="vpc-0123456789abcdef0",
            availability_zones=["eu-west-1a", "eu-west-1b"],
            private_subnet_ids=["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"],
            private_subnet_route_table_ids=["rtb-0aaaaaaaaaaaaaaa1", "rtb-0aaaaaaaaaaaaaaa2"],
            public_subnet_ids=["subnet-0bbbbbbbbbbbbbbb1", "subnet-0bbbbbbbbbbbbbbb2"],
            public_subnet_route_table_ids=["rtb-0bbbbbbbbbbbbbbb1", "rtb-0bbbbbbbbbbbbbbb2"],
        )
        self.envelope = EnvelopeEncryptedCluster(
            self, "Cluster",
            key=key,
            vpc=vpc,
            cluster_name="team-a",
            fargate_namespaces=["team-a", "team-a-jobs"],
            admin_principal_arns=["arn:aws:iam::123456789012:role/TeamAAdmin"],
            verifier_options=VerifierOptions(pod_check=True, cloudtrail_check=True),
        )
        # CDK cannot tag subnets it imports for load balancers; this team's network stack tags them.
        cdk.Annotations.of(self.envelope.cluster).acknowledge_warning(
            "@aws-cdk/aws-eks:clusterMustManuallyTagSubnet",
            "The network team tags these subnets kubernetes.io/role/elb and internal-elb",
        )
        cdk.CfnOutput(self, "Kubeconfig", value=self.envelope.kubeconfig_command)


def build(app: cdk.App) -> list[cdk.Stack]:
    env = cdk.Environment(account="123456789012", region="eu-west-1")
    shared = SharedKeyStack(app, "SharedKey", env=env)
    team = TeamClusterStack(app, "TeamCluster", key=shared.key, env=env)
    return [shared, team]


if __name__ == "__main__":
    app = cdk.App()
    build(app)
    app.synth()
