"""The EKS Kubernetes version calendar: which versions are in standard support, until when.

EKS bills a cluster six times more per hour once its version leaves standard support (14 months
after EKS releases it) and, with the default ``UpgradePolicy``, slides it into extended support
silently. The dates below are dated facts, not a list that can go quietly stale: a test fails once
today is past any listed end date, so the table is reviewed before a default drifts into extended
support.
"""
from __future__ import annotations

import datetime

#: When the table was last checked against the EKS user guide ("Understand the Kubernetes version
#: lifecycle on EKS", https://docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html).
CALENDAR_CHECKED = datetime.date(2026, 11, 28)

#: End of EKS standard support per Kubernetes minor version.
STANDARD_SUPPORT_ENDS: dict[str, datetime.date] = {
    "1.34": datetime.date(2026, 12, 2),
    "1.35": datetime.date(2027, 3, 27),
    # No EKS date was published in the sources checked on CALENDAR_CHECKED. This is a lower bound:
    # upstream Kubernetes 1.36 (2026-04-22) + 14 months; EKS releases a version after upstream, so
    # the real end is later. Replace it with EKS's date when it is published.
    "1.36": datetime.date(2027, 6, 22),
}

#: UpgradePolicy.SupportType values of AWS::EKS::Cluster.
SUPPORT_TYPES = ("STANDARD", "EXTENDED")
DEFAULT_SUPPORT_TYPE = "STANDARD"


def in_standard_support(version: str, today: datetime.date | None = None) -> bool:
    """True while ``version`` is listed and today is not past its end of standard support."""
    end = STANDARD_SUPPORT_ENDS.get(version)
    return end is not None and (today or datetime.date.today()) <= end


def standard_support_versions(today: datetime.date | None = None) -> tuple[str, ...]:
    """Versions in standard support on ``today`` (default: now), oldest first."""
    return tuple(v for v in STANDARD_SUPPORT_ENDS if in_standard_support(v, today))
