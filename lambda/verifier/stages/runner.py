"""The stage runner: budget, call counts, timing and one classified failure per stage."""
from __future__ import annotations

from typing import Any, Callable

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from .. import jsonlog
from .. import kube
from ..aws.session import THROTTLE_CODES, code_of
from ..aws.clients import Clients
from ..aws.meter import DeadlineReached
from .kube_checks import UNREACHABLE, kube_failure
from ..model import Outcome, Report, Runtime, StageResult, VerificationError
from ..text import scrub

#: Seconds an AWS call needs at least; the meter refuses to start one with less left in the stage.
MIN_AWS_CALL_SECONDS = 2.0


def aws_failure(stage: str, exc: Exception) -> VerificationError:
    """A boto failure as a reason: access, throttling, no route, no answer, or another error code."""
    if isinstance(exc, ClientError):
        code, op = code_of(exc), getattr(exc, "operation_name", "the call")
        if code in ("AccessDeniedException", "AccessDenied", "UnauthorizedOperation"):
            service = "eks" if op in ("DescribeCluster",) else "cloudtrail" if op == "LookupEvents" else "kms"
            return VerificationError(stage, f"{op} was denied ({code})", f"Allow {service}:{op} to the verifier's role.")
        if code in THROTTLE_CODES:
            return VerificationError(stage, f"{op} stayed throttled after botocore's retries ({code})", "Retry the deploy later.")
        return VerificationError(stage, f"{op} failed ({scrub(code, 60)})", "Check the verifier's IAM permissions and the resource, then retry.")
    if isinstance(exc, (EndpointConnectionError, ConnectTimeoutError)):
        return VerificationError(stage, f"cannot connect to the AWS API ({type(exc).__name__})",
                                 "Give the verifier's subnets a route to AWS APIs (NAT or VPC endpoints).")
    if isinstance(exc, ReadTimeoutError):
        return VerificationError(stage, "no answer from the AWS API within the read timeout",
                                 "Check the route to AWS APIs (NAT or VPC endpoints), then retry.")
    return VerificationError(stage, f"AWS call failed ({type(exc).__name__})",
                             "Check the verifier's network path to AWS APIs (NAT or VPC endpoints) and its IAM permissions.")


class StageRunner:
    """Runs one stage at a time: the stage budget guards every AWS call, failures become one VerificationError."""

    def __init__(self, clients: Clients, runtime: Runtime, report: Report, kube_calls: Callable[[], int]) -> None:
        self.clients = clients
        self.runtime = runtime
        self.report = report
        self._kube_calls = kube_calls
        self.current = ""

    def _guard(self) -> None:
        if self.runtime.stage_deadline() - self.runtime.clock() < MIN_AWS_CALL_SECONDS:
            raise DeadlineReached(f"out of time before an AWS call in stage {self.current}")

    def run(self, name: str, body: Callable[[], Outcome]) -> Outcome:
        self.current = name
        meter = self.clients.meter
        aws_before, k8s_before = meter.count, self._kube_calls()
        started = self.runtime.clock()
        result = StageResult(name, "passed")
        meter.guard = self._guard
        try:
            if self.runtime.stage_deadline() - self.runtime.clock() <= 1.0:
                raise VerificationError(name, "no time left before the stage", "Raise the verifier Lambda timeout.")
            outcome = body()
            result.status, result.detail = outcome.status, outcome.detail
            self.report.evidence.extend(e for e in outcome.evidence if e not in self.report.evidence)
            self.report.warnings.extend(outcome.warnings)
            return outcome
        except Exception as exc:  # noqa: BLE001 - every failure leaves here as one classified reason
            if isinstance(exc, kube.KubeError) and exc.kind in UNREACHABLE:
                self.report.unreachable = True
            err = self.classify(name, exc)
            result.status, result.detail = "failed", err.detail
            raise err from None
        finally:
            meter.guard = None
            result.ms = int((self.runtime.clock() - started) * 1000)
            result.aws = meter.count - aws_before
            result.k8s = self._kube_calls() - k8s_before
            self.report.results.append(result)
            jsonlog.info("stage.end", stage=name, status=result.status, ms=result.ms, aws=result.aws, k8s=result.k8s, detail=result.detail[:200])

    @staticmethod
    def classify(name: str, exc: BaseException) -> VerificationError:
        if isinstance(exc, VerificationError):
            return exc
        if isinstance(exc, kube.KubeError):
            return kube_failure(name, exc)
        if isinstance(exc, DeadlineReached):
            return VerificationError(name, "ran out of time before an AWS call", "Raise the verifier Lambda timeout or lower PodTimeoutSeconds/CloudTrailWaitSeconds.")
        if isinstance(exc, (ClientError, BotoCoreError)):
            return aws_failure(name, exc)
        # Anything else is a bug or a response shape nobody expected: never the raw exception text.
        jsonlog.error("stage.crashed", stage=name, error=type(exc).__name__, message=scrub(exc, 200))
        return VerificationError(name, f"internal error ({type(exc).__name__}) on an unexpected response",
                                 "Retry; if it repeats, report the stage.crashed log line.")

    def skipped(self, name: str, why: str) -> None:
        self.report.results.append(StageResult(name, "skipped", detail=why))


def count_kube(client: Any) -> int:
    return client.calls if client is not None else 0
