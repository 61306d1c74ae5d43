"""The log: one line per record, readable text or one JSON object, each with the request id.

The standard library's logging, not structlog: every module here and uvicorn already log
through it, so one handler with a formatter turns all of them (access log included) into
JSON, with no second logging API to learn and no dependency. Fields beyond the message
come from ``extra=`` (the backend call line: source, kind, status, outcome, duration_ms).

What never reaches a line: the configured secrets (masked in the formatted text, a net
under the rule that no code logs one), payloads (no code logs one), and query strings of
the access log (a GET's query and variables may hold a customer's email).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

import orjson

from gateway.redact import SecretMasker
from gateway.telemetry import requestid

LogFormat = Literal["text", "json"]
TEXT_FORMAT = "%(levelname)s %(name)s [%(request_id)s]: %(message)s"

# Attributes every LogRecord has: anything else on a record came from ``extra=``, except
# uvicorn's ``color_message`` (the message again, with ANSI colour escapes).
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {
    "message",
    "asctime",
    "request_id",
    "color_message",
}

#: True in a task whose uvicorn server should log warnings only: `gateway demo` runs the
#: simulators' server beside the gateway's in one process, and uvicorn's loggers are
#: global, so without it each lifecycle line ("Started server process") came twice.
QUIET_SERVER: ContextVar[bool] = ContextVar("quiet_server", default=False)


class RequestContext(logging.Filter):
    """Adds ``request_id`` to every record and drops the query string from access lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        if QUIET_SERVER.get() and record.name.startswith("uvicorn") and record.levelno < 30:
            return False
        record.request_id = requestid.current() or "-"
        if record.name == "uvicorn.access" and isinstance(record.args, tuple):
            args = list(record.args)
            if len(args) == 5 and isinstance(args[2], str):
                args[2] = args[2].split("?", 1)[0]
                record.args = tuple(args)
        return True


class MaskingFormatter(logging.Formatter):
    """The standard text format with configured secrets masked."""

    def __init__(self, fmt: str, mask: SecretMasker) -> None:
        super().__init__(fmt)
        self._mask = mask

    def format(self, record: logging.LogRecord) -> str:
        return self._mask(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, the record's
    extra fields and, for errors, the traceback as text."""

    def __init__(self, mask: SecretMasker) -> None:
        super().__init__()
        self._mask = mask

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", "-")
        if request_id != "-":
            out["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return self._mask(orjson.dumps(out, default=str).decode())


def configure(
    log_format: LogFormat = "text",
    level: str = "info",
    *,
    secrets: Iterable[str] = (),
    stream: TextIO | None = None,
) -> logging.Handler:
    """Route every logger (the gateway's, uvicorn's, libraries') to one handler on
    ``stream`` (stderr) in ``log_format``, the gateway's at ``level``; returns the
    handler."""
    mask = SecretMasker(secrets)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RequestContext())
    handler.setFormatter(
        JsonFormatter(mask) if log_format == "json" else MaskingFormatter(TEXT_FORMAT, mask)
    )
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    # The level is the gateway's; libraries stay at INFO (their debug lines are theirs).
    root.setLevel(max(logging.INFO, logging.getLevelName(level.upper())))
    logging.getLogger("gateway").setLevel(level.upper())
    # httpx logs every URL at INFO, query strings (customer emails) included.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return handler
