"""Every fact the project carries that can go stale, as data: value, source, day checked, expiry.

Nothing here decides whether a synth or a test passes. Synth reads these facts for warnings only
(support.py); ``make freshness`` (freshness.py) lists them with their age and fails when one has
expired or was checked too long ago, which is how a maintainer learns to update this file. Where AWS
can answer at run time, it does: the verifier asks EKS ``DescribeClusterVersions`` for the cluster's
version, so a deployed cluster's support window never depends on this table.

To update: check each source, change the value, set ``checked`` to the day you looked, and say in the
commit what changed. ``confirmed=False`` marks a value taken from a secondary source or derived from
EKS's published rule (14 months of standard support, then 12 of extended) rather than read from EKS's
own table.
"""
from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

_D = datetime.date

#: Set to an ISO date (YYYY-MM-DD) to judge the facts as on that day (tests pin it; so can you).
TODAY_ENV = "EKS_ENVELOPE_TODAY"


def today() -> datetime.date:
    """Today, or the day ``EKS_ENVELOPE_TODAY`` names."""
    pinned = os.environ.get(TODAY_ENV, "").strip()
    if not pinned:
        return datetime.date.today()
    try:
        return datetime.date.fromisoformat(pinned)
    except ValueError:
        raise ValueError(f"{TODAY_ENV}={pinned!r} is not a date: use YYYY-MM-DD, or unset it") from None


EKS_CALENDAR_SOURCE = "https://docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html"
#: A secondary source that mirrors EKS's table (used where the EKS page we could read was older).
EKS_CALENDAR_MIRROR = "https://endoflife.date/amazon-eks"


@dataclass(frozen=True)
class KubernetesRelease:
    """One row of the EKS Kubernetes release calendar."""

    version: str
    #: Day EKS released it (None where only the month is known).
    eks_release: datetime.date | None
    #: Last day of standard support (UTC). Extended support bills from the next day.
    end_of_standard_support: datetime.date
    #: Last day of extended support; EKS upgrades the control plane after it.
    end_of_extended_support: datetime.date
    source: str
    checked: datetime.date
    #: False when the dates are a secondary source's or derived from EKS's rule, not EKS's own table.
    confirmed: bool = True
    note: str = ""


@dataclass(frozen=True)
class Fact:
    """A dated fact other than the version calendar."""

    name: str
    value: str
    source: str
    checked: datetime.date
    #: The day after which the value no longer describes something usable (None: only ages).
    expires: datetime.date | None = None
    note: str = ""


#: EKS Kubernetes release calendar, oldest first (versions from 1.28 on: all API data envelope-encrypted).
EKS_RELEASES: tuple[KubernetesRelease, ...] = (
    KubernetesRelease(
        "1.28", _D(2023, 9, 26), _D(2024, 11, 26), _D(2025, 11, 26),
        EKS_CALENDAR_MIRROR, _D(2026, 12, 2), confirmed=False,
        note="release day from the mirror; ends = release + 14 / 26 months (EKS's rule)",
    ),
    KubernetesRelease("1.29", _D(2024, 1, 23), _D(2025, 3, 23), _D(2026, 3, 23), EKS_CALENDAR_SOURCE, _D(2026, 12, 2)),
    KubernetesRelease("1.30", _D(2024, 5, 23), _D(2025, 7, 23), _D(2026, 7, 23), EKS_CALENDAR_SOURCE, _D(2026, 12, 2)),
    KubernetesRelease("1.31", _D(2024, 9, 26), _D(2025, 11, 26), _D(2026, 11, 26), EKS_CALENDAR_SOURCE, _D(2026, 12, 2)),
    KubernetesRelease("1.32", _D(2025, 1, 23), _D(2026, 3, 23), _D(2027, 3, 23), EKS_CALENDAR_SOURCE, _D(2026, 12, 2)),
    KubernetesRelease("1.33", _D(2025, 5, 29), _D(2026, 7, 29), _D(2027, 7, 29), EKS_CALENDAR_SOURCE, _D(2026, 12, 2)),
    KubernetesRelease(
        "1.34", _D(2025, 10, 2), _D(2026, 12, 2), _D(2027, 12, 2),
        EKS_CALENDAR_SOURCE, _D(2026, 12, 2),
        note="EKS user guide release calendar (awsdocs/amazon-eks-user-guide, kubernetes-versions.adoc)",
    ),
    KubernetesRelease(
        "1.35", _D(2026, 1, 28), _D(2027, 3, 27), _D(2028, 3, 27),
        EKS_CALENDAR_MIRROR, _D(2026, 12, 2), confirmed=False,
        note="mirror of EKS's table; the copy of the EKS page read on the checked day predates 1.35",
    ),
    KubernetesRelease(
        "1.36", _D(2026, 6, 2), _D(2027, 8, 2), _D(2028, 8, 2),
        EKS_CALENDAR_SOURCE, _D(2026, 12, 2), confirmed=False,
        note="release day from secondary sources (DESIGN.md, 2026-12-02 review); ends = release + 14 / 26 months",
    ),
    KubernetesRelease(
        "1.37", None, _D(2027, 12, 1), _D(2028, 12, 1),
        EKS_CALENDAR_SOURCE, _D(2026, 12, 2), confirmed=False,
        note="released on EKS in October 2026 (secondary sources, day unknown): ends are lower bounds, "
             "October 2026 + 14 / 26 months",
    ),
)

NODE_RELEASES_SOURCE = "https://github.com/nodejs/Release#release-schedule"
LAMBDA_RUNTIMES_SOURCE = "https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html"

#: Facts about the tools and runtimes the project pins.
TOOL_FACTS: tuple[Fact, ...] = (
    Fact(
        "node.24.end_of_life", "2028-04-30", NODE_RELEASES_SOURCE, _D(2026, 12, 2), expires=_D(2028, 4, 30),
        note="package.json pins Node 24; jsii prints an end-of-life banner on every synth after this day "
             "(jsii's own table says the same)",
    ),
    Fact(
        "lambda.python3.14.deprecation", "2029-06-30", LAMBDA_RUNTIMES_SOURCE, _D(2026, 12, 2),
        expires=_D(2029, 6, 30),
        note="the verifier's runtime; as in cfn-lint 1.58's Lambda runtime lifecycle data. Creating "
             "functions is blocked from 2029-07-31",
    ),
    Fact(
        "aws-cdk-lib.newest", "2.275.0", "https://github.com/aws/aws-cdk/releases", _D(2026, 12, 2),
        note="requirements.txt pins it; it names Kubernetes versions up to V1_36 (`pip index versions aws-cdk-lib`)",
    ),
    Fact(
        "aws-cdk.newest", "2.1148.1", "https://github.com/aws/aws-cdk-cli/releases", _D(2026, 12, 2),
        note="package.json pins it; the 3.x line cannot read this aws-cdk-lib's cloud assembly (`npm view aws-cdk version`)",
    ),
)

#: How old a checked fact may be before ``make freshness`` asks for a new look.
MAX_AGE_DAYS = 120


def release(version: str) -> KubernetesRelease | None:
    """The calendar row of ``version``, or None when the calendar does not list it."""
    return next((r for r in EKS_RELEASES if r.version == version), None)


def all_facts() -> tuple[Fact, ...]:
    """Every fact as one flat list, each calendar row as one fact.

    A row read from EKS's own table stays true and only ages. An unconfirmed row that estimated a
    future end expires on that end: by then EKS has published the real day, and it must be looked up.
    """
    rows = tuple(
        Fact(
            f"eks.{r.version}.end_of_standard_support",
            f"{r.end_of_standard_support}" + ("" if r.confirmed else " (unconfirmed)"),
            r.source, r.checked,
            expires=None if r.confirmed or r.checked >= r.end_of_standard_support else r.end_of_standard_support,
            note=r.note,
        )
        for r in EKS_RELEASES
    )
    return rows + TOOL_FACTS


def last_checked() -> datetime.date:
    """The newest ``checked`` day: the day the facts describe, which the test suite runs as."""
    return max(f.checked for f in all_facts())
