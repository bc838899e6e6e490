"""Which role deploys a stack: the CloudFormation execution role of its synthesizer's CDK bootstrap.

The secrets key's policy lets that role create the cluster role's grant through EKS, and the key lock
exempts it. The role must be the one CloudFormation really runs as, or none: KMS refuses a key policy
that names a role which does not exist (someone else's ``cdk-hnb659fds-...`` in an account bootstrapped
with another qualifier).
"""
from __future__ import annotations

import tempfile

from aws_cdk import Annotations, App, BootstraplessSynthesizer, DefaultStackSynthesizer, Fn, NestedStack, Stack, Token
from aws_cdk import aws_iam as iam
from constructs import Construct

#: What aws-cdk-lib raises when Python reads a synthesizer the user built (see :func:`deploy_role_arn`).
_UNBOUND_SYNTHESIZER = "CloudFormationExecutionRoleArnGetterOnlyCalled"


def deploy_role_arn(stack: Stack) -> str | None:
    """The CloudFormation execution role the stack's synthesizer hands the CLI, as CDK writes it
    (``arn:${AWS::Partition}:iam::<account>:role/cdk-<qualifier>-cfn-exec-role-<account>-<region>``,
    account and region placeholders where the stack is environment-agnostic); None when the
    synthesizer has no such role (the CLI's own credentials deploy).

    - ``LegacyStackSynthesizer``, ``CliCredentialsStackSynthesizer``: None;
    - a nested stack: its parent's;
    - a ``DefaultStackSynthesizer`` CDK created itself (the app default, a qualifier from the
      ``@aws-cdk/core:bootstrapQualifier`` context): its own ARN, custom role included;
    - a ``DefaultStackSynthesizer`` object built in Python (``Stack(synthesizer=...)`` or the App's
      ``default_stack_synthesizer``): jsii hands back that object, not the copy CDK bound to the stack,
      and its role getter raises. Its qualifier is read through a nested stack of a scratch stack
      bound to the same object (nothing synthesized, nothing added to the user's app), and the role
      is the bootstrap's own for that qualifier. A ``cloud_formation_execution_role`` given to such an
      object cannot be read: the construct warns, and ``deploy_principal`` names it;
    - a ``BootstraplessSynthesizer`` built in Python: None (its role, if any, cannot be read; guessing
      one of a bootstrap the account may not have would make KMS refuse the key policy).
    """
    parent = stack.nested_stack_parent
    if parent is not None:
        return deploy_role_arn(parent)
    synthesizer = stack.synthesizer
    if not isinstance(synthesizer, DefaultStackSynthesizer):
        return None
    try:
        return synthesizer.cloud_formation_execution_role_arn
    except RuntimeError as err:
        if _UNBOUND_SYNTHESIZER not in str(err):
            raise
    if isinstance(synthesizer, BootstraplessSynthesizer):
        return None
    qualifier = _qualifier_of(stack, synthesizer)
    arn = DefaultStackSynthesizer.DEFAULT_CLOUDFORMATION_ROLE_ARN.replace("${Qualifier}", qualifier)
    # Specialised as CDK's StringSpecializer does: concrete account and region where the stack has them.
    if not Token.is_unresolved(stack.account):
        arn = arn.replace("${AWS::AccountId}", stack.account)
    if not Token.is_unresolved(stack.region):
        arn = arn.replace("${AWS::Region}", stack.region)
    return arn


def _qualifier_of(stack: Stack, synthesizer: DefaultStackSynthesizer) -> str:
    """The bootstrap qualifier of a synthesizer object jsii cannot show bound (see :func:`deploy_role_arn`).

    A nested stack's synthesizer is created by CDK and forwards ``bootstrap_qualifier`` to the bound copy
    of its parent's. The parent is a probe stack beside the user's (so the qualifier context CDK reads is
    the same), bound to the same object and removed again at once: never synthesized, nothing left behind.
    """
    owner = stack.node.scope
    with tempfile.TemporaryDirectory(prefix="eks-envelope-qualifier-") as outdir:
        if owner is None:  # a stack without an app: no context to inherit
            owner = App(outdir=outdir)
        probe_id = "EksEnvelopeQualifierProbe"
        while owner.node.try_find_child(probe_id) is not None:
            probe_id += "X"
        probe = Stack(owner, probe_id, synthesizer=synthesizer)
        try:
            qualifier = NestedStack(probe, "Nested").synthesizer.bootstrap_qualifier
        finally:
            owner.node.try_remove_child(probe_id)
    return qualifier or DefaultStackSynthesizer.DEFAULT_QUALIFIER


def default_deploy_principal(scope: Construct) -> iam.IPrincipal | None:
    """The CDK bootstrap CloudFormation execution role: the principal that calls eks:CreateCluster."""
    stack = Stack.of(scope)
    arn = deploy_role_arn(stack)
    if arn is None:
        if _synthesizer_unreadable(stack):
            Annotations.of(scope).add_warning_v2(
                "eks-envelope:no-deploy-role",
                "This stack's BootstraplessSynthesizer cannot be read through jsii: the key policy names no deploying "
                "principal, which then needs kms:CreateGrant on the key through IAM. Pass deploy_principal to name it.",
            )
        return None
    if _synthesizer_unreadable(stack):
        Annotations.of(scope).add_warning_v2(
            "eks-envelope:deploy-role-from-qualifier",
            f"The key policy lets {arn} (the bootstrap role of this stack's synthesizer qualifier) create the cluster's "
            "grant. A cloud_formation_execution_role set on a synthesizer object built in Python cannot be read "
            "through jsii: if you set one, pass it as deploy_principal.",
        )
    # "arn:${AWS::Partition}:iam::...": substitute the placeholders CDK leaves for the CLI.
    return iam.ArnPrincipal(Fn.sub(arn) if "${" in arn else arn)


def _synthesizer_unreadable(stack: Stack) -> bool:
    while stack.nested_stack_parent is not None:
        stack = stack.nested_stack_parent
    if not isinstance(stack.synthesizer, DefaultStackSynthesizer):
        return False
    try:
        stack.synthesizer.cloud_formation_execution_role_arn  # type: ignore[attr-defined]
    except RuntimeError:
        return True
    return False
