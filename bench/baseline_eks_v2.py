#!/usr/bin/env python3
"""Baseline (a): a bare aws_eks_v2 cluster on Fargate with secrets encryption and nothing else.

Native AWS::EKS::Cluster, version 1.36, no Auto Mode (default_capacity=0 with NODEGROUP), one KMS
key for secrets, one Fargate profile. No verifier, no compliance packs, no log groups or add-ons.
Synthesized by bench/run_bench.py exactly like app.py (CDK_OUTDIR + CDK_CONTEXT_JSON from cdk.json).
"""
import aws_cdk as cdk
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_kms as kms


class BareEksV2Stack(cdk.Stack):
    def __init__(self, scope: cdk.App, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        key = kms.Key(self, "SecretsKey", enable_key_rotation=True)
        cluster = eks.Cluster(
            self, "Cluster",
            version=eks.KubernetesVersion.V1_36,
            default_capacity=0,
            default_capacity_type=eks.DefaultCapacityType.NODEGROUP,
            secrets_encryption_key=key,
        )
        cluster.add_fargate_profile("Serverless", selectors=[eks.Selector(namespace="serverless")])


def build_app(app: cdk.App) -> cdk.App:
    BareEksV2Stack(app, "BaselineEksV2")
    return app


if __name__ == "__main__":
    build_app(cdk.App()).synth()
