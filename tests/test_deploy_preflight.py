"""`make deploy`'s preflight: a stack that a failed first deploy left behind never blocks the redeploy.

The CDK CLI turns termination protection on before it executes a new stack's first change set, so a
failed first deploy of a production stack leaves it ROLLBACK_COMPLETE *and* protected; the next
`cdk deploy` must delete it first and cannot. The preflight lifts protection on exactly those stacks.
"""
from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from eks_envelope.workstation import WorkstationError, release_failed_stacks, stack_names
from tests.helpers import synth_bundled_app


def _stack(name: str, status: str, protected: bool) -> dict:
    return {"StackName": name, "StackId": f"arn:aws:cloudformation:eu-west-1:123456789012:stack/{name}/1",
            "CreationTime": "2026-11-28T08:00:00Z", "StackStatus": status, "EnableTerminationProtection": protected}


@pytest.fixture
def cloudformation():
    client = boto3.client("cloudformation", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def test_lifts_protection_of_a_failed_first_deploy(cloudformation) -> None:
    client, stubber = cloudformation
    stubber.add_response("describe_stacks", {"Stacks": [_stack("EksEnvelope", "ROLLBACK_COMPLETE", True)]},
                         {"StackName": "EksEnvelope"})
    stubber.add_response("update_termination_protection", {"StackId": "x"},
                         {"StackName": "EksEnvelope", "EnableTerminationProtection": False})
    assert release_failed_stacks(["EksEnvelope"], client) == ["EksEnvelope"]


@pytest.mark.parametrize(("status", "protected"), [
    ("CREATE_COMPLETE", True), ("UPDATE_ROLLBACK_COMPLETE", True), ("DELETE_FAILED", True), ("ROLLBACK_FAILED", True),
    ("ROLLBACK_COMPLETE", False),
])
def test_leaves_every_other_stack_alone(cloudformation, status: str, protected: bool) -> None:
    client, stubber = cloudformation
    stubber.add_response("describe_stacks", {"Stacks": [_stack("EksEnvelope", status, protected)]},
                         {"StackName": "EksEnvelope"})
    assert release_failed_stacks(["EksEnvelope"], client) == []


def test_a_stack_not_yet_deployed_is_skipped(cloudformation) -> None:
    client, stubber = cloudformation
    stubber.add_client_error("describe_stacks", "ValidationError", "Stack with id EksEnvelope does not exist")
    assert release_failed_stacks(["EksEnvelope"], client) == []


def test_fails_with_one_line_when_the_stack_cannot_be_read(cloudformation) -> None:
    client, stubber = cloudformation
    stubber.add_client_error("describe_stacks", "AccessDenied", "not authorized to perform cloudformation:DescribeStacks")
    with pytest.raises(WorkstationError, match="cannot read stack EksEnvelope: not authorized"):
        release_failed_stacks(["EksEnvelope"], client)


def test_stack_names_come_from_the_synthesized_assembly() -> None:
    assembly = synth_bundled_app(env_name="pr-9")
    assert stack_names(str(Path(assembly.directory))) == ["EksEnvelope-pr-9"]
