"""What an instance does in cluster mode besides polling (docs/scaling.md):

- its pipeline forwards extracted articles to `<prefix>.articles` (`forwarding`);
- it is a member of `<group>.dedup` (the owner, or a hot standby) and of `<group>.replay`
  (replays the files assigned to it) (`start_members`);
- `newsd replay` submits the files of a run as work items instead of replaying them here
  (`submit_run`).

Off cluster mode, none of this runs and `forwarding` yields None (dedup stays in-process).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

from daemon.cluster.articles import ArticleForwarder
from daemon.cluster.dedupowner import DedupOwner
from daemon.cluster.replaywork import ReplayWorker, WorkItem, submit
from daemon.errors import ConfigError, UsageError
from daemon.observability.metrics import Metrics
from daemon.pipeline import Pipeline
from daemon.replay.items import is_archive_file
from daemon.settings import Settings
from daemon.sinks.base import Sink


def require_shared_broker(settings: Settings) -> None:
    """Cluster mode needs one Kafka shared by the instances, not each one's embedded broker."""
    if settings.cluster.enabled and not settings.kafka.bootstrap_servers:
        raise ConfigError(
            "kafka.bootstrap_servers",
            "cluster mode needs the instances' shared Kafka (the embedded broker is per process)",
        )


@contextlib.asynccontextmanager
async def forwarding(settings: Settings) -> AsyncIterator[ArticleForwarder | None]:
    """The forward stage of this instance in cluster mode (started, closed at exit); else None."""
    if not settings.cluster.enabled:
        yield None
        return
    forwarder = ArticleForwarder(settings)
    await forwarder.start()
    try:
        yield forwarder
    finally:
        await forwarder.close()


def start_members(
    group: asyncio.TaskGroup,
    settings: Settings,
    *,
    sink: Sink,
    pipeline: Pipeline,
    forwarder: ArticleForwarder,
    metrics: Metrics,
    stop: asyncio.Event,
) -> None:
    """Join `<group>.dedup` and `<group>.replay` until `stop` (under the caller's TaskGroup)."""
    owner = DedupOwner(settings, sink, metrics)
    worker = ReplayWorker(settings, pipeline, forwarder, metrics)
    group.create_task(owner.run(stop), name="cluster.dedup_owner")
    group.create_task(worker.run(stop), name="cluster.replay_worker")


def run_items(
    paths: Sequence[Path],
    run_id: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[WorkItem]:
    """One work item per archive file, in the order given (a directory: its archive files,
    sorted).  Paths are made absolute: every instance must see them at the same place."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.is_file() and is_archive_file(p))
        elif is_archive_file(path):
            files.append(path)
        else:
            raise UsageError("paths", f"{path}: a distributed replay takes WARC files only")
    if not files:
        raise UsageError("paths", "no WARC file to replay")
    read_at = datetime.now(UTC)
    return [
        WorkItem(run_id, index, len(files), str(path.resolve()), read_at, since, until)
        for index, path in enumerate(files)
    ]


async def submit_run(settings: Settings, items: list[WorkItem]) -> None:
    """Put the run's work items on `<prefix>.replay`; the group's replay workers take them."""
    await submit(settings, items)
