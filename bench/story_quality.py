"""Quality of the story stage on SemEval-2022 task 8 pairs, next to a plain TF-IDF cosine.

    PYTHONPATH=. python bench/story_quality.py --corpora ../shared/corpora

Every article of the shared pairs (Turkish, Arabic, French; each article once, in file order)
goes through the real `Storyteller` as one stream, with the declared language and no dates
(the set has none, so time proximity plays no part).  Then, over the pairs graded Overall <= 1.5
(same story) and >= 3.5 (different stories): precision, recall and F1 of "same `story_id`".
Also the Pearson correlation of the stage's own pair score (`score.score` with the final
window's idf) with Overall over all pairs (negative is right: 1 means same story), and the
baseline: scikit-learn TF-IDF cosine over each pair's title and text, thresholded at its best F1
on the same pairs.  The pairs are split in two halves by a hash of the pair id: the stage's
defaults were chosen on the "tune" half only; the "report" half was not used for tuning.
Finally the seeds: the two Izyum reports (002, 003) must share a story, the others not.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import logging
import tempfile
import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import structlog
from sklearn.feature_extraction.text import TfidfVectorizer

from daemon.dedup.keys import content_hash, event_id
from daemon.extract.textclean import clean_capture
from daemon.records import Article, ArticleFields, FeedEntry, Origin, Verdict
from daemon.settings import StoriesSettings
from daemon.state.sqlite import Store
from daemon.stories.score import score
from daemon.stories.storyteller import Storyteller
from daemon.stories.terms import profile

FETCHED = datetime(2020, 3, 25, tzinfo=UTC)
SAME, DIFFERENT = 1.5, 3.5
REPO = Path(__file__).resolve().parent.parent


def article(url: str, title: str | None, text: str, language: str | None) -> Article:
    entry = FeedEntry(origin=Origin(kind="replay", id="bench"), url=url)
    fields = ArticleFields(title=title, language=language)
    return Article(entry=entry, url=url, canonical_url=url, text=text,
                   fetched_at=FETCHED, extraction="ok", fields=fields)  # fmt: skip


def load_pairs(corpora: Path) -> list[dict[str, Any]]:
    path = corpora / "semeval2022-task8-news-similarity" / "pairs.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def articles_of(pairs: list[dict[str, Any]]) -> dict[str, Article]:
    """Each article once (by link), in order of first appearance."""
    found: dict[str, Article] = {}
    for pair in pairs:
        for side in ("1", "2"):
            link = pair["link" + side]
            if link not in found:
                found[link] = article(link, pair["title" + side], pair["text" + side],
                                      pair["lang" + side])  # fmt: skip
    return found


async def stream(
    articles: list[Article], settings: StoriesSettings
) -> tuple[dict[str, str], Storyteller]:
    """Story id by URL after deciding (and committing) every article in order."""
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.sqlite3")
        await store.open()
        teller = Storyteller(settings, store)
        await teller.start()
        stories = {}
        for item in articles:
            own = event_id(item.canonical_url, content_hash(item.text))
            verdict = await teller.decide(item, Verdict("new", own), own)
            await teller.commit(verdict)
            stories[item.url] = verdict.story_id
        await store.close()
    return stories, teller


def half(pair: dict[str, Any]) -> str:
    return "tune" if zlib.crc32(pair["pair_id"].encode()) % 2 == 0 else "report"


def prf(same: list[bool], labels: list[float]) -> dict[str, float | int]:
    """Precision, recall, F1 of `same` over the pairs labelled same (<= 1.5) or different."""
    tp = sum(1 for s, o in zip(same, labels, strict=True) if s and o <= SAME)
    fp = sum(1 for s, o in zip(same, labels, strict=True) if s and o >= DIFFERENT)
    fn = sum(1 for s, o in zip(same, labels, strict=True) if not s and o <= SAME)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 3), "recall": round(recall, 3), "f1": round(f1, 3),
            "tp": tp, "fp": fp, "fn": fn}  # fmt: skip


def best_threshold(scores: list[float], labels: list[float]) -> float:
    """The cut with the highest F1 of `score >= cut` on these pairs (ties: the lower cut)."""
    best, cut = -1.0, 0.0
    for candidate in sorted(set(scores)):
        f1 = float(prf([s >= candidate for s in scores], labels)["f1"])
        if f1 > best:
            best, cut = f1, candidate
    return cut


def tfidf_scores(pairs: list[dict[str, Any]], articles: dict[str, Article]) -> list[float]:
    links = list(articles)
    vectorizer = TfidfVectorizer(sublinear_tf=True)
    matrix = vectorizer.fit_transform(
        [f"{articles[u].fields.title or ''}\n{articles[u].text}" for u in links]
    )
    row = {link: i for i, link in enumerate(links)}
    return [float(matrix[row[p["link1"]]].multiply(matrix[row[p["link2"]]]).sum()) for p in pairs]


async def seeds_check(settings: StoriesSettings) -> dict[str, Any]:
    items = []
    for path in sorted((REPO / "seeds").glob("*.txt")):
        capture = clean_capture(path.read_text(encoding="utf-8"))
        entry = FeedEntry(
            origin=Origin(kind="replay", id="seeds"), url=f"https://seeds/{path.name}"
        )
        fields = ArticleFields(title=capture.title, language="en",
                               published_at=capture.published_at)  # fmt: skip
        items.append(Article(entry=entry, url=entry.url, canonical_url=entry.url,
                             text=capture.text, fetched_at=FETCHED, extraction="ok",
                             fields=fields))  # fmt: skip
    stories, _ = await stream(items, settings)
    by_seed = {Path(url).name[:3]: story for url, story in stories.items()}
    izyum = by_seed["002"] == by_seed["003"]
    apart = len({by_seed[n] for n in ("000", "001", "002", "004")}) == 4
    return {"izyum_reports_share_a_story": izyum, "other_seeds_apart": apart}


def report(
    pairs: list[dict[str, Any]], stories: dict[str, str], teller: Storyteller, baseline: list[float]
) -> dict[str, Any]:
    index = teller.index
    profiles = {}
    for pair in pairs:
        for side in ("1", "2"):
            profiles[pair["link" + side]] = profile(pair["title" + side], pair["text" + side],
                                                    pair["lang" + side])  # fmt: skip
    own = [score(profiles[p["link1"]], profiles[p["link2"]], 0.0, index.idf, index.name_idf,
                 index.knobs) for p in pairs]  # fmt: skip
    labels = [p["labels"]["Overall"] for p in pairs]
    result: dict[str, Any] = {}
    tune = [i for i, p in enumerate(pairs) if half(p) == "tune"]
    rest = [i for i in range(len(pairs)) if i not in set(tune)]
    for name, rows in (("all", list(range(len(pairs)))), ("tune", tune), ("report", rest)):
        same = [stories[pairs[i]["link1"]] == stories[pairs[i]["link2"]] for i in rows]
        lab = [labels[i] for i in rows]
        cut = best_threshold([baseline[i] for i in rows], lab)
        result[name] = {
            "pairs": len(rows),
            "stage": prf(same, lab),
            "tfidf_baseline_best_cut": {
                "cut": round(cut, 4),
                **prf([baseline[i] >= cut for i in rows], lab),
            },
        }
    tune_cut = best_threshold([baseline[i] for i in tune], [labels[i] for i in tune])
    result["report"]["tfidf_baseline_cut_from_tune"] = {
        "cut": round(tune_cut, 4),
        **prf([baseline[i] >= tune_cut for i in rest], [labels[i] for i in rest]),
    }
    result["pearson_stage_score_vs_overall"] = round(float(np.corrcoef(own, labels)[0, 1]), 3)
    result["pearson_tfidf_vs_overall"] = round(float(np.corrcoef(baseline, labels)[0, 1]), 3)
    result["by_language"] = {
        lang: prf([stories[p["link1"]] == stories[p["link2"]] for p in pairs if p["lang1"] == lang],
                  [p["labels"]["Overall"] for p in pairs if p["lang1"] == lang])
        for lang in sorted({p["lang1"] for p in pairs})
    }  # fmt: skip
    return result


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpora", type=Path, default=REPO.parent / "shared" / "corpora")
    parser.add_argument("--threshold", type=float, default=None, help="Override the default.")
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    settings = StoriesSettings()
    if args.threshold is not None:
        settings = settings.model_copy(update={"threshold": args.threshold})
    pairs = load_pairs(args.corpora)
    articles = articles_of(pairs)
    stories, teller = await stream(list(articles.values()), settings)
    result = report(pairs, stories, teller, tfidf_scores(pairs, articles))
    result["articles"] = len(articles)
    result["threshold"] = settings.threshold
    result["seeds"] = await seeds_check(settings)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
