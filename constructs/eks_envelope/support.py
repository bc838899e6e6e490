"""Kubernetes versions on EKS: which a cluster may ask for, and what the calendar says about them.

EKS bills a cluster six times more per hour once its version leaves standard support (14 months
after EKS releases it) and, with the default ``UpgradePolicy``, slides it into extended support
silently. The calendar is dated data in facts.py; synth uses it for warnings only, never to refuse a
version, and ``make freshness`` tells a maintainer when it needs a new look. The deployed verifier
asks EKS itself (``DescribeClusterVersions``).

What "today" is comes from :func:`facts.today`: the real date, or the ISO date in
``EKS_ENVELOPE_TODAY`` (tests pin it, so a commit's suite does not change with the day it runs).
"""
from __future__ import annotations

import datetime
import re
from typing import Any

from aws_cdk import aws_eks_v2 as eks

from .facts import EKS_RELEASES, release, today

#: The oldest version accepted: from 1.28 on EKS envelope-encrypts all Kubernetes API data.
OLDEST_MINOR = 28

#: Every Kubernetes version this aws-cdk-lib names (``KubernetesVersion.V1_xx``), oldest first.
CDK_KNOWN_VERSIONS = tuple(
    sorted(
        (name[1:].replace("_", ".") for name in dir(eks.KubernetesVersion) if name.startswith("V1_")),
        key=lambda v: tuple(int(p) for p in v.split(".")),
    )
)

#: UpgradePolicy.SupportType values of AWS::EKS::Cluster.
SUPPORT_TYPES = ("STANDARD", "EXTENDED")
DEFAULT_SUPPORT_TYPE = "STANDARD"

_VERSION = re.compile(r"^1\.(\d{1,3})$")
_SLIP = re.compile(r"^\s*[vV]?(\d+)\s*[.,]\s*(\d+)(?:\.\d+)?(?:-eks.*)?\s*$")


def version_problem(value: Any) -> str | None:
    """Why ``value`` is not a Kubernetes version a cluster can ask for, as a fix; None when it is.

    Any ``1.N`` from 1.28 up is accepted, also beyond what aws-cdk-lib names (EKS may offer it first);
    whether EKS offers it in the account's region is EKS's to say at deploy.
    """
    if not isinstance(value, str):
        return f"pass the version as a string, e.g. '1.{_minor_hint(value)}' (got a {type(value).__name__})"
    match = _VERSION.match(value)
    if match:
        minor = int(match[1])
        if minor < OLDEST_MINOR:
            return (f"use 1.{OLDEST_MINOR} or newer: EKS encrypts all Kubernetes API data from 1.{OLDEST_MINOR} on "
                    f"(newest known: {newest_known()})")
        return None
    slip = _SLIP.match(value)
    if slip and slip[1] == "1":
        return f"write it as '1.{int(slip[2])}' (major.minor, no 'v', patch or platform version)"
    return f"a Kubernetes minor version like '{newest_known()}' (major.minor)"


def _minor_hint(value: Any) -> str:
    text = str(value)
    return text.split(".", 1)[1] if text.startswith("1.") and text[2:].isdigit() else newest_known().split(".")[1]


def newest_known() -> str:
    """The newest version the calendar or aws-cdk-lib knows."""
    versions = {r.version for r in EKS_RELEASES} | set(CDK_KNOWN_VERSIONS)
    return max(versions, key=lambda v: tuple(int(p) for p in v.split(".")))


def cdk_names(version: str) -> bool:
    """Whether this aws-cdk-lib has a ``KubernetesVersion`` constant for ``version``."""
    return version in CDK_KNOWN_VERSIONS


def in_standard_support(version: str, on: datetime.date | None = None) -> bool:
    """True while the calendar lists ``version`` and ``on`` (default: :func:`today`) is not past its end."""
    row = release(version)
    return row is not None and (on or today()) <= row.end_of_standard_support


def standard_support_versions(on: datetime.date | None = None) -> tuple[str, ...]:
    """Versions in standard support on ``on`` (default: :func:`today`), oldest first."""
    return tuple(r.version for r in EKS_RELEASES if in_standard_support(r.version, on))


def support_warning(version: str, support_type: str, on: datetime.date | None = None) -> str | None:
    """The synth warning for a version outside standard support on ``on``; None while it is inside.

    It never suggests the version it warns about, and says so when the calendar itself is out of date.
    """
    on = on or today()
    if in_standard_support(version, on):
        return None
    row = release(version)
    newer = [v for v in standard_support_versions(on) if _key(v) > _key(version)]
    if row is None:
        state = f"Kubernetes {version} is not in this package's EKS calendar, so its support window is unknown here"
    elif on > row.end_of_extended_support:
        state = (f"EKS no longer offers Kubernetes {version} (extended support ended on "
                 f"{row.end_of_extended_support}): a new cluster on it cannot be created")
    else:
        consequence = (
            "the cluster is upgraded automatically (support_type STANDARD)" if support_type == "STANDARD"
            else "the control plane costs six times more in extended support"
        )
        state = f"Kubernetes {version} left EKS standard support on {row.end_of_standard_support}: {consequence}"
    if newer:
        return f"{state}. Plan an upgrade to {newer[-1]}."
    return (f"{state}. Check `aws eks describe-cluster-versions` for a newer version (this package's calendar, "
            f"eks_envelope/facts.py, may be out of date: `make freshness`); the deployed verifier reports EKS's own dates.")


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))
