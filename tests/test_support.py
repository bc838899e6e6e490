"""The EKS version calendar stays true: a listed version past its end of standard support fails here."""
from __future__ import annotations

import datetime

from eks_envelope.cluster import DEFAULT_KUBERNETES_VERSION
from eks_envelope.support import STANDARD_SUPPORT_ENDS, in_standard_support, standard_support_versions


def test_no_listed_version_is_past_its_end_of_standard_support() -> None:
    # This fails on the first day after a listed end date, on purpose: review the calendar
    # (support.py names the source), drop the version and re-check DEFAULT_KUBERNETES_VERSION.
    today = datetime.date.today()
    past = {v: str(end) for v, end in STANDARD_SUPPORT_ENDS.items() if end < today}
    assert not past, f"past EKS standard support, update constructs/eks_envelope/support.py: {past}"


def test_default_version_is_in_standard_support() -> None:
    assert in_standard_support(DEFAULT_KUBERNETES_VERSION)
    assert standard_support_versions()[-1] == DEFAULT_KUBERNETES_VERSION


def test_support_ends_on_the_listed_day() -> None:
    assert in_standard_support("1.34", datetime.date(2026, 12, 2))
    assert not in_standard_support("1.34", datetime.date(2026, 12, 3))
    assert not in_standard_support("1.27", datetime.date(2020, 1, 1)), "unlisted means not known to be supported"
