"""EKS as the authority on the support calendar: ``DescribeClusterVersions`` for the cluster's version.

A dated table in the package goes stale; EKS's own answer does not. EKS announces an end of standard
support at least 60 days ahead, and after it bills the cluster at the extended-support rate (or, with
``upgradePolicy.supportType`` STANDARD, upgrades it). This stage never fails a verification: a denied,
throttled or unanswered call is reported as "unknown".
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from .. import jsonlog
from ..model import Outcome

#: versionStatus values (botocore EKS model, VersionStatus); the deprecated ``status`` field used lowercase ones.
VERSION_STATUSES = ("STANDARD_SUPPORT", "EXTENDED_SUPPORT", "UNSUPPORTED")
_LEGACY_STATUS = {"standard-support": "STANDARD_SUPPORT", "extended-support": "EXTENDED_SUPPORT", "unsupported": "UNSUPPORTED"}
UNKNOWN = "unknown"


@dataclass(frozen=True)
class VersionSupport:
    """What EKS says about one Kubernetes version, and the days left to its end of standard support on ``today``."""

    version: str
    status: str = UNKNOWN  # one of VERSION_STATUSES, or "unknown"
    end_of_standard_support: date | None = None
    end_of_extended_support: date | None = None
    days_to_end_of_standard_support: int | None = None  # negative once past it
    error: str | None = None  # why it is unknown

    @property
    def known(self) -> bool:
        return self.status != UNKNOWN

    def as_record(self) -> dict[str, Any]:
        """For the attestation and `make verify --json`."""
        return {
            "version": self.version or None,
            "status": self.status,
            "end_of_standard_support": self.end_of_standard_support.isoformat() if self.end_of_standard_support else None,
            "end_of_extended_support": self.end_of_extended_support.isoformat() if self.end_of_extended_support else None,
            "days_to_end_of_standard_support": self.days_to_end_of_standard_support,
            "error": self.error,
        }

    def summary(self) -> str:
        """One line: ``1.34 STANDARD_SUPPORT, standard support ends 2026-12-02 (in 3 days)``."""
        if not self.known:
            return f"{self.version or 'version'} support status unknown ({self.error or 'no answer'})"
        text = f"{self.version} {self.status}"
        if self.end_of_standard_support is not None:
            days = self.days_to_end_of_standard_support
            when = f"in {days} days" if days is not None and days >= 0 else f"{-days} days ago" if days is not None else ""
            verb = "ends" if days is None or days >= 0 else "ended"
            text += f", standard support {verb} {self.end_of_standard_support.isoformat()}" + (f" ({when})" if when else "")
        if self.status != "STANDARD_SUPPORT" and self.end_of_extended_support is not None:
            text += f", extended support ends {self.end_of_extended_support.isoformat()}"
        return text


def _day(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return None


def describe_version_support(eks: Any, version: str, now: datetime) -> VersionSupport:
    """Ask EKS about ``version``; never raises. ``now`` (UTC) is injected: days count calendar days in UTC.

    ``includeAll`` so an UNSUPPORTED version still answers. Errors (AccessDenied, throttling after
    botocore's retries, no route, an SDK too old for the call, a deadline guard) become ``status="unknown"``
    with the error's code or class in ``error``.
    """
    if not version:
        return VersionSupport("", error="the cluster reported no version")
    try:
        answer = eks.describe_cluster_versions(clusterVersions=[version], includeAll=True)
    except Exception as exc:  # noqa: BLE001 - informational stage: never a failed verification
        response = getattr(exc, "response", None)
        code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
        error = f"DescribeClusterVersions failed ({code or type(exc).__name__})"
        jsonlog.warning("version_support.unknown", version=version, error=error)
        return VersionSupport(version, error=error)
    entries = [e for e in answer.get("clusterVersions") or [] if isinstance(e, dict) and e.get("clusterVersion") == version]
    if not entries:
        return VersionSupport(version, error=f"EKS does not list version {version}")
    entry = entries[0]
    status = entry.get("versionStatus") or _LEGACY_STATUS.get(str(entry.get("status") or ""), "")
    standard_end = _day(entry.get("endOfStandardSupportDate"))
    days = (standard_end - now.date()).days if standard_end is not None else None
    return VersionSupport(
        version,
        status=status if status in VERSION_STATUSES else UNKNOWN,
        end_of_standard_support=standard_end,
        end_of_extended_support=_day(entry.get("endOfExtendedSupportDate")),
        days_to_end_of_standard_support=days,
        error=None if status in VERSION_STATUSES else f"unexpected versionStatus {str(status)[:40]!r}",
    )


def verify_version_support(eks: Any, version: str, now: datetime) -> Outcome:
    """The stage: ``passed`` with EKS's answer, or ``unavailable``; a version out of standard support is a warning."""
    support = describe_version_support(eks, version, now)
    if not support.known:
        return Outcome("unavailable", support.summary(), value=support)
    warnings: tuple[str, ...] = ()
    if support.status == "EXTENDED_SUPPORT":
        warnings = (f"Kubernetes {support.version} is in EKS extended support (billed at a higher hourly rate): "
                    "upgrade the cluster",)
    elif support.status == "UNSUPPORTED":
        warnings = (f"Kubernetes {support.version} is no longer supported by EKS: upgrade the cluster",)
    return Outcome("passed", support.summary(), warnings=warnings, value=support)
