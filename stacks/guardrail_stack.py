"""The app's optional guardrail stacks: an AWS Config rule over every EKS cluster of an account or organization."""
from __future__ import annotations

from typing import Any, Sequence

from aws_cdk import CfnOutput, Stack
from constructs import Construct
from eks_envelope.guardrail import OrganizationSecretsEncryptionGuardrail, SecretsEncryptionGuardrail

#: Stack names, fixed: one guardrail per account (or organization) and region, whatever env_name says.
ACCOUNT_GUARDRAIL_STACK = "EksEnvelope-Guardrail"
ORG_GUARDRAIL_STACK = "EksEnvelope-OrgGuardrail"


class GuardrailStack(Stack):
    """One Config rule: every EKS cluster of this account (or, with ``organization``, of every member account)
    envelope-encrypts with one of ``key_arns``. Deploy the organization one from the management account or the
    AWS Config delegated administrator (docs/guardrail.md)."""

    def __init__(self, scope: Construct, construct_id: str, *, key_arns: Sequence[str], organization: bool,
                 **kwargs: Any) -> None:
        level = "organization" if organization else "account"
        super().__init__(scope, construct_id, description=f"eks-envelope guardrail: every EKS cluster of this {level} "
                                                          "on an approved customer managed key (AWS Config)", **kwargs)
        guardrail_type = OrganizationSecretsEncryptionGuardrail if organization else SecretsEncryptionGuardrail
        self.guardrail = guardrail_type(self, "Guardrail", key_arns=list(key_arns))
        CfnOutput(self, "ApprovedKeyArns", value=",".join(key_arns), description="kmsKeyArns of the Config rule")
