"""The wire contract: one module both sides import, stdlib only, and every message names property, value and fix."""
from __future__ import annotations

import ast
import sys

import pytest

from tests.helpers import REPO
from verifier import contract
from verifier.contract import (
    AssociationProperties,
    PropertyError,
    ProtectionProperties,
    ScheduledVerification,
    VerificationProperties,
)

CONTRACT = REPO / "lambda" / "verifier" / "contract.py"
VERIFICATION = VerificationProperties("blue", "arn:aws:kms:eu-west-1:111122223333:key/k", "arn:aws:iam::111122223333:role/r",
                                      cloudtrail_check=True, cloudtrail_required=True, run_nonce="2026-12-02T00:00:00",
                                      metric_namespace="Team/Eks")


def test_the_library_imports_the_handlers_file() -> None:
    import eks_envelope.contract as library_side

    assert sys.modules["eks_envelope._handler.verifier.contract"].__file__ == str(CONTRACT)
    assert library_side.VerificationProperties.__module__ == "eks_envelope._handler.verifier.contract"
    assert set(contract.__all__) <= set(dir(library_side))


def test_the_contract_is_stdlib_only() -> None:
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    for node in ast.walk(ast.parse(CONTRACT.read_text())):
        if isinstance(node, ast.Import):
            assert {a.name.split(".")[0] for a in node.names} <= stdlib
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 1 and node.module == "text" if node.level else node.module.split(".")[0] in stdlib


@pytest.mark.parametrize("value", [
    VERIFICATION,
    VerificationProperties("c", "k", "r"),
    VerificationProperties("c", "k", "r", pod_check=False, pod_timeout_seconds=42.5, cloudtrail_wait_seconds=0),
])
def test_verification_round_trips(value: VerificationProperties) -> None:
    wire = value.to_properties()
    assert all(isinstance(v, str) for v in wire.values())
    assert VerificationProperties.from_properties(wire) == value


def test_every_value_travels_as_the_string_cloudformation_passes() -> None:
    wire = VERIFICATION.to_properties()
    assert wire["PodCheck"] == "true" and wire["CloudTrailRequired"] == "true" and wire["PodTimeoutSeconds"] == "300"
    assert wire["RunNonce"] == "2026-12-02T00:00:00" and wire["MetricNamespace"] == "Team/Eks"
    assert "RunNonce" not in VerificationProperties("c", "k", "r").to_properties()


def test_the_scheduled_payload_says_what_a_scheduled_run_does() -> None:
    scheduled = ScheduledVerification(VERIFICATION, secret_check=False, lookback_hours=6, metric_namespace="Team/Eks")
    event = scheduled.to_event()
    assert "RequestType" not in event and ScheduledVerification.is_scheduled(event)
    assert (event["PodCheck"], event["CloudTrailCheck"], event["CloudTrailRequired"]) == ("false", "false", "false")
    assert "RunNonce" not in event and event["LookbackHours"] == "6" and event["SecretCheck"] == "false"
    assert ScheduledVerification.from_event(event) == scheduled


def test_protection_and_association_round_trip() -> None:
    for value in (ProtectionProperties("blue", True), ProtectionProperties("blue", False)):
        assert ProtectionProperties.from_properties(value.to_properties()) == value
    for value in (AssociationProperties("blue", "k"), AssociationProperties("blue", "k", ("secrets", "apps/v1/deployments"), True, 50)):
        assert AssociationProperties.from_properties(value.to_properties()) == value
    # what an older construct sent: no ReencryptKinds, no Complete
    assert AssociationProperties.from_properties({"ClusterName": "blue", "KeyArn": "k"}) == AssociationProperties("blue", "k")


@pytest.mark.parametrize("change, words", [
    ({"ClusterName": ""}, ["Property ClusterName is missing or empty", "matching eks-envelope version"]),
    ({"PodCheck": "yes"}, ["Property PodCheck is 'yes'", 'expected "true" or "false"', "Fix the value"]),
    ({"PodTimeoutSeconds": "9"}, ["Property PodTimeoutSeconds is '9'", "between 10 and 780"]),
    ({"CloudTrailWaitSeconds": "soon"}, ["Property CloudTrailWaitSeconds is 'soon'", "between 0 and 600"]),
    ({"MetricNamespace": "AWS/EKS"}, ["Property MetricNamespace is 'AWS/EKS'", "not starting with 'AWS/'", "Fix MonitoringOptions.metric_namespace"]),
    ({"KeyArn": {"Ref": "Key"}}, ["Property KeyArn is missing or empty"]),
])
def test_verification_refusals_name_property_value_and_fix(change: dict, words: list[str]) -> None:
    with pytest.raises(PropertyError) as err:
        VerificationProperties.from_properties({**VERIFICATION.to_properties(), **change})
    for word in words:
        assert word in str(err.value)


@pytest.mark.parametrize("parse, raw, words", [
    (VerificationProperties.from_properties, None, ["ResourceProperties is missing or not an object"]),
    (ProtectionProperties.from_properties, {"ClusterName": "blue", "Protect": "maybe"}, ["Property Protect is 'maybe'"]),
    (AssociationProperties.from_properties, {"ClusterName": "blue", "KeyArn": "k", "PageSize": "0"}, ["Property PageSize is '0'", "from 1 to 1000"]),
    (ScheduledVerification.from_event, {"ClusterName": "blue"}, ["no 'eks-envelope': 'scheduled-verification' marker"]),
    (ScheduledVerification.from_event, {**ScheduledVerification(VERIFICATION).to_event(), "LookbackHours": "169"},
     ["Property LookbackHours is '169'", "from 1 to 168", "Fix MonitoringOptions.lookback"]),
])
def test_other_refusals(parse, raw, words: list[str]) -> None:
    with pytest.raises(PropertyError) as err:
        parse(raw)
    for word in words:
        assert word in str(err.value)


def test_a_hostile_value_is_shown_scrubbed_and_bounded() -> None:
    with pytest.raises(PropertyError) as err:
        VerificationProperties.from_properties({**VERIFICATION.to_properties(), "PodCheck": "<script>\x00" + "x" * 500})
    assert "<script>" not in str(err.value) and "\x00" not in str(err.value) and len(str(err.value)) < 200


# --- the answers: what each resource returns in Data, and what the constructs read back -----------------------------

@pytest.mark.parametrize("answer", [
    contract.VerificationData("arn:aws:kms:eu-west-1:111122223333:key/k", "{}"),
    contract.ProtectionData(protected=False),
    contract.AssociationData("arn:aws:kms:eu-west-1:111122223333:key/k", "u1", "ASSOCIATING", "", "wait"),
])
def test_an_answer_carries_exactly_its_attributes_as_strings(answer) -> None:
    data = answer.to_data()
    assert list(data) == list(answer.ATTRIBUTES)
    assert all(isinstance(v, str) for v in data.values())


def test_the_constructs_read_only_attributes_the_handler_answers() -> None:
    """GetAtt names are wire names too: each ``get_att_string("<name>")`` of the library names an attribute of an answer."""
    answered = {*contract.VerificationData.ATTRIBUTES, *contract.ProtectionData.ATTRIBUTES, *contract.AssociationData.ATTRIBUTES}
    read = set()
    for module in (REPO / "constructs" / "eks_envelope").rglob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get_att_string"
                    and node.args and isinstance(node.args[0], ast.Constant)):
                read.add(node.args[0].value)
    assert {"Verified", "Summary", "Protected", "Status", "UpdateId", "Next", "Reencrypted"} <= read  # the walk sees them
    assert read <= answered, read - answered
