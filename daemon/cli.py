"""The `newsd` command line.

    newsd run [--once] [--state DIR]
    newsd replay PATH... [--sink kafka|jsonl:FILE] [--topic-prefix P] [--rate N]
                         [--since T] [--until T] [--state DIR | --fresh-state]
    newsd extract PATH... [--url URL] [--jsonl]
    newsd config
    newsd tail TOPIC [--from-beginning] [--max N]
    newsd feeds add URL [--id ID] [--interval S] [--tag T]... | remove ID | pause ID | resume ID
    newsd feeds list [--json] | import FILE.opml | export [FILE.opml]
    newsd health [--state DIR] [--max-age S]

Every command accepts `--config FILE` (default `config/newsd.toml`, or `NEWSD_CONFIG`).

Exit codes, the same for every command:
    0    done (for `run`: stopped by SIGTERM/SIGINT after draining)
    1    runtime failure: broker unreachable, a pipeline worker died, `run --once` could not
         drain in time, the state directory is held by another newsd process, unhealthy
    2    a user's mistake: bad setting or environment variable, missing or unreadable file,
         bad option value (one line on stderr, never a traceback)
    130  interrupted before newsd could stop cleanly
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn, cast

from daemon import __version__, eventloop
from daemon.errors import ConfigError, NewsdError, UsageError
from daemon.settings import DEFAULT_CONFIG, Settings, load

EXIT_OK, EXIT_FAILURE, EXIT_CONFIG, EXIT_INTERRUPTED = 0, 1, 2, 130


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        _check_paths(args)
        settings = _settings(args)
        return int(args.handler(args, settings))
    except ConfigError as exc:
        print(f"newsd: configuration error: {exc.detail or exc.reason}", file=sys.stderr)
        return EXIT_CONFIG
    except UsageError as exc:
        print(f"newsd: {exc.detail or exc.reason}", file=sys.stderr)
        return EXIT_CONFIG
    except NewsdError as exc:
        print(f"newsd: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def config_path(args: argparse.Namespace) -> Path | None:
    """The config file to read: `--config`, else `NEWSD_CONFIG`, else the default if present.

    An explicit file must exist; without one, a missing default means defaults + environment.
    """
    explicit = getattr(args, "config", None) or os.environ.get("NEWSD_CONFIG")
    return Path(explicit) if explicit else (DEFAULT_CONFIG if DEFAULT_CONFIG.exists() else None)


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    if getattr(args, "state", None):
        overrides["state"] = {"dir": Path(args.state)}
    return load(config_path(args), **overrides)


def _loader(args: argparse.Namespace) -> Callable[[], Settings]:
    """Reads the settings again, as at start-up (SIGHUP reload)."""
    return lambda: _settings(args)


def _check_paths(args: argparse.Namespace) -> None:
    """Input paths named on the command line exist and are readable (else `UsageError`).

    A command declares them with `set_defaults(inputs=(attribute, "file" | "file-or-dir"))`.
    """
    attribute, kind = getattr(args, "inputs", (None, ""))
    if attribute is None:
        return
    value = getattr(args, attribute)
    for path in map(Path, value if isinstance(value, list) else [value]):
        if kind == "file" or not path.is_dir():
            _readable_file(path)


def _readable_file(path: Path) -> None:
    if not path.exists():
        raise UsageError("path", f"{path}: no such file or directory")
    if path.is_dir():
        raise UsageError("path", f"{path}: is a directory, expected a file")
    if not os.access(path, os.R_OK):
        raise UsageError("path", f"{path}: not readable (permission denied)")


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage mistake said in one line (exit 2) instead of usage + message."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_CONFIG, f"{self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: a nested subcommand's default must not erase `newsd feeds --config F list`.
    common.add_argument(
        "--config",
        metavar="FILE",
        default=argparse.SUPPRESS,
        help="config file (default config/newsd.toml)",
    )
    parser = _Parser(prog="newsd", description="News ingestion daemon.")
    parser.add_argument("--version", action="version", version=f"newsd {__version__}")
    # Subcommand parsers are `_Parser`s too (argparse uses the parent's class); typed as the base.
    sub = cast(
        "argparse._SubParsersAction[argparse.ArgumentParser]",
        parser.add_subparsers(dest="command", required=True),
    )
    _add_run(sub, common)
    _add_replay(sub, common)
    _add_extract(sub, common)
    _add_config(sub, common)
    _add_tail(sub, common)
    _add_feeds(sub, common)
    _add_health(sub, common)
    return parser


def _add_run(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    run = sub.add_parser("run", parents=[common], help="poll the feeds and publish events")
    run.add_argument("--once", action="store_true", help="poll every feed once, drain, exit")
    run.add_argument("--state", metavar="DIR", help="durable state directory")
    run.set_defaults(handler=_cmd_run)


def _add_replay(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    replay = sub.add_parser("replay", parents=[common], help="replay captures, snapshots, WARCs")
    replay.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    replay.add_argument("--sink", default="kafka", help="kafka (default) or jsonl:FILE")
    replay.add_argument("--topic-prefix", default=None, help="prefix for every topic name")
    replay.add_argument("--rate", type=float, default=None, help="events per second at most")
    replay.add_argument("--since", type=_timestamp, default=None, help="capture time from (ISO)")
    replay.add_argument("--until", type=_timestamp, default=None, help="capture time until (ISO)")
    replay.add_argument(
        "--embedded-broker",
        action="store_true",
        help="with no kafka.bootstrap_servers: publish into a throwaway embedded broker anyway",
    )
    state = replay.add_mutually_exclusive_group()
    state.add_argument("--state", metavar="DIR", help="durable state directory")
    state.add_argument("--fresh-state", action="store_true", help="use a new, empty state")
    replay.set_defaults(handler=_cmd_replay, inputs=("paths", "file-or-dir"))


def _add_extract(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    extract = sub.add_parser("extract", parents=[common], help="print the article of a page")
    extract.add_argument("paths", nargs="+", metavar="PATH")
    extract.add_argument("--url", default=None, help="the page's URL (for metadata and links)")
    extract.add_argument("--jsonl", action="store_true", help="one JSON object per line")
    extract.set_defaults(handler=_cmd_extract, inputs=("paths", "file"))


def _add_config(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    config = sub.add_parser("config", parents=[common], help="print the resolved settings")
    config.set_defaults(handler=_cmd_config)


def _add_tail(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    tail = sub.add_parser("tail", parents=[common], help="print events from a topic")
    tail.add_argument("topic", help="topic name, or articles|duplicates|updates|errors")
    tail.add_argument("--from-beginning", action="store_true", help="start at the oldest event")
    tail.add_argument("--max", type=int, default=None, help="stop after N events")
    tail.add_argument("--full", action="store_true", help="print whole events, not summaries")
    tail.set_defaults(handler=_cmd_tail)


def _add_feeds(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    feeds = sub.add_parser("feeds", parents=[common], help="manage the feed list")
    feeds_sub = feeds.add_subparsers(dest="feeds_command", required=True)
    state = argparse.ArgumentParser(add_help=False, parents=[common])
    state.add_argument("--state", metavar="DIR", help="durable state directory")
    add = feeds_sub.add_parser("add", parents=[state], help="add a feed (applied while running)")
    add.add_argument("url", metavar="URL")
    add.add_argument("--id", dest="feed_id", default=None, help="feed id (default: from the URL)")
    add.add_argument("--interval", type=float, default=None, help="poll every S seconds")
    add.add_argument("--tag", action="append", default=[], help="a category (repeatable)")
    add.set_defaults(handler=_cmd_feeds_add)
    for action, text in (("remove", "remove"), ("pause", "pause"), ("resume", "resume/un-retire")):
        change = feeds_sub.add_parser(action, parents=[state], help=f"{text} a feed by id")
        change.add_argument("feed_id", metavar="ID")
        change.set_defaults(handler=_cmd_feeds_change, action=action)
    imp = feeds_sub.add_parser("import", parents=[state], help="import feeds from OPML")
    imp.add_argument("file", type=Path, metavar="FILE.opml")
    imp.set_defaults(handler=_cmd_feeds_import, inputs=("file", "file"))
    exp = feeds_sub.add_parser("export", parents=[state], help="write every feed as OPML 2.0")
    exp.add_argument("file", type=Path, nargs="?", default=None, metavar="FILE.opml")
    exp.set_defaults(handler=_cmd_feeds_export)
    lst = feeds_sub.add_parser("list", parents=[state], help="list every feed and its state")
    lst.add_argument("--json", action="store_true", help="a JSON array instead of a table")
    lst.set_defaults(handler=_cmd_feeds_list)


def _add_health(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    check = sub.add_parser("health", parents=[common], help="exit 0 if the daemon is alive")
    check.add_argument("--state", metavar="DIR", help="durable state directory")
    check.add_argument(
        "--max-age", type=float, default=None, help="seconds (default 3 x log.stats_interval)"
    )
    check.set_defaults(handler=_cmd_health)


def _timestamp(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not an ISO 8601 time (e.g. 2024-05-01 or 2024-05-01T12:00:00Z)"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# -- handlers: each hands over to daemon.app ---------------------------------------------------


def _cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from daemon import app

    return eventloop.run(
        app.run(settings, once=args.once, reload=_loader(args), config=config_path(args))
    )


def _cmd_replay(args: argparse.Namespace, settings: Settings) -> int:
    from daemon import app

    options = app.ReplayOptions(
        paths=list(args.paths),
        sink=args.sink,
        topic_prefix=args.topic_prefix,
        rate=args.rate,
        since=args.since,
        until=args.until,
        fresh_state=args.fresh_state,
        embedded_broker=args.embedded_broker,
    )
    return eventloop.run(app.replay(settings, options))


def _cmd_extract(args: argparse.Namespace, settings: Settings) -> int:
    from daemon import app

    return app.extract(settings, args.paths, url=args.url, jsonl=args.jsonl)


def _cmd_config(args: argparse.Namespace, settings: Settings) -> int:
    from daemon import app

    return app.show_config(settings)


def _cmd_tail(args: argparse.Namespace, settings: Settings) -> int:
    from daemon import app

    return eventloop.run(
        app.tail(
            settings, args.topic, from_beginning=args.from_beginning, limit=args.max, full=args.full
        )
    )


def _cmd_feeds_import(args: argparse.Namespace, settings: Settings) -> int:
    from daemon.sources import feedadmin

    return eventloop.run(feedadmin.feeds_import(settings, args.file))


def _cmd_feeds_list(args: argparse.Namespace, settings: Settings) -> int:
    from daemon.sources import feedadmin

    return eventloop.run(feedadmin.feeds_list(settings, as_json=args.json))


def _cmd_feeds_add(args: argparse.Namespace, settings: Settings) -> int:
    from daemon.sources import feedadmin

    return eventloop.run(
        feedadmin.feeds_add(
            settings, args.url, feed_id=args.feed_id, interval=args.interval, tags=args.tag
        )
    )


def _cmd_feeds_change(args: argparse.Namespace, settings: Settings) -> int:
    from daemon.sources import feedadmin

    return eventloop.run(feedadmin.feeds_change(settings, args.action, args.feed_id))


def _cmd_feeds_export(args: argparse.Namespace, settings: Settings) -> int:
    from daemon.sources import feedadmin

    return eventloop.run(feedadmin.feeds_export(settings, args.file))


def _cmd_health(args: argparse.Namespace, settings: Settings) -> int:
    from daemon import app

    return app.check_health(settings, args.max_age)
