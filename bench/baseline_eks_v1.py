#!/usr/bin/env python3
"""Baseline (b): an aws_eks (v1) FargateCluster with a kubectl layer, the design this package avoids.

FargateCluster 1.36 with aws-cdk.lambda-layer-kubectl-v36 (pinned in bench/requirements.txt), and
the same secrets KMS key as baseline (a). v1 brings the kubectl provider (nested stacks, Lambdas,
a state machine) and the cluster-resource provider; nothing else is added here.
"""
import aws_cdk as cdk
from aws_cdk import aws_eks as eks
from aws_cdk import aws_kms as kms
from aws_cdk.lambda_layer_kubectl_v36 import KubectlV36Layer


class FargateEksV1Stack(cdk.Stack):
    def __init__(self, scope: cdk.App, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        key = kms.Key(self, "SecretsKey", enable_key_rotation=True)
        eks.FargateCluster(
            self, "Cluster",
            version=eks.KubernetesVersion.V1_36,
            kubectl_layer=KubectlV36Layer(self, "KubectlLayer"),
            secrets_encryption_key=key,
        )


def build_app(app: cdk.App) -> cdk.App:
    FargateEksV1Stack(app, "BaselineEksV1")
    return app


if __name__ == "__main__":
    build_app(cdk.App()).synth()
