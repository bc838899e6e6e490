"""The verifier Lambda's entry point (``contract.VERIFIER_HANDLER``): one function, three kinds of event.

A scheduled run (the schedule's marker, no ``RequestType``) goes to ``scheduled``; the deletion-protection
resource to ``protection``; every other custom-resource event to ``verification``. CloudFormation custom
resources come through the CDK Provider framework (``on_event`` only): the handler returns data or raises
an exception whose message is the FAILED reason. No Python exception text reaches CloudFormation
unformatted, whatever the event or the servers send.
"""
from __future__ import annotations

from typing import Any

from .. import jsonlog
from ..contract import DELETION_PROTECTION_RESOURCE_TYPE, PropertyError
from ..model import VerificationError
from ..text import fit_reason, scrub
from . import protection, scheduled, verification


class HandlerError(RuntimeError):
    """Anything unexpected, already turned into a bounded reason."""


def on_event(event: Any, context: Any) -> Any:
    """Dispatch: no RequestType = a scheduled run; the deletion-protection resource; else the verification."""
    if not isinstance(event, dict):
        raise HandlerError(fit_reason("event", "the event is not a JSON object",
                                      "Invoke the verifier only through CloudFormation or its schedule."))
    if "RequestType" not in event:
        return scheduled.on_schedule(event, context)
    jsonlog.info("event", request_type=scrub(event.get("RequestType"), 20), resource_type=scrub(event.get("ResourceType"), 60),
                 logical_id=scrub(event.get("LogicalResourceId"), 80), physical_id=scrub(event.get("PhysicalResourceId"), 200))
    try:
        if event.get("ResourceType") == DELETION_PROTECTION_RESOURCE_TYPE:
            return protection.on_event(event, context)
        return verification.on_event(event, context)
    except (PropertyError, VerificationError, HandlerError, protection.ProtectionError):
        raise
    except Exception as exc:  # noqa: BLE001 - the last line of defence: a bounded reason, never a raw traceback
        jsonlog.error("handler.crashed", error=type(exc).__name__, message=scrub(exc, 200))
        raise HandlerError(fit_reason("handler", f"internal error ({type(exc).__name__})",
                                      "Retry; if it repeats, report the handler.crashed log line.")) from None
