"""Repost variants of a real body, and the shared-boilerplate trap (used by tests and bench)."""

from __future__ import annotations

import random
import re

_SENTENCE = re.compile(r"(?<=[.!?])\s+")

CHROME_TOP = "Home | News | World\n\nShare on Facebook Share on Twitter Email this story\n\n"
CHROME_BOTTOM = (
    "\n\nAdvertisement\n\nRelated stories: Markets rally as rates hold; Storm warning issued"
    "\n\nSign up for our morning newsletter.\n\n© 2024 Example Media Group. All rights reserved."
)

FOOTERS = (
    "About Northwind Holdings. Northwind Holdings is a global provider of logistics software "
    "and services that helps more than 4,000 companies in 60 countries plan, move and track "
    "goods. Founded in 1998 and headquartered in Rotterdam, the company employs 7,500 people. "
    "Forward-looking statements. This press release contains forward-looking statements within "
    "the meaning of the Private Securities Litigation Reform Act of 1995, including statements "
    "about expected growth, product plans and market conditions. These statements are based on "
    "current expectations and are subject to risks and uncertainties that could cause actual "
    "results to differ materially, including changes in demand, competition, currency rates and "
    "the other factors described in the company's annual report. The company undertakes no "
    "obligation to update any forward-looking statement. Media contact: press@northwind.example, "
    "+31 10 555 0100. Investor relations: ir@northwind.example.",
    "Disclaimer: The information on this page is provided for general information only and does "
    "not constitute investment, legal or tax advice. Past performance is not a reliable "
    "indicator of future results. The value of investments and the income from them can go down "
    "as well as up and you may not get back the amount originally invested. Readers should seek "
    "independent professional advice before making any decision. The publisher accepts no "
    "liability for any loss arising from reliance on this material, and no part of it may be "
    "reproduced without written permission. Prices quoted are indicative and delayed by at least "
    "fifteen minutes. Data provided by third parties is believed to be accurate but is not "
    "guaranteed, and the publisher may hold positions in the securities mentioned in this report.",
)


def sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE.split(text) if s.strip()]


def with_chrome(text: str) -> str:
    """Page chrome (navigation, share buttons, related links, copyright) around the body."""
    return CHROME_TOP + text + CHROME_BOTTOM


def with_headline(text: str, headline: str = "Breaking: what we know so far") -> str:
    """A rewritten headline on top of the body."""
    return f"{headline}\n\n{text}"


def edited(text: str, rng: random.Random, share: float = 0.1) -> str:
    """`share` of the sentences edited: about a third of each one's words replaced."""
    parts = sentences(text)
    for i in rng.sample(range(len(parts)), max(1, round(share * len(parts)))):
        words = parts[i].split()
        for j in range(0, len(words), 3):
            words[j] = rng.choice(["officials", "reportedly", "new", "said", "also", "the"])
        parts[i] = " ".join(words)
    return " ".join(parts)


def truncated(text: str, share: float = 0.6) -> str:
    """The first `share` of the words, cut at a sentence end when there is one."""
    words = text.split(" ")
    head = " ".join(words[: max(1, round(share * len(words)))])
    end = max(head.rfind(". "), head.rfind(".\n"))
    return head[: end + 1] if end > len(head) // 2 else head


def with_wire_credit(text: str) -> str:
    """A wire dateline and a credit line added."""
    return f"MADRID (EFE) — {text}\n\n(Reporting by Ana Ruiz; Editing by Tom Hale)"


def combined(text: str, rng: random.Random) -> str:
    """Chrome, headline, 10 % edited sentences and a 70 % truncation all at once."""
    return with_chrome(with_headline(truncated(edited(text, rng), 0.7)))


def variants(text: str, rng: random.Random) -> dict[str, str]:
    """Every named variant of one body."""
    return {
        "chrome": with_chrome(text),
        "headline": with_headline(text),
        "edited10": edited(text, rng),
        "truncated60": truncated(text),
        "wire_credit": with_wire_credit(text),
        "combined": combined(text, rng),
    }


def boilerplate_pair(first: str, second: str, footer: str, words: int) -> tuple[str, str]:
    """Two different short items (`words` words of each body) sharing one long footer."""
    head_a = " ".join(first.split()[:words])
    head_b = " ".join(second.split()[:words])
    return f"{head_a}\n\n{footer}", f"{head_b}\n\n{footer}"


def corpus_footer(body: str, words: int) -> str:
    """A footer of about `words` words cut from a corpus body: whole sentences from its start
    while they fit, then cut at a word (real text, not a template the rule could learn)."""
    picked: list[str] = []
    for sentence in sentences(body):
        picked += sentence.split()
        if len(picked) >= words:
            break
    return " ".join(picked[:words])


def footer_pairs(bodies: list[str], rng: random.Random, count: int) -> list[tuple[str, str, bool]]:
    """`count` pairs of different items sharing a footer: (first, second, same_site).

    Own texts are the openings (20 to 80 words, drawn apart for each item) of two corpus
    bodies; the footer (60 to 200 words) is cut from a third body, used by this pair only, so
    it appears for the first time.  Half the pairs are from one site, half across sites.
    """
    pairs: list[tuple[str, str, bool]] = []
    long_enough = [b for b in bodies if len(b.split()) >= 200]
    for i in range(count):
        donor = rng.choice(long_enough)
        first, second = rng.sample([b for b in bodies if b is not donor], 2)
        footer = corpus_footer(donor, rng.randint(60, 200))
        own_a = " ".join(first.split()[: rng.randint(20, 80)])
        own_b = " ".join(second.split()[: rng.randint(20, 80)])
        pairs.append((f"{own_a}\n\n{footer}", f"{own_b}\n\n{footer}", i % 2 == 0))
    return pairs
