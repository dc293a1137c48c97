"""structlog configuration: JSON lines when not on a terminal, console rendering otherwise.

Every log line is one event name plus fields (`log.info("feed.polled", entries=12)`); feed id
and URL are bound once per unit of work with `structlog.contextvars.bound_contextvars`.

Our dependencies (aiokafka, asyncio, warcio, trafilatura, ...) log through the standard library;
their records go through structlog's `ProcessorFormatter` with the same processors and renderer,
and Python warnings are routed to logging, so in JSON mode every line on stderr is JSON.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, Literal, TextIO

import structlog

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}
_LEVELS["error"] = logging.ERROR
_CHATTY = (
    "aiokafka",
    "kafka",
    "trafilatura",
    "htmldate",
    "httpx",
    "httpcore",
    "charset_normalizer",
)


class _OurHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The root handler `configure()` installs (and replaces when called again)."""


def configure(
    level: str = "info",
    fmt: Literal["auto", "json", "console"] = "auto",
    stream: TextIO | None = None,
) -> None:
    """Configure structlog, and route stdlib logging and warnings of our dependencies through it."""
    out = stream or sys.stderr
    renderer = _renderer(fmt, out)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )
    _route_stdlib(shared, renderer, out)


def set_level(level: str) -> None:
    """Change the lowest level written, at runtime (SIGHUP reload)."""
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]))


def reset_stdlib_logging() -> None:
    """Remove the handler `configure()` installed and stop capturing warnings (tests)."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _OurHandler)]:
        root.removeHandler(old)
    logging.captureWarnings(False)


def _renderer(fmt: str, out: TextIO) -> Any:
    use_console = fmt == "console" or (fmt == "auto" and out.isatty())
    if use_console:
        return structlog.dev.ConsoleRenderer(colors=out.isatty())
    return structlog.processors.JSONRenderer()


def _route_stdlib(shared: list[Any], renderer: Any, out: TextIO) -> None:
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = _OurHandler(out)
    handler.setFormatter(formatter)
    reset_stdlib_logging()
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    # These dependencies log chatty INFO lines; keep their warnings only.
    for name in _CHATTY:
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.captureWarnings(True)
