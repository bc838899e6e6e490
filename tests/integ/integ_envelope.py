#!/usr/bin/env python3
"""Integration test: the bundled app's stack, deployed for real, checked by integ-tests-alpha assertions.

integ-runner-shaped: run as a script, it synthesizes a cloud assembly with the test case stack
``EksEnvelope-<env>`` (ephemeral, so everything is destroyable) and an assertions stack whose
custom resources call the EKS and CloudFormation APIs after the deploy:

- ``eks:DescribeCluster``: secrets encrypted with the expected key, private endpoint only, all five
  control-plane log types enabled;
- ``cloudformation:DescribeStacks``: the verifier custom resource reported ``Verified`` (output
  ``EnvelopeEncryptionVerified`` is ``"true"``).

Offline, ``tests/integ/test_integ_snapshot.py`` snapshots both templates. With an AWS account,
``make integ-deploy ENV=<name>`` runs a deliberately failing first deploy, then deploys both stacks with
the aws-cdk CLI, reports every assertion, and runs the production teardown; it destroys everything,
also when a step fails (docs/integ.md; it also says why not integ-runner yet).

Context: ``env_name`` (default ``integ``) names the environment; every other key of the bundled
app works too. ``ephemeral`` defaults to on; ``make integ-deploy`` passes ``-c ephemeral=false``.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# Run as a script (`python tests/integ/integ_envelope.py`, as integ-runner and the CLI do): the repo
# root holds `stacks/`, and `constructs/` is a source root (never a package: it would shadow PyPI's).
for _root in (REPO / "constructs", REPO):
    if str(_root) not in sys.path:
        sys.path.insert(0, str(_root))

import aws_cdk as cdk  # noqa: E402
from aws_cdk import integ_tests_alpha as integ  # noqa: E402
from eks_envelope.acknowledgements import guard_suppress  # noqa: E402
from stacks.settings import CONTEXT_KEYS, AppSettings, settings_from_context  # noqa: E402
from stacks.envelope_stack import EnvelopeEksStack  # noqa: E402

DEFAULT_ENV_NAME = "integ"
#: The five EKS control-plane log types, in the order DescribeCluster lists them.
ALL_LOG_TYPES = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
VERIFIED_OUTPUT = "EnvelopeEncryptionVerified"


def integ_settings(app: cdk.App) -> AppSettings:
    """The bundled app's settings from context, named (default env ``integ``), ephemeral by default.

    Only the app's own keys are read: integ-runner adds context keys of its own (e.g. ``default``)
    that the bundled app would refuse as unknown.
    """
    context = {k: v for k, v in app.node.get_all_context().items() if k in CONTEXT_KEYS}
    context.setdefault("env_name", DEFAULT_ENV_NAME)
    # Ephemeral unless the caller asks otherwise: `make integ-deploy` runs in production posture
    # (-c ephemeral=false) to prove the rollback and the production teardown path.
    context.setdefault("ephemeral", True)
    return settings_from_context(context)


def build(app: cdk.App) -> integ.IntegTest:
    """Add the test case stack, the assertions stack and the assertions to ``app``."""
    settings = integ_settings(app)
    stack = EnvelopeEksStack(app, settings.stack_name, settings=settings)
    if stack.envelope.verifier is None:
        raise ValueError("the integration test checks the verifier: do not set context verify=false")

    # Our own assertions stack (not integ-tests' generated name) so `cdk deploy --all` orders it
    # after the cluster and `make integ-deploy` can find its outputs by name.
    assertions_stack = cdk.Stack(
        app, f"{settings.stack_name}-assertions",
        description="Assertions of the eks-envelope integration test (deployed after the test case stack)",
    )
    assertions_stack.add_stack_dependency(stack, "the assertions read the deployed cluster and stack outputs")

    test = integ.IntegTest(
        app,
        "EnvelopeEncryptionInteg",
        test_cases=[stack],
        assertion_stack=assertions_stack,
        # An EKS cluster takes ~15 minutes: deploy once, never the snapshot-then-update workflow.
        stack_update_workflow=False,
        diff_assets=False,
    )

    describe = test.assertions.aws_api_call("EKS", "describeCluster", {"name": settings.cluster_name})
    describe.expect(
        integ.ExpectedResult.object_like(
            {
                "cluster": integ.Match.object_like(
                    {
                        "status": "ACTIVE",
                        "encryptionConfig": [
                            integ.Match.object_like(
                                {"resources": ["secrets"], "provider": {"keyArn": stack.envelope.key_arn}}
                            )
                        ],
                        "resourcesVpcConfig": integ.Match.object_like(
                            {"endpointPublicAccess": False, "endpointPrivateAccess": True}
                        ),
                        "logging": {
                            "clusterLogging": integ.Match.array_with(
                                [integ.Match.object_like({"enabled": True, "types": ALL_LOG_TYPES})]
                            )
                        },
                    }
                )
            }
        )
    )

    stacks = test.assertions.aws_api_call("CloudFormation", "describeStacks", {"StackName": stack.stack_name})
    stacks.expect(
        integ.ExpectedResult.object_like(
            {
                "Stacks": [
                    integ.Match.object_like(
                        {
                            "Outputs": integ.Match.array_with(
                                [integ.Match.object_like({"OutputKey": VERIFIED_OUTPUT, "OutputValue": "true"})]
                            )
                        }
                    )
                ]
            }
        )
    )
    _acknowledge_assertion_handlers(assertions_stack)
    return test


def _acknowledge_assertion_handlers(assertions_stack: cdk.Stack) -> None:
    """integ-tests-alpha's assertion Lambdas run outside any VPC (Control Tower CT.LAMBDA.PR.3)."""
    for node in assertions_stack.node.find_all():
        if isinstance(node, cdk.CfnResource) and node.cfn_resource_type == "AWS::Lambda::Function":
            guard_suppress(
                node,
                "CT.LAMBDA.PR.3",
                "integ-tests-alpha's assertion handler, placed by the framework outside any VPC: it calls only "
                "EKS DescribeCluster and CloudFormation DescribeStacks, and lives only as long as one test run.",
            )


def cdk_json_context() -> dict:
    """cdk.json's context (feature flags included): the same template whether the CLI runs us or not."""
    return json.loads((REPO / "cdk.json").read_text())["context"]


if __name__ == "__main__":
    # Context from the CLI (`-c`, cdk.json) takes precedence over these defaults.
    application = cdk.App(context=cdk_json_context())
    build(application)
    application.synth()
