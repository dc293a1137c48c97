"""Pure identity keys: canonical URLs, normalized-text hashes, event ids.

No I/O here.  Every function is deterministic across machines, runs and Python versions, because
`event_id` is derived from these keys and must be identical live and in replay.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import uuid
from urllib.parse import unquote_plus, urlsplit, urlunsplit

# Namespace of newsd event ids (uuid5); never change it: ids would change with it.
EVENT_NAMESPACE = uuid.UUID("6f1e2b8a-3c4d-5e6f-8a9b-0c1d2e3f4a5b")
_NAMESPACE_BYTES = EVENT_NAMESPACE.bytes

_DEFAULT_PORTS = {"http": 80, "https": 443}
_TRACKING_PREFIXES = ("utm_", "mc_", "pk_", "piwik_", "ga_", "hsa_", "_hs")
_TRACKING_NAMES = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "igshid",
        "mkt_tok",
        "cmpid",
        "ocid",
        "ito",
        "ns_mchannel",
        "ns_source",
        "ns_campaign",
        "ns_linkname",
        "ns_fee",
        "sr_share",
        "at_medium",
        "at_campaign",
        "xtor",
        "ref_src",
        "spm",
        "_ga",
        "smid",
        "smtyp",
        "cid",
        "taid",
        "partner",
        "rss",
        "rssfeed",
        "feed",
        "outputtype",
    }
)


def canonical_url(url: str) -> str:
    """Normalize a URL so that different spellings of one page compare equal.

    w3lib's `canonicalize_url` (the version is pinned: `event_id` depends on its output) resolves
    dot segments, upper-cases percent-escapes and decodes escaped unreserved characters,
    encodes IDN hosts as punycode, sorts the query and drops the fragment.  newsd's rules come
    on top: lower-case scheme and host, no trailing dot, default port or user info, no tracking
    parameters, no repeated slashes, "/" for an empty path.
    Idempotent: `canonical_url(canonical_url(u)) == canonical_url(u)`.
    """
    # Imported here: w3lib costs ~8 MB, and the extraction workers import this module for the
    # text hash only (fingerprint.py).
    from w3lib.url import canonicalize_url

    parts = urlsplit(canonicalize_url(url.strip()))
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    port = parts.port if parts.port not in (None, _DEFAULT_PORTS.get(scheme)) else None
    netloc = f"[{host}]" if ":" in host else host
    netloc = f"{netloc}:{port}" if port else netloc
    query = "&".join(pair for pair in parts.query.split("&") if pair and not _tracking_pair(pair))
    path = re.sub(r"/{2,}", "/", parts.path) or "/"
    return urlunsplit((scheme, netloc, path, query, ""))


def _tracking_pair(pair: str) -> bool:
    return _is_tracking(unquote_plus(pair.partition("=")[0]))


def _is_tracking(name: str) -> bool:
    lowered = name.lower()
    return lowered in _TRACKING_NAMES or lowered.startswith(_TRACKING_PREFIXES)


def fold(text: str) -> str:
    """Unicode NFKC, then case-folded: the common first step of the text hash and the shingles."""
    return unicodedata.normalize("NFKC", text).casefold()


def collapse_space(text: str) -> str:
    """Runs of whitespace to one space, ends stripped (what `re.sub(r"\\s+", " ")` did)."""
    # str.split() and regex \s agree on whitespace (both use str.isspace); a test checks it for
    # every code point.
    return " ".join(text.split())


def content_hash(text: str) -> str:
    """`sha256:<hex>` of the text folded (`fold`) with white-space runs collapsed."""
    return folded_content_hash(fold(text))


def folded_content_hash(folded: str) -> str:
    """`content_hash` of a text already passed through `fold()`."""
    digest = hashlib.sha256(collapse_space(folded).encode("utf-8")).hexdigest()
    return f"sha256:{digest}"


def event_id(canonical: str, text_hash: str) -> str:
    """The event id: a UUIDv5 of the canonical URL and the content hash.

    The same article content at the same canonical URL gives the same id on any machine, in any
    run, live or replayed.  `str(uuid.uuid5(EVENT_NAMESPACE, ...))` written out (SHA-1 of the
    namespace and name, version and variant bits set), without building UUID objects: the
    dedup stage asks for one per article.
    """
    name = f"{canonical}\n{text_hash}".encode()
    raw = bytearray(hashlib.sha1(_NAMESPACE_BYTES + name, usedforsecurity=False).digest()[:16])
    raw[6] = (raw[6] & 0x0F) | 0x50  # version 5
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
