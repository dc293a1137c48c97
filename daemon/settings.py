"""Settings: one model per stage, composed into `Settings`.

Sources, strongest first: keyword overrides, `NEWSD_*` environment variables (nested with `__`,
e.g. `NEWSD_KAFKA__BOOTSTRAP_SERVERS`), the TOML config file, then the defaults below.
`load()` fails fast with a `ConfigError` naming the key path of the first bad value.
"""

from __future__ import annotations

import os
import tomllib
import warnings
from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from daemon.errors import ConfigError
from daemon.fetch.transport.proxy import ProxyURL

DEFAULT_CONFIG = Path("config/newsd.toml")
_config_data: ContextVar[dict[str, Any] | None] = ContextVar("newsd_config_data", default=None)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LogSettings(_Section):
    level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Lowest level written."
    )
    format: Literal["auto", "json", "console"] = Field(
        "auto", description="auto: console on a terminal, JSON otherwise."
    )
    stats_interval: float = Field(
        60.0, gt=0, description="Seconds between daemon.stats lines and health-file writes."
    )


class TopicSettings(_Section):
    articles: str = Field("newsd.articles.v1", description="Originals (article.new).")
    duplicates: str = Field("newsd.duplicates.v1", description="Reposts (article.duplicate).")
    updates: str = Field("newsd.updates.v1", description="Revisions (article.updated).")
    errors: str = Field("newsd.errors.v1", description="Items that failed for good.")
    stories: str = Field("newsd.stories.v1", description="Latest summary per story (compacted).")
    partitions: int = Field(6, ge=1, description="Partitions per topic at creation.")
    replication_factor: int = Field(1, ge=1, description="Replicas per partition at creation.")
    retention_ms: int = Field(
        7 * 24 * 3600 * 1000, ge=-1, description="retention.ms at creation (-1: forever)."
    )
    prefix: str = Field("", description="Prepended to every topic name (e.g. a backfill run).")


class SchemaRegistrySettings(_Section):
    url: str | None = Field(
        None, description="Confluent Schema Registry API base URL; unset: register nothing."
    )
    timeout: float = Field(10.0, gt=0, description="Seconds per registry request.")


class KafkaSettings(_Section):
    bootstrap_servers: str | None = Field(
        None, description="host:port[,host:port]; unset: start the embedded broker."
    )
    client_id: str = Field("newsd", description="Client id sent to the broker.")
    enable_idempotence: bool = Field(
        True, description="Idempotent producer (Apache Kafka); the embedded broker needs false."
    )
    compression_type: Literal["none", "gzip", "snappy", "lz4", "zstd"] = Field(
        "gzip", description="Producer compression codec."
    )
    linger_ms: int = Field(20, ge=0, description="Producer batching delay.")
    batch_bytes: int = Field(
        262_144,
        ge=16_384,
        description="Largest producer batch per partition, before compression (capped at the "
        "smallest topic message limit).",
    )
    request_timeout_ms: int = Field(30000, ge=1000, description="Per-request broker timeout.")
    send_retries: int = Field(5, ge=0, description="Retries of a failed send (with backoff).")
    max_in_flight: int = Field(1000, ge=1, description="Events awaiting acknowledgement.")
    max_message_bytes: int = Field(
        1_048_576,
        ge=10_000,
        description="Largest message, where the topic's max.message.bytes cannot be read.",
    )
    create_topics: bool = Field(True, description="Create the topics at start-up if missing.")
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="Broker security protocol."
    )
    ssl_cafile: Path | None = Field(
        None, description="CA bundle (PEM) that signed the brokers' certificates; unset: system."
    )
    ssl_certfile: Path | None = Field(None, description="Client certificate (PEM), for mTLS.")
    ssl_keyfile: Path | None = Field(None, description="Client private key (PEM), for mTLS.")
    ssl_key_password: SecretStr | None = Field(None, description="Password of the key (secret).")
    ssl_key_password_file: Path | None = Field(None, description="File holding that password.")
    ssl_check_hostname: bool = Field(
        True, description="Check that the broker certificate names the host connected to."
    )
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"] | None = (
        Field(None, description="SASL mechanism, when a SASL protocol is used.")
    )
    sasl_username: str | None = Field(None, description="SASL user name.")
    sasl_password: SecretStr | None = Field(None, description="SASL password (secret).")
    sasl_password_file: Path | None = Field(None, description="File holding the SASL password.")
    sasl_oauth_token_url: str | None = Field(
        None, description="OAUTHBEARER: OAuth 2.0 token endpoint (client-credentials grant)."
    )
    sasl_oauth_client_id: str | None = Field(None, description="OAUTHBEARER: client id.")
    sasl_oauth_client_secret: SecretStr | None = Field(
        None, description="OAUTHBEARER: client secret (secret)."
    )
    sasl_oauth_client_secret_file: Path | None = Field(
        None, description="File holding the OAUTHBEARER client secret."
    )
    sasl_oauth_scope: str | None = Field(None, description="OAUTHBEARER: scope requested.")
    topics: TopicSettings = Field(default_factory=TopicSettings)
    schema_registry: SchemaRegistrySettings = Field(default_factory=SchemaRegistrySettings)

    @model_validator(mode="before")
    @classmethod
    def _removed_acks(cls, data: Any) -> Any:
        """`kafka.acks` was removed (the producer always waits for all replicas): an old config
        saying `acks = "all"` still loads, with a warning; any other value is refused."""
        if not isinstance(data, dict) or data.get("acks") != "all":
            return data
        warnings.warn(
            'kafka.acks is no longer a setting (always "all"); remove it from the config',
            FutureWarning,
            stacklevel=2,
        )
        return {key: value for key, value in data.items() if key != "acks"}


class EmbeddedBrokerSettings(_Section):
    enabled: Literal["auto", "always", "never"] = Field(
        "auto", description="auto: start it when kafka.bootstrap_servers is unset."
    )
    host: str = Field("127.0.0.1", description="Listen address of the embedded broker.")
    port: int = Field(9092, ge=1, le=65535, description="Listen port of the embedded broker.")


class TimeoutSettings(_Section):
    connect: float = Field(5.0, gt=0, description="Seconds to connect.")
    read: float = Field(15.0, gt=0, description="Seconds between bytes read.")
    total: float = Field(30.0, gt=0, description="Seconds for a whole request, body included.")


class FetchSettings(_Section):
    user_agent: str = Field("newsd/{version} (+{contact})", description="User-Agent template.")
    contact_url: str = Field(
        "https://github.com/newsd/newsd", description="Named in the User-Agent."
    )
    timeout: TimeoutSettings = Field(default_factory=TimeoutSettings)
    max_body_bytes: int = Field(5_000_000, ge=1024, description="Largest body read (on wire).")
    max_decompressed_bytes: int = Field(
        20_000_000, ge=1024, description="Largest body after decompression."
    )
    max_redirects: int = Field(5, ge=0, description="Redirects followed per request.")
    allow_private_networks: list[str] = Field(
        default_factory=list, description="CIDRs exempt from the SSRF guard (e.g. 127.0.0.1/32)."
    )
    global_concurrency: int = Field(100, ge=1, description="Requests in flight, all hosts.")
    per_domain_concurrency: int = Field(2, ge=1, description="Requests in flight per domain.")
    per_domain_min_interval: float = Field(
        1.0, ge=0, description="Seconds between request starts to one registrable domain."
    )
    respect_robots: bool = Field(True, description="Honour robots.txt for article pages.")
    robots_ttl: float = Field(86400.0, gt=0, description="Seconds a robots.txt is cached.")
    retries: int = Field(2, ge=0, description="Retries of a retryable article fetch.")
    backoff_base: float = Field(1.0, gt=0, description="First article-fetch retry delay ceiling.")
    backoff_cap: float = Field(
        30.0, gt=0, description="Longest article-fetch retry wait; a longer Retry-After gives up."
    )
    max_retry_after: float = Field(
        3600.0, ge=0, description="Cap on how long a Retry-After holds back a whole domain."
    )
    robots_unreachable_ttl: float = Field(
        600.0, gt=0, description="Seconds a 5xx/unreachable robots.txt disallows before re-asking."
    )
    pool: Literal["newsd", "httpcore"] = Field(
        "newsd", description="Connection pool: newsd's, or httpcore's stock one (debugging)."
    )
    proxy: str | None = Field(
        None, description="Egress proxy http://[user:pass@]host:port; every fetch is CONNECTed."
    )
    ca_bundle: Path | None = Field(
        None, description="Extra CA certificates (PEM) trusted for https fetches."
    )

    @field_validator("proxy")
    @classmethod
    def _proxy_url(cls, value: str | None) -> str | None:
        if value is not None:
            ProxyURL.parse(value)
        return value


class PollSettings(_Section):
    min_interval: float = Field(300.0, gt=0, description="Shortest seconds between polls.")
    max_interval: float = Field(86400.0, gt=0, description="Longest seconds between polls.")
    default_interval: float = Field(1800.0, gt=0, description="Interval of a new feed.")
    jitter: float = Field(0.1, ge=0, le=1, description="Random spread (fraction) on schedules.")
    backoff_base: float = Field(60.0, gt=0, description="First retry delay after an error.")
    backoff_cap: float = Field(86400.0, gt=0, description="Longest delay after errors.")
    force_full_fetch_every: int = Field(
        20, ge=1, description="Polls between unconditional fetches (servers that lie)."
    )
    redirect_confirmations: int = Field(
        3, ge=1, description="Consistent 301/308 answers before the feed URL is rewritten."
    )
    concurrency: int = Field(50, ge=1, description="Feeds polled at once.")
    tick: float = Field(1.0, gt=0, description="Seconds between scheduler passes.")
    seen_window: float = Field(
        30 * 86400.0, gt=0, description="Seconds an item key (GUID, else link) is remembered."
    )
    seen_max_per_feed: int = Field(5000, ge=100, description="Item keys kept per feed, newest.")


class ExtractSettings(_Section):
    workers: int = Field(0, ge=0, description="Extraction processes (0: one per core).")
    timeout: float = Field(20.0, gt=0, description="Hard per-document timeout, seconds.")
    max_tasks_per_worker: int = Field(500, ge=1, description="Documents before a worker restarts.")
    favor_precision: bool = Field(True, description="trafilatura favor_precision.")
    detect_language: bool = Field(True, description="Detect the language offline.")
    min_text_chars: int = Field(200, ge=0, description="Shorter extracted text counts as empty.")


class DedupSettings(_Section):
    window_days: float = Field(7.0, gt=0, description="Documents older than this are forgotten.")
    shingle_size: int = Field(5, ge=1, description="Words per shingle.")
    num_perm: int = Field(64, ge=16, description="MinHash permutations.")
    jaccard_threshold: float = Field(0.3, gt=0, le=1, description="Jaccard above: a repost.")
    containment_threshold: float = Field(
        0.8, gt=0, le=1, description="Containment above (truncated copies): a repost."
    )
    min_shingles: int = Field(20, ge=1, description="Shorter texts are matched exactly only.")
    shingle_cache_bytes: int = Field(
        64 * 1024 * 1024, ge=0, description="Recent documents' shingles kept in memory (LRU)."
    )
    boilerplate_site_stories: int = Field(
        3, ge=2, description="A line in this many new stories of one site is boilerplate."
    )
    boilerplate_stories: int = Field(
        5, ge=2, description="A line in this many new stories overall is boilerplate."
    )


class StoriesSettings(_Section):
    enabled: bool = Field(
        True, description="Group articles into stories (story_id, stories topic)."
    )
    window_hours: float = Field(
        72.0, gt=0, description="Articles older than this leave the window."
    )
    max_articles: int = Field(
        50_000, ge=100, description="Articles kept in the window at most (~4.5 KB each)."
    )
    threshold: float = Field(
        0.30, gt=0, le=1, description="Score from which an article joins a story."
    )
    name_weight: float = Field(0.35, ge=0, le=1, description="Share of the score given to names.")
    full_hours: float = Field(24.0, ge=0, description="Hours apart that cost no score.")
    half_life_hours: float = Field(
        24.0, gt=0, description="Beyond full_hours, the score halves every this many hours."
    )
    query_terms: int = Field(
        12, ge=1, description="Most distinctive terms used to find candidates."
    )
    max_candidates: int = Field(8, ge=1, description="Candidates scored in full per article.")


class PipelineSettings(_Section):
    queue_size: int = Field(100, ge=1, description="Capacity of each queue between stages.")
    fetch_workers: int = Field(32, ge=1, description="Article fetches at once.")
    shutdown_grace: float = Field(30.0, ge=0, description="Seconds to drain on shutdown.")
    once_timeout: float = Field(
        600.0, gt=0, description="run --once: seconds to drain before giving up (exit 1)."
    )
    ordered: bool = Field(
        True, description="Decide in intake order (deterministic); false: as extraction ends."
    )
    reorder_window: int = Field(
        1000, ge=1, description="Records between intake and dedup at most (reorder buffer)."
    )


class StateSettings(_Section):
    dir: Path = Field(Path("state"), description="Directory of the durable store.")


class ArchiveSettings(_Section):
    enabled: bool = Field(False, description="Write fetched feeds and pages to WARC files.")
    dir: Path = Field(Path("archive"), description="Directory of the WARC files.")
    max_bytes: int = Field(
        1_000_000_000, ge=4096, description="Start a new file once one reaches this size."
    )
    max_age: float = Field(
        86400.0, gt=0, description="Start a new file for records after this many seconds."
    )


class OpsSettings(_Section):
    address: str = Field(
        "127.0.0.1:9464", description="host:port of /metrics, /healthz, /readyz; empty: off."
    )
    per_feed_metrics: bool = Field(
        True, description="Per-feed series on /metrics (turn off for very large feed lists)."
    )
    probe_interval: float = Field(
        1.0, gt=0, description="Seconds between readiness checks of the broker and the state."
    )
    dedup_index_budget_bytes: int = Field(
        1 << 30, ge=0, description="Memory meant for the dedup index (alerts compare to it)."
    )

    @field_validator("address")
    @classmethod
    def _host_port(cls, value: str) -> str:
        if value and not _split_address(value)[1].isdigit():
            raise ValueError("expected host:port (e.g. 127.0.0.1:9464) or empty")
        return value

    def host_port(self) -> tuple[str, int]:
        host, port = _split_address(self.address)
        return host, int(port)


class ClusterSettings(_Section):
    """Cluster mode: instances share the feeds and one dedup view through Kafka consumer groups."""

    enabled: bool = Field(
        False, description="Run as one instance of a group (Kafka; docs/scaling.md)."
    )
    group: str = Field("newsd", description="Group name: instances with the same name share.")
    session_timeout_ms: int = Field(
        10_000, ge=100, description="An instance silent this long loses its feeds to the others."
    )
    heartbeat_interval_ms: int = Field(
        3_000, ge=10, description="Milliseconds between heartbeats (under a third of the above)."
    )
    topic_prefix: str = Field(
        "newsd._cluster", description="Prefix of the internal topics (<prefix>.feeds, ...)."
    )
    feeds_partitions: int = Field(
        12, ge=1, description="Partitions of the feeds and cursors topics at creation."
    )
    replay_partitions: int = Field(
        12, ge=1, description="Partitions of the replay work topic (instances replaying at once)."
    )
    dedup_retention_ms: int = Field(
        8 * 24 * 3600 * 1000,
        ge=-1,
        description="retention.ms of the dedup changelog (keep it above dedup.window_days).",
    )
    compression_type: Literal["none", "gzip", "snappy", "lz4", "zstd"] = Field(
        "lz4",
        description="Producer codec of the internal topics (the owner compresses every record).",
    )


def _split_address(value: str) -> tuple[str, str]:
    host, _, port = value.rpartition(":")
    return host.strip("[]") or "127.0.0.1", port


class FeedConfig(_Section):
    url: str = Field(description="Feed URL (http or https).")
    id: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
        description="Stable feed id (letters, digits, . _ -); default: derived from the URL.",
    )
    publisher: str | None = Field(None, description="Publisher name (events: source.publisher).")
    language: str | None = Field(None, description="Declared language (ISO 639-1).")
    country: str | None = Field(
        None, pattern=r"^[A-Z]{2}$", description="Publisher country (ISO 3166-1 alpha-2)."
    )
    min_interval: float | None = Field(None, gt=0, description="Overrides poll.min_interval.")
    max_interval: float | None = Field(None, gt=0, description="Overrides poll.max_interval.")
    tags: list[str] = Field(
        default_factory=list, description="Categories (OPML export; events: source.tags)."
    )

    @field_validator("url")
    @classmethod
    def _http_only(cls, value: str) -> str:
        if not value.lower().startswith(("http://", "https://")):
            raise ValueError("feed url must be http or https")
        return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="NEWSD_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    log: LogSettings = Field(default_factory=LogSettings)
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    embedded_broker: EmbeddedBrokerSettings = Field(default_factory=EmbeddedBrokerSettings)
    fetch: FetchSettings = Field(default_factory=FetchSettings)
    poll: PollSettings = Field(default_factory=PollSettings)
    extract: ExtractSettings = Field(default_factory=ExtractSettings)
    dedup: DedupSettings = Field(default_factory=DedupSettings)
    stories: StoriesSettings = Field(default_factory=StoriesSettings)
    pipeline: PipelineSettings = Field(default_factory=PipelineSettings)
    state: StateSettings = Field(default_factory=StateSettings)
    archive: ArchiveSettings = Field(default_factory=ArchiveSettings)
    ops: OpsSettings = Field(default_factory=OpsSettings)
    cluster: ClusterSettings = Field(default_factory=ClusterSettings)
    feeds: list[FeedConfig] = Field(default_factory=list)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _TomlData(settings_cls))


class _TomlData(PydanticBaseSettingsSource):
    """The parsed config file, handed over by `load()` through a context variable."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return (_config_data.get() or {}).get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_config_data.get() or {})


# NEWSD_* variables that are not settings: read by the CLI and the event loop themselves.
OTHER_ENV = frozenset({"NEWSD_CONFIG", "NEWSD_EVENT_LOOP", "NEWSD_CORPORA"})


def load(
    path: Path | None = None, *, environ: Mapping[str, str] | None = None, **overrides: Any
) -> Settings:
    """Load settings from `path` (if it exists), the environment and `overrides`."""
    check_env(os.environ if environ is None else environ)
    data = _read_toml(path) if path is not None else {}
    token = _config_data.set(data)
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise _config_error(exc) from None
    except SettingsError as exc:  # e.g. a NEWSD_* value that is not valid JSON
        raise ConfigError("env", f"{exc}: {exc.__cause__}" if exc.__cause__ else str(exc)) from None
    finally:
        _config_data.reset(token)


def check_env(environ: Mapping[str, str]) -> None:
    """Refuse `NEWSD_*` variables naming no setting section (`NEWSD_FECH__RETRIES`), which
    pydantic-settings would otherwise ignore without a word."""
    sections = {name.upper() for name in Settings.model_fields}
    for name in sorted(environ):
        if not name.startswith("NEWSD_") or name in OTHER_ENV:
            continue
        section = name.removeprefix("NEWSD_").split("__", 1)[0]
        if section not in sections:
            known = ", ".join(sorted(f"NEWSD_{s}" for s in sections))
            raise ConfigError("env", f"{name}: no such setting section (known: {known})")


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("config", f"config file not found: {path}") from None
    except IsADirectoryError:
        raise ConfigError("config", f"config file is a directory: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError("config", f"cannot read config file {path}: {_why(exc)}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("config", f"{path}: {exc}") from None


def _why(exc: Exception) -> str:
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)


# Settings that were removed, and why: a config still setting them is refused with this reason.
_REMOVED = {"kafka.acks": "removed: newsd always produces with acks=all"}


def _config_error(exc: ValidationError) -> ConfigError:
    first = exc.errors()[0]
    key = ".".join(str(part) for part in first["loc"]) or "config"
    if key in _REMOVED:
        return ConfigError(key, f"{key}: {_REMOVED[key]} (got {first.get('input')!r})")
    return ConfigError(key, f"{key}: {first['msg']} (got {first.get('input')!r})")


def dump(settings: Settings) -> dict[str, Any]:
    """The resolved settings as plain data, secrets masked."""
    data: dict[str, Any] = settings.model_dump(mode="json")
    proxy = data["fetch"].get("proxy")
    if proxy and "@" in proxy:  # http://user:password@host:port → http://****@host:port
        data["fetch"]["proxy"] = "http://****@" + proxy.rsplit("@", 1)[1]
    return data
