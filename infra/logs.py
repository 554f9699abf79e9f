"""How Chirp's processes log: one JSON object per line on stderr, for a log pipeline to index,
or plain text for a person at a terminal (docs/observability.md).

Every JSON line has `time`, `level`, `logger`, `message` and `service`; a record logged with
`extra={...}` adds those fields, an exception adds `exc_info`, and a record logged while the
API serves a request carries that request's `request_id`.
"""

from __future__ import annotations

import logging
import logging.config
import sys
from contextvars import ContextVar
from typing import Any

from infra.settings import Settings, get_settings

# The request being served in this task, if any (set by the API's request middleware).
REQUEST_ID: ContextVar[str | None] = ContextVar("chirp_request_id", default=None)

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
# Chatty at INFO, and nothing there an operator needs.
_QUIET = ("kafka", "aiokafka", "httpx", "httpcore", "elastic_transport", "alembic")


class RequestContext(logging.Filter):
    """Adds the current request's id to each record logged while the API serves it."""

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = REQUEST_ID.get()
        if request_id is not None and not hasattr(record, "request_id"):
            record.request_id = request_id
        return True


def log_format(settings: Settings) -> str:
    """'json' or 'text': `auto` means text at a terminal, JSON anywhere else."""
    if settings.log_format != "auto":
        return settings.log_format
    return "text" if sys.stderr.isatty() else "json"


def logging_config(service: str, settings: Settings | None = None) -> dict[str, Any]:
    """A `logging.config.dictConfig` schema for the process `service` (api, agents, chirp)."""
    settings = settings or get_settings()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request": {"()": RequestContext}},
        "formatters": {
            "json": {
                "()": "pythonjsonlogger.orjson.OrjsonFormatter",
                "fmt": "%(levelname)s %(name)s %(message)s",
                "rename_fields": {"levelname": "level", "name": "logger"},
                "timestamp": "time",  # ISO 8601, UTC
                "static_fields": {"service": service},
            },
            "text": {"format": TEXT_FORMAT},
        },
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": log_format(settings),
                "filters": ["request"],
            },
        },
        "root": {"level": settings.log_level, "handlers": ["stderr"]},
        "loggers": {
            # uvicorn's own loggers write through the root handler like everything else.
            **{
                name: {"handlers": [], "propagate": True}
                for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
            },
            **{name: {"level": "WARNING"} for name in _QUIET},
        },
    }


def configure(service: str, settings: Settings | None = None) -> None:
    """Log as `logging_config` says, from now on, in this process."""
    logging.config.dictConfig(logging_config(service, settings))
