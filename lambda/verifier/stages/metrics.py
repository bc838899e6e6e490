"""The verifier's CloudWatch datapoints: what a scheduled run (and a verified deploy's first datapoint) puts."""
from __future__ import annotations

from typing import Any

from ..contract import (
    CLUSTER_DIMENSION,
    EVIDENCE_EVENTS_METRIC,
    EVIDENCE_METRIC,
    STAGE_DIMENSION,
    STAGE_METRIC,
    SUPPORT_DAYS_METRIC,
    VERIFIED_METRIC,
)
from ..model import StageResult
from .lookback import Evidence


def metric_data(cluster: str, verified: bool, results: list[StageResult], evidence: Evidence | None,
                support: Any = None) -> list[dict[str, Any]]:
    """Verified 0/1, one StagePassed 0/1 per stage that ran, the evidence found (0/1 and count), and the days to
    the end of standard support when EKS answered (none when unknown: the alarm on it treats missing data as OK)."""
    dims = [{"Name": CLUSTER_DIMENSION, "Value": cluster}]
    data = [{"MetricName": VERIFIED_METRIC, "Dimensions": dims, "Value": 1.0 if verified else 0.0, "Unit": "Count"}]
    for result in results:
        if result.status == "skipped":
            continue
        data.append({
            "MetricName": STAGE_METRIC,
            "Dimensions": [*dims, {"Name": STAGE_DIMENSION, "Value": result.name}],
            "Value": 0.0 if result.status == "failed" else 1.0,
            "Unit": "Count",
        })
    # An incomplete look-back that found nothing proves nothing either way: no evidence metric then.
    if evidence is not None and (evidence.complete or evidence.found):
        data.append({"MetricName": EVIDENCE_METRIC, "Dimensions": dims, "Value": 1.0 if evidence.found else 0.0, "Unit": "Count"})
        data.append({"MetricName": EVIDENCE_EVENTS_METRIC, "Dimensions": dims, "Value": float(evidence.events), "Unit": "Count"})
    days = getattr(support, "days_to_end_of_standard_support", None)
    if isinstance(days, int) and getattr(support, "known", False):
        data.append({"MetricName": SUPPORT_DAYS_METRIC, "Dimensions": dims, "Value": float(days), "Unit": "None"})
    return data
