"""`chirp train-ranker`: train the ranked home timeline's model from the event log.

1. **Moments.** The log holds no impressions, only what readers did. A reader's engagements
   (likes, retweets, replies) come in sessions: one that follows the reader's previous
   engagement by more than SESSION_GAP starts a session, and its moment is a moment the
   reader looked at the home timeline.
2. **Examples.** At each moment, the home timeline's candidates (operations/ranker_history.py)
   with their features as of that moment: the log is applied in time order and the features
   are taken before the moment's own event, so nothing of the future leaks in. The label: did
   the reader like, retweet or reply to the candidate within LABEL_WINDOW.
3. **Split by time.** Moments before the held-out period train; the held-out later period
   (the last `holdout` share of the moments' span) evaluates. Training moments whose label
   window reaches into the held-out period are left out.
4. **Model.** scikit-learn's logistic regression on standardised features, negatives
   sampled per moment (all positives kept).
5. **Metrics** on the held-out moments, every candidate: AUC and log loss of the model, and
   NDCG@20 of its order against reverse-chronological order (the default timeline) and
   against a control trained on shuffled labels, which must not beat chronological order.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterable
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from infra.settings import Settings
from operations.ranker_history import History, event_ms
from projections.ranking import FEATURES, HalfLives, Model
from schemas import events as ev

SESSION_GAP_MS = 30 * 60_000
LABEL_WINDOW_MS = 60 * 60_000
# Negatives kept per training moment: enough to learn from, few enough to train in seconds.
NEGATIVES_PER_MOMENT = 40
NDCG_AT = 20
# The topics whose events the ranker learns from (the archive names them without a prefix).
RANKER_TOPICS = ["tweets", "follows", "engagements"]


@dataclass
class Moment:
    """A reader looking at the home timeline at `at_ms`: the candidates (tweet ids, in
    chronological order), their feature rows, and the tweets engaged with since."""

    viewer: int
    at_ms: int
    tweet_ids: list[int]
    rows: np.ndarray
    engaged: set[int] = field(default_factory=set)

    def labels(self) -> np.ndarray:
        return np.fromiter((t in self.engaged for t in self.tweet_ids), dtype=np.int8)


@dataclass
class Examples:
    """The moments before the split (negatives sampled) and the held-out ones after it."""

    split_ms: int
    training: list[Moment] = field(default_factory=list)
    held_out: list[Moment] = field(default_factory=list)


def _engagement(event: ev.Event) -> tuple[int, int] | None:
    """(reader, tweet) if the event is a reader engaging with a tweet."""
    match event:
        case ev.TweetLiked() | ev.TweetRetweeted():
            return event.user_id, event.tweet_id
        case ev.TweetPosted() if event.reply_to is not None:
            return event.author_id, event.reply_to
    return None


def examples(
    events: Iterable[ev.Event], half_lives: HalfLives, holdout: float = 0.25, seed: int = 7
) -> Examples:
    """Every moment of the log (events in any order: they are applied in time order) with its
    candidates' features as of then and what the reader engaged with in the label window;
    the last `holdout` share of the engagements' time span held out."""
    ordered = sorted(events, key=lambda e: e.event_id)
    times = [event_ms(e) for e in ordered if _engagement(e) is not None]
    if not times:
        raise ValueError("the log holds no moment to learn from: no reader engaged with a tweet")
    split = times[-1] - int((times[-1] - times[0]) * holdout)
    found = Examples(split)
    rng = random.Random(seed)
    history = History()
    last_engaged: dict[int, int] = {}
    open_moments: dict[int, Moment] = {}
    closing: deque[Moment] = deque()  # in the order they close: by time

    def close(until_ms: int) -> None:
        while closing and closing[0].at_ms + LABEL_WINDOW_MS <= until_ms:
            moment = closing.popleft()
            if moment.at_ms >= split:
                found.held_out.append(moment)
            elif moment.at_ms + LABEL_WINDOW_MS <= split:
                found.training.append(_sampled(moment, rng))

    for event in ordered:
        at = event_ms(event)
        close(at)
        engaged = _engagement(event)
        if engaged is not None:
            reader, tweet_id = engaged
            moment = open_moments.get(reader)
            if moment is not None and at >= moment.at_ms + LABEL_WINDOW_MS:
                moment = None
            if at - last_engaged.get(reader, -SESSION_GAP_MS - 1) > SESSION_GAP_MS:
                moment = _moment(history, reader, at, half_lives)
                if moment is not None:
                    open_moments[reader] = moment
                    closing.append(moment)
            last_engaged[reader] = at
            if moment is not None:
                moment.engaged.add(tweet_id)
        history.apply(event)
    close(times[-1] + LABEL_WINDOW_MS)
    return found


def _moment(history: History, viewer: int, at_ms: int, half_lives: HalfLives) -> Moment | None:
    entries, rows = history.features(viewer, at_ms, half_lives)
    if not entries:
        return None
    return Moment(
        viewer, at_ms, [entry.tweet_id for entry in entries], np.array(rows, dtype=np.float32)
    )


def _sampled(moment: Moment, rng: random.Random) -> Moment:
    """The moment with its positives and at most NEGATIVES_PER_MOMENT negatives."""
    labels = moment.labels()
    negatives = [i for i, label in enumerate(labels) if not label]
    keep = sorted(
        {i for i, label in enumerate(labels) if label}
        | set(rng.sample(negatives, min(len(negatives), NEGATIVES_PER_MOMENT)))
    )
    return Moment(
        moment.viewer,
        moment.at_ms,
        [moment.tweet_ids[i] for i in keep],
        moment.rows[keep],
        moment.engaged,
    )


@dataclass(frozen=True)
class Report:
    """What training measured on the held-out period."""

    train_moments: int
    test_moments: int
    train_examples: int
    test_examples: int
    positives_share: float
    auc: float
    log_loss: float
    ndcg_model: float
    ndcg_chronological: float
    ndcg_shuffled_control: float
    split_at: str

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def train(found: Examples, seed: int = 7) -> tuple[Model, Report, Model]:
    """The model (its held-out report in its metrics) and the shuffled-label control's."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss, roc_auc_score
    from sklearn.preprocessing import StandardScaler

    if not found.training or not found.held_out:
        raise ValueError("too few moments on one side of the split to train and evaluate")
    x_train = np.concatenate([m.rows for m in found.training])
    y_train = np.concatenate([m.labels() for m in found.training])
    if len(set(y_train.tolist())) < 2:
        raise ValueError("the training period needs engaged and unengaged candidates")
    scaler = StandardScaler().fit(x_train)
    version = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")

    def fitted(labels: np.ndarray, name: str) -> Model:
        regression = LogisticRegression(max_iter=1000).fit(scaler.transform(x_train), labels)
        return Model(
            version=name,
            features=FEATURES,
            mean=tuple(float(m) for m in scaler.mean_),
            scale=tuple(float(s) if s > 0 else 1.0 for s in scaler.scale_),
            coef=tuple(float(c) for c in regression.coef_[0]),
            intercept=float(regression.intercept_[0]),
            metrics={},
        )

    model = fitted(y_train, version)
    control = fitted(np.random.default_rng(seed).permutation(y_train), f"{version}-shuffled")

    held_out = found.held_out
    x_test = np.concatenate([m.rows for m in held_out])
    y_test = np.concatenate([m.labels() for m in held_out])
    probabilities = 1 / (1 + np.exp(-model.logits(x_test)))
    both = 0 < int(y_test.sum()) < len(y_test)
    report = Report(
        train_moments=len(found.training),
        test_moments=len(held_out),
        train_examples=len(y_train),
        test_examples=len(y_test),
        positives_share=float(y_test.mean()),
        auc=float(roc_auc_score(y_test, probabilities)) if both else 0.5,
        log_loss=float(log_loss(y_test, probabilities, labels=[0, 1])),
        ndcg_model=mean_ndcg(held_out, lambda m: model.logits(m.rows)),
        ndcg_chronological=mean_ndcg(held_out, _chronological),
        ndcg_shuffled_control=mean_ndcg(held_out, lambda m: control.logits(m.rows)),
        split_at=datetime.fromtimestamp(found.split_ms / 1000, UTC).isoformat(),
    )
    trained = Model(**{**model.__dict__, "metrics": report.as_dict()})
    return trained, report, control


def _chronological(moment: Moment) -> np.ndarray:
    """Newest first: the candidates are in chronological order already."""
    return -np.arange(len(moment.tweet_ids), dtype=np.float64)


def mean_ndcg(held_out: list[Moment], scores) -> float:
    """NDCG@20 of the order `scores(moment)` gives, averaged over the moments that have an
    engaged candidate and more than one candidate (scikit-learn's ndcg_score)."""
    from sklearn.metrics import ndcg_score

    values = []
    for moment in held_out:
        labels = moment.labels()
        if not labels.any() or len(labels) < 2:
            continue
        values.append(ndcg_score([labels], [scores(moment)], k=NDCG_AT))
    return float(sum(values) / len(values)) if values else 0.0


def archived_events(settings: Settings, start: datetime | None, end: datetime | None):
    """The archive's events that occurred in [start, end), decoded (upcast); those this code
    cannot decode are left out and counted."""
    import asyncio

    from psycopg_pool import AsyncConnectionPool

    from streams.archive import PostgresArchive

    async def read() -> tuple[list[ev.Event], int]:
        found, skipped = [], 0
        async with AsyncConnectionPool(settings.postgres, min_size=1, max_size=1) as pool:
            archive = PostgresArchive(pool, settings.archive_schema)
            async with aclosing(archive.events(start, end, RANKER_TOPICS)) as archived:
                async for event in archived:
                    try:
                        found.append(ev.decode(event.value))
                    except ev.UndecodableEvent:
                        skipped += 1
        return found, skipped

    return asyncio.run(read())


def exported_events(path: Path) -> tuple[list[ev.Event], int]:
    """The events of a `chirp export --format jsonl` file; those this code cannot decode are
    left out and counted."""
    found, skipped = [], 0
    with path.open("rb") as lines:
        for line in lines:
            if line.strip():
                try:
                    found.append(ev.decode(line))
                except ev.UndecodableEvent:
                    skipped += 1
    return found, skipped


def write_model(model: Model, directory: Path) -> Path:
    """The model as `ranker-<version>.json` in `directory` (made if missing)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"ranker-{model.version}.json"
    path.write_bytes(model.to_json())
    return path


def publish_model(settings: Settings, model: Model) -> None:
    """Publish `model` to the deployment's API processes (projections/ranker_models.py)."""
    import asyncio

    from psycopg_pool import AsyncConnectionPool

    from projections.ranker_models import publish

    async def run() -> None:
        async with AsyncConnectionPool(settings.postgres, min_size=1, max_size=1) as pool:
            await publish(pool, model)

    asyncio.run(run())
