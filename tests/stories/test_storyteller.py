"""The story stage: given these articles in this order, these stories; durable after acks."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from daemon.dedup.keys import content_hash, event_id
from daemon.extract.textclean import CleanCapture
from daemon.records import Article, Verdict
from daemon.settings import StoriesSettings
from daemon.state.sqlite import Store
from daemon.stories.storyteller import Storyteller, StoryVerdict

from .conftest import T0

Make = Callable[..., Article]

IZYUM_A = (
    "The Russian Defense Ministry announced on Saturday that troops were pulled back from "
    "Izyum and Balakleya to regroup in Donetsk, state agency TASS reported. Ukrainian forces "
    "had retaken Kupiansk, north of Izyum, earlier in the week."
)
IZYUM_B = (
    "Russia said on Saturday its forces would leave the Izium area in Kharkiv province. "
    "TASS quoted the defense ministry: units in Balakliya and Izium move to Donetsk. Kyiv "
    "said its troops had entered Kupiansk."
)
ELECTION = (
    "Voters in Sweden went to the polls on Sunday in a parliamentary election that pits Prime "
    "Minister Magdalena Andersson against a bloc led by Ulf Kristersson of the Moderates."
)


def eid(article: Article) -> str:
    return event_id(article.canonical_url, content_hash(article.text))


async def publish(teller: Storyteller, article: Article, verdict: Verdict | None = None) -> str:
    own = eid(article)
    story = await teller.decide(article, verdict or Verdict("new", own), own)
    await teller.commit(story)
    return story.story_id


async def test_the_izyum_seeds_share_a_story_and_the_others_do_not(
    storyteller: Storyteller, seeds: dict[str, CleanCapture], article: Make
) -> None:
    """Seeds 002 and 003 (the 10 September withdrawal from Izyum, two outlets) get one story;
    000, 001 and 004 (related, different events) each get their own."""
    stories = {}
    for number, capture in seeds.items():
        item = article(capture.text, f"https://seed.example/{number}", title=capture.title,
                       published=capture.published_at)  # fmt: skip
        stories[number] = await publish(storyteller, item)
    assert stories["002"] == stories["003"]
    assert len({stories[n] for n in ("000", "001", "002", "004")}) == 4


async def test_a_second_report_joins_and_an_unrelated_article_starts_a_story(
    storyteller: Storyteller, article: Make
) -> None:
    """The story id is the first article's event id; the size counts its articles."""
    first = article(IZYUM_A, "https://a.example/1", title="Russia pulls troops from Izyum")
    second = article(IZYUM_B, "https://b.example/1", title="Russian forces leave Izium area")
    other = article(ELECTION, "https://c.example/1", title="Sweden votes")
    own = eid(first)
    one = await storyteller.decide(first, Verdict("new", own), own)
    two = await storyteller.decide(second, Verdict("new", eid(second)), eid(second))
    three = await storyteller.decide(other, Verdict("new", eid(other)), eid(other))
    assert (one.story_id, one.story_size, one.score) == (own, 1, None)
    assert (two.story_id, two.story_size) == (own, 2) and two.score is not None
    assert (three.story_id, three.story_size) == (eid(other), 1)
    assert two.summary.outlets == ("a.example", "b.example")
    assert two.summary.headline == "Russia pulls troops from Izyum"


async def test_reposts_join_their_original_and_count_updates_do_not(
    storyteller: Storyteller, article: Make
) -> None:
    """A duplicate is in its original's story (size + 1); an update keeps the size."""
    original = article(IZYUM_A, "https://a.example/1")
    story_id = await publish(storyteller, original)
    repost = article(IZYUM_A + " (AP)", "https://mirror.example/1")
    dup = Verdict("duplicate", eid(original), duplicate_of=eid(original), similarity=0.9)
    joined = await storyteller.decide(repost, dup, eid(repost))
    revised = article(IZYUM_A + " Updated.", "https://a.example/1")
    update = await storyteller.decide(revised, Verdict("updated", eid(original)), eid(revised))
    assert (joined.story_id, joined.story_size, joined.profile) == (story_id, 2, None)
    assert (update.story_id, update.story_size) == (story_id, 2)


async def test_a_report_days_later_starts_a_new_story(
    storyteller: Storyteller, article: Make
) -> None:
    """Past the window (72 h of article time), the same words make a new story."""
    first = await publish(storyteller, article(IZYUM_A, "https://a.example/1"))
    later = article(IZYUM_B, "https://b.example/1", published=T0 + timedelta(days=4))
    assert await publish(storyteller, later) != first


async def test_released_articles_leave_no_trace(storyteller: Storyteller, article: Make) -> None:
    """An article whose event was never acknowledged is taken back: the next report of the
    same event starts the story itself."""
    first = article(IZYUM_A, "https://a.example/1")
    pending = await storyteller.decide(first, Verdict("new", eid(first)), eid(first))
    await storyteller.release(pending)
    second = article(IZYUM_B, "https://b.example/1")
    assert await publish(storyteller, second) == eid(second)


async def test_committed_stories_survive_a_restart_and_pending_ones_do_not(
    store: Store, article: Make
) -> None:
    """After a restart, a new report joins the committed story with the right size; an
    article that was decided but never committed is not remembered."""
    teller = Storyteller(StoriesSettings(), store)
    await teller.start()
    first = article(IZYUM_A, "https://a.example/1", site="Outlet A")
    story_id = await publish(teller, first)
    unsent = article(ELECTION, "https://c.example/1")
    await teller.decide(unsent, Verdict("new", eid(unsent)), eid(unsent))

    again = Storyteller(StoriesSettings(), store)
    await again.start()
    second = article(IZYUM_B, "https://b.example/1", site="Outlet B")
    joined: StoryVerdict = await again.decide(second, Verdict("new", eid(second)), eid(second))
    assert (joined.story_id, joined.story_size) == (story_id, 2)
    assert joined.summary.outlets == ("Outlet A", "Outlet B")
    assert again.index.story_of(eid(unsent)) is None


async def test_the_same_input_gives_the_same_stories(tmp_path: Path, article: Make) -> None:
    """Two fresh stages fed the same articles in the same order decide the same stories."""
    texts = [IZYUM_A, ELECTION, IZYUM_B, ELECTION + " More later."]
    runs = []
    for run in ("one", "two"):
        store = Store(tmp_path / f"{run}.sqlite3")
        await store.open()
        teller = Storyteller(StoriesSettings(), store)
        await teller.start()
        ids = [
            await publish(teller, article(t, f"https://x.example/{i}")) for i, t in enumerate(texts)
        ]
        runs.append(ids)
        await store.close()
    assert runs[0] == runs[1]
    assert runs[0][0] == runs[0][2] and runs[0][1] == runs[0][3] and runs[0][0] != runs[0][1]
