"""structlog configuration: JSON lines when not on a terminal, console rendering otherwise.

Every log line is one event name plus fields (`log.info("feed.polled", entries=12)`); feed id
and URL are bound once per unit of work with `structlog.contextvars.bound_contextvars`.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, Literal, TextIO

import structlog

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}
_LEVELS["error"] = logging.ERROR


def configure(
    level: str = "info",
    fmt: Literal["auto", "json", "console"] = "auto",
    stream: TextIO | None = None,
) -> None:
    """Configure structlog (and route stdlib logging of our dependencies through it)."""
    out = stream or sys.stderr
    renderer = _renderer(fmt, out)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
    ]
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )
    _quiet_dependencies()


def _renderer(fmt: str, out: TextIO) -> Any:
    use_console = fmt == "console" or (fmt == "auto" and out.isatty())
    if use_console:
        return structlog.dev.ConsoleRenderer(colors=out.isatty())
    return structlog.processors.JSONRenderer()


def _quiet_dependencies() -> None:
    # aiokafka and trafilatura log chatty INFO lines through stdlib logging; keep warnings only.
    for name in (
        "aiokafka",
        "kafka",
        "trafilatura",
        "htmldate",
        "httpx",
        "httpcore",
        "charset_normalizer",
    ):
        logging.getLogger(name).setLevel(logging.WARNING)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING, format="%(name)s %(levelname)s %(message)s")
