"""URL canonicalisation libraries on real feed URLs: which one makes `event_id` spelling-proof.

    PYTHONPATH=. python bench/url_canonical.py --corpora ../shared/corpora

Item links are read from every feed file of the feed corpora (feedparser).  Each candidate is
the library's normalisation followed by newsd's own rules (tracking parameters dropped, query
sorted, fragment and user info dropped), so only the library's part differs.  For every real
URL, spellings of the same resource are generated (dot segments, percent-encoding case, an
escaped unreserved character, IDN host in Unicode and in punycode, upper-case host, default
port) and must canonicalise to the same string; canonicalising twice must change nothing;
different real URLs must stay different.  Speed is per URL, one core.
"""

from __future__ import annotations

import argparse
import re
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import courlan
import feedparser
import url_normalize
import w3lib.url

from daemon.dedup import keys

FEED_CORPORA = (
    "openews-news-feeds-2015",
    "trafilatura-feed-resources",
    "feedjira-sample-feeds",
    "miniflux-feed-testdata",
    "rss-parser-tests",
    "rsparser-netnewswire-test-feeds",
    "feedparser-tests",
)
_ESCAPE = re.compile(r"%[0-9A-F]{2}")


def feed_urls(corpora: Path) -> list[str]:
    """Distinct http(s) item links of every parseable feed file, in a stable order."""
    found: dict[str, None] = {}
    for name in FEED_CORPORA:
        for path in sorted((corpora / name).rglob("*")):
            if path.suffix.lower() not in {".xml", ".rss", ".atom", ".rdf", ".json", ".feed"}:
                continue
            parsed = feedparser.parse(path.read_bytes())
            for entry in parsed.entries:
                link = entry.get("link") or ""
                if link.startswith(("http://", "https://")) and urlsplit(link).hostname:
                    found[link] = None
    return list(found)


def spellings(url: str) -> dict[str, str]:
    """Other spellings of the same resource (RFC 3986 section 6.2.2 and IDNA)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    path = parts.path or "/"
    out = {
        "dot_segments": urlunsplit(parts._replace(path="/x/.." + path.replace("/", "/./", 1))),
        "escape_case": urlunsplit(parts._replace(path=_ESCAPE.sub(lambda m: m[0].lower(), path))),
        "escaped_unreserved": urlunsplit(parts._replace(path=path + "~a")),
        "host_case": urlunsplit(parts._replace(netloc=parts.netloc.upper())),
        "default_port": urlunsplit(
            parts._replace(netloc=f"{host}:{443 if parts.scheme == 'https' else 80}")
        ),
    }
    out["escaped_unreserved_2"] = out["escaped_unreserved"].replace("~a", "%7Ea")
    labels = host.split(".")
    unicode_host = ".".join(["bücher", *labels[1:]]) if len(labels) > 1 else "bücher"
    out["idn_unicode"] = urlunsplit(parts._replace(netloc=unicode_host))
    out["idn_punycode"] = urlunsplit(parts._replace(netloc=unicode_host.encode("idna").decode()))
    return out


# Pairs that must agree: (variant, reference); a reference of None is the URL itself.
_PAIRS = (
    ("dot_segments", None),
    ("escape_case", None),
    ("host_case", None),
    ("default_port", None),
    ("escaped_unreserved_2", "escaped_unreserved"),
    ("idn_unicode", "idn_punycode"),
)


def _newsd_rules(url: str) -> str:
    parts = urlsplit(url)
    query = "&".join(sorted(p for p in parts.query.split("&") if p and not _tracking(p)))
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, query, ""))


def _tracking(pair: str) -> bool:
    return keys._is_tracking(pair.partition("=")[0])


def with_w3lib(url: str) -> str:
    return _newsd_rules(w3lib.url.canonicalize_url(url))


def with_url_normalize(url: str) -> str:
    return _newsd_rules(url_normalize.url_normalize(url) or url)


def with_courlan(url: str) -> str:
    return _newsd_rules(courlan.normalize_url(url, strict=False))


def with_stdlib(url: str) -> str:
    """newsd before this change (urllib.parse only)."""
    return keys.canonical_url(url)


CANDIDATES: dict[str, Callable[[str], str]] = {
    "newsd (stdlib only, before)": with_stdlib,
    "w3lib.canonicalize_url": with_w3lib,
    "url-normalize": with_url_normalize,
    "courlan.normalize_url": with_courlan,
}


def _safe(fn: Callable[[str], str], url: str) -> str | None:
    try:
        return fn(url)
    except Exception:
        return None


def measure(name: str, fn: Callable[[str], str], urls: list[str]) -> dict[str, object]:
    errors = 0
    agree = dict.fromkeys((v for v, _ in _PAIRS), 0)
    idempotent = 0
    outputs: set[str] = set()
    for url in urls:
        canon = _safe(fn, url)
        if canon is None:
            errors += 1
            continue
        outputs.add(canon)
        idempotent += _safe(fn, canon) == canon
        forms = spellings(url)
        for variant, reference in _PAIRS:
            ref = canon if reference is None else _safe(fn, forms[reference])
            agree[variant] += ref is not None and _safe(fn, forms[variant]) == ref
    started = time.perf_counter()
    for url in urls:
        _safe(fn, url)
    per_url = (time.perf_counter() - started) / len(urls) * 1e6
    return {"name": name, "errors": errors, "idempotent": idempotent, "distinct": len(outputs),
            "agree": agree, "us": per_url}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", type=Path, default=Path("../shared/corpora"))
    args = parser.parse_args()
    urls = feed_urls(args.corpora)
    distinct_inputs = len({_newsd_rules(quote(u, safe=":/?&=%#@+;,~")) for u in urls})
    print(f"real feed item URLs: {len(urls)} (distinct after newsd's own rules: {distinct_inputs})")
    header = ["candidate", "errors", "idempotent", "distinct", *(v for v, _ in _PAIRS), "µs/URL"]
    print(" | ".join(header))
    for name, fn in CANDIDATES.items():
        row = measure(name, fn, urls)
        agree = row["agree"]
        assert isinstance(agree, dict)
        cells = [str(row["errors"]), str(row["idempotent"]), str(row["distinct"])]
        cells += [str(agree[v]) for v, _ in _PAIRS]
        print(" | ".join([name, *cells, f"{row['us']:.1f}"]))


if __name__ == "__main__":
    main()
