"""What every AWS call of the handler shares: the region, the boto config, and how an error code is read."""
from __future__ import annotations

import os
from typing import Any

#: Error codes that mean "slow down" (botocore's standard retries have already tried again).
THROTTLE_CODES = {"ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded"}


def region() -> str:
    """The function's region (Lambda sets AWS_REGION)."""
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def boto_config(budget_seconds: float, *, role: str = "verifier") -> Any:
    """Timeouts derived from the budget, botocore's standard retries (the only retry layer for AWS calls).

    Worst case per call: 3 attempts x (connect + read) plus backoff, at most ``budget.AWS_CALL_WORST_CASE_SECONDS``.
    ``role`` names the caller in the user agent (``eks-envelope-<role>``), so CloudTrail tells them apart.
    """
    from botocore.config import Config as BotoConfig

    per_attempt = max(2.0, min(8.0, budget_seconds / 4))
    return BotoConfig(
        retries={"mode": "standard", "max_attempts": 3},
        connect_timeout=min(3.0, per_attempt / 2),
        read_timeout=per_attempt,
        user_agent_extra=f"eks-envelope-{role}",
    )


def code_of(exc: Any) -> str:
    """The error code of a botocore ClientError ("Unknown" when the response has none)."""
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))
