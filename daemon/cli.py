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
Exit codes: 0 ok, 1 runtime failure, 2 bad configuration or usage, 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from daemon import __version__, eventloop
from daemon.errors import ConfigError, NewsdError
from daemon.settings import DEFAULT_CONFIG, Settings, load

EXIT_OK, EXIT_FAILURE, EXIT_CONFIG, EXIT_INTERRUPTED = 0, 1, 2, 130


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = _settings(args)
        return int(args.handler(args, settings))
    except ConfigError as exc:
        print(f"newsd: configuration error: {exc.detail or exc.reason}", file=sys.stderr)
        return EXIT_CONFIG
    except NewsdError as exc:
        print(f"newsd: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def _settings(args: argparse.Namespace) -> Settings:
    explicit = args.config or os.environ.get("NEWSD_CONFIG")
    # An explicit file must exist; without one, a missing default means defaults + environment.
    path = Path(explicit) if explicit else (DEFAULT_CONFIG if DEFAULT_CONFIG.exists() else None)
    overrides: dict[str, Any] = {}
    if getattr(args, "state", None):
        overrides["state"] = {"dir": Path(args.state)}
    return load(path, **overrides)


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="FILE", help="config file (default config/newsd.toml)")
    parser = argparse.ArgumentParser(prog="newsd", description="News ingestion daemon.")
    parser.add_argument("--version", action="version", version=f"newsd {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
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
    state = replay.add_mutually_exclusive_group()
    state.add_argument("--state", metavar="DIR", help="durable state directory")
    state.add_argument("--fresh-state", action="store_true", help="use a new, empty state")
    replay.set_defaults(handler=_cmd_replay)


def _add_extract(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    extract = sub.add_parser("extract", parents=[common], help="print the article of a page")
    extract.add_argument("paths", nargs="+", metavar="PATH")
    extract.add_argument("--url", default=None, help="the page's URL (for metadata and links)")
    extract.add_argument("--jsonl", action="store_true", help="one JSON object per line")
    extract.set_defaults(handler=_cmd_extract)


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
    imp.set_defaults(handler=_cmd_feeds_import)
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
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# -- handlers: each hands over to daemon.app ---------------------------------------------------


def _cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from daemon import app

    return eventloop.run(app.run(settings, once=args.once))


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
