"""One-line JSON logs for the verifier (stdout, which Lambda ships to CloudWatch)."""
from __future__ import annotations

import json
import sys
import time
from typing import Any

# Field names that must never reach a log line, whatever a caller passes by mistake.
_FORBIDDEN = {"token", "value", "data", "authorization", "canary_value", "stringData"}
_LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "OFF": 100}
_settings: dict[str, Any] = {"stream": None, "min_level": 20}


def configure(stream: Any = None, min_level: str = "INFO") -> None:
    """Route logs elsewhere (the CLI keeps stdout for its report); stream None means sys.stdout at call time."""
    _settings["stream"] = stream
    _settings["min_level"] = _LEVELS[min_level]


def log(level: str, event: str, **fields: Any) -> None:
    """Write one JSON object per line; sys.stdout is resolved at call time so tests can capture it."""
    if _LEVELS.get(level, 20) < _settings["min_level"]:
        return
    record: dict[str, Any] = {"ts": round(time.time(), 3), "level": level, "logger": "eks-envelope-verifier", "event": event}
    for key, val in fields.items():
        record[key] = "<redacted>" if key in _FORBIDDEN else val
    stream = _settings["stream"] or sys.stdout
    stream.write(json.dumps(record, default=str, separators=(",", ":")) + "\n")
    stream.flush()


def info(event: str, **fields: Any) -> None:
    log("INFO", event, **fields)


def warning(event: str, **fields: Any) -> None:
    log("WARNING", event, **fields)


def error(event: str, **fields: Any) -> None:
    log("ERROR", event, **fields)
