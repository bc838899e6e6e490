"""Test fixture: clusters as a hurried user would write them with plain aws_eks_v2.

Used by docs/compliance.md's scanner comparison (scripts/compliance_comparison.py) and its test, so the
table shows what each tool reports on real templates rather than what anyone remembers.
"""
from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_kms as kms

#: Stack name -> what is careless about it.
CARELESS_STACKS = {
    "CarelessKeyNoRotation": "aws_eks_v2 defaults + a KMS key without rotation for secrets",
    "CarelessNoCmk": "aws_eks_v2 defaults, no customer managed key",
}


def build_careless_app(app: cdk.App) -> list[cdk.Stack]:
    stacks = []
    for name in CARELESS_STACKS:
        stack = cdk.Stack(app, name)
        key = kms.Key(stack, "SecretsKey", enable_key_rotation=False) if name == "CarelessKeyNoRotation" else None
        cluster = eks.Cluster(stack, "Cluster", version=eks.KubernetesVersion.V1_36, secrets_encryption_key=key)
        cluster.add_fargate_profile("Apps", selectors=[eks.Selector(namespace="apps")])
        stacks.append(stack)
    return stacks
