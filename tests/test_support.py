"""The EKS version calendar as data: judged on injected days, never on the day the suite runs."""
from __future__ import annotations

import datetime
import re

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Annotations, Match

from eks_envelope import EnvelopeEncryptedCluster
from eks_envelope.cluster import DEFAULT_KUBERNETES_VERSION
from eks_envelope.facts import EKS_RELEASES, TODAY_ENV, last_checked, today
from eks_envelope.support import (
    CDK_KNOWN_VERSIONS,
    cdk_names,
    in_standard_support,
    standard_support_versions,
    support_warning,
    version_problem,
)
from tests.helpers import new_app

D = datetime.date


def test_support_ends_on_the_listed_day() -> None:
    assert in_standard_support("1.34", D(2026, 12, 2))
    assert not in_standard_support("1.34", D(2026, 12, 3))
    assert not in_standard_support("1.27", D(2020, 1, 1)), "unlisted means not known to be supported"


def test_default_version_is_in_standard_support_on_the_day_the_facts_were_checked() -> None:
    assert in_standard_support(DEFAULT_KUBERNETES_VERSION, last_checked())
    assert cdk_names(DEFAULT_KUBERNETES_VERSION), "the default must be one aws-cdk-lib names"
    newest_cdk_names = [v for v in standard_support_versions(last_checked()) if cdk_names(v)][-1]
    assert newest_cdk_names == DEFAULT_KUBERNETES_VERSION


def test_calendar_is_ordered_and_consistent() -> None:
    versions = [tuple(int(p) for p in r.version.split(".")) for r in EKS_RELEASES]
    assert versions == sorted(versions) and len(set(versions)) == len(versions)
    for row in EKS_RELEASES:
        assert row.end_of_standard_support < row.end_of_extended_support, row
        assert row.source.startswith("https://") and row.checked <= last_checked(), row
        if row.eks_release:
            assert row.eks_release < row.end_of_standard_support, row


@pytest.mark.parametrize(
    ("version", "on", "expected"),
    [
        pytest.param("1.36", D(2026, 12, 2), None, id="in-standard-support"),
        pytest.param("1.34", D(2026, 12, 3), r"1\.34 left EKS standard support on 2026-12-02.*Plan an upgrade to 1\.37", id="day-after"),
        pytest.param("1.30", D(2026, 12, 2), r"EKS no longer offers Kubernetes 1\.30 \(extended support ended on 2026-07-23\)", id="past-extended"),
        pytest.param("1.36", D(2027, 12, 2), r"1\.36 left EKS standard support on 2027-08-02.*Check `aws eks describe-cluster-versions`", id="calendar-outrun"),
        pytest.param("1.99", D(2026, 12, 2), r"1\.99 is not in this package's EKS calendar.*reports EKS's own dates", id="unlisted-newer"),
    ],
)
def test_support_warning_on_a_given_day(version: str, on: datetime.date, expected: str | None) -> None:
    warning = support_warning(version, "STANDARD", on)
    if expected is None:
        assert warning is None
    else:
        assert warning is not None
        assert re.search(expected, warning), warning
        assert f"upgrade to {version}." not in warning, "never suggest the version warned about"


def test_no_day_in_the_next_two_years_suggests_the_version_it_warns_about() -> None:
    start = last_checked()
    for offset in range(0, 730, 7):
        on = start + datetime.timedelta(days=offset)
        for row in EKS_RELEASES:
            warning = support_warning(row.version, "EXTENDED", on) or ""
            assert f"upgrade to {row.version}." not in warning, (on, warning)


@pytest.mark.parametrize("version", ["1.28", "1.36", "1.37", "1.40"])
def test_any_minor_from_1_28_up_is_a_version(version: str) -> None:
    assert version_problem(version) is None


@pytest.mark.parametrize(
    ("value", "fix"),
    [
        ("1.27", "use 1.28 or newer"),
        ("v1.37", "write it as '1.37'"),
        ("1,35", "write it as '1.35'"),
        ("1.36-eks-3", "write it as '1.36'"),
        ("2.0", "a Kubernetes minor version like"),
        ("", "a Kubernetes minor version like"),
        (1.35, "pass the version as a string, e.g. '1.35'"),
        (136, "pass the version as a string"),
    ],
)
def test_fails_on_a_malformed_version_with_the_fix(value: object, fix: str) -> None:
    problem = version_problem(value)
    assert problem is not None and fix in problem


def test_today_reads_the_injected_day(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TODAY_ENV, "2027-06-23")
    assert today() == D(2027, 6, 23)
    monkeypatch.setenv(TODAY_ENV, "June 23")
    with pytest.raises(ValueError, match="EKS_ENVELOPE_TODAY='June 23' is not a date: use YYYY-MM-DD"):
        today()


@pytest.fixture(scope="module")
def newer_than_cdk() -> tuple[cdk.Stack, dict]:
    newest_cdk = CDK_KNOWN_VERSIONS[-1]
    version = f"1.{int(newest_cdk.split('.')[1]) + 1}"
    stack = cdk.Stack(new_app(), "Newer")
    EnvelopeEncryptedCluster(stack, "Cluster", kubernetes_version=version, verify=False)
    return stack, {"version": version}


def test_a_version_past_aws_cdk_lib_synthesizes_with_a_warning(newer_than_cdk: tuple[cdk.Stack, dict]) -> None:
    stack, info = newer_than_cdk
    template = cdk.assertions.Template.from_stack(stack)
    template.has_resource_properties("AWS::EKS::Cluster", {"Version": info["version"]})
    Annotations.from_stack(stack).has_warning(
        "/Newer/Cluster", Match.string_like_regexp(f"aws-cdk-lib does not name Kubernetes {info['version']} yet")
    )
