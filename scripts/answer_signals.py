"""Can the answerer's own signals choose the gold sentence better than its hand-tuned weights?

Prints, on tuning data only (the CMRC 2018 tuning half, CC BY-SA 4.0, read from
../shared/bench as `rag eval` does; the dev split; news-qa and news-qa2), how often the sentence
ranked first holds a gold answer (and one of the first three) under:

* the hand-tuned weights of :class:`rag.answering.scoring.Weights`;
* a linear combination of the five signals and ten derived ones (squares, products, sentence
  length), trained with a softmax over each question's candidates;
* a linear map on the question vector (the identity plus a trained 384x384 matrix), which
  adapts e5's similarity to answer-bearing sentences.

The CMRC half is cut in two folds by article: each learner is fitted on one fold (with the
other sets) and scored on the other. Last, what reading each question's candidates together
with the question costs with a model of e5-small's size (a cross-encoder's forward pass).
docs/answers.md (eleventh round) records the figures. Usage: ``python
scripts/answer_signals.py [--epochs N]``.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api.settings import Settings  # noqa: E402
from rag.answering.extractive import ExtractiveAnswerer, _gather  # noqa: E402
from rag.answering.pipeline import retrieve  # noqa: E402
from rag.answering.scoring import SENTENCE_VECTORS  # noqa: E402
from rag.embedding.base import Encoder  # noqa: E402
from rag.evaluation import runner  # noqa: E402
from rag.evaluation.answers import holds  # noqa: E402
from rag.evaluation.beir import load_beir  # noqa: E402
from rag.search.searcher import Searcher  # noqa: E402

BENCH = ROOT.parent / "shared" / "bench" / "cmrc2018-zh-chunk"
DATA = ROOT / "tests" / "data"


def _extract(index, cases, partial: bool, config) -> list[dict]:
    """Each question's candidates: signals, vectors, and which hold a gold text."""
    searcher = Searcher(index, config.search)
    answerer = ExtractiveAnswerer(encoder=index.encoder)
    out = []
    for qid, lang, text, golds in cases:
        result = retrieve(searcher, text, 5)
        cands = _gather(sorted(result.hits, key=lambda h: h.rank), index.documents)
        if not golds or not cands:
            continue
        embedded = result.embedded or text
        texts = [c.text for c in cands]
        out.append({
            "id": qid,
            "lang": lang,
            "f": np.array(answerer.features(text, cands, embedded)),
            "q": np.asarray(index.encoder.encode_queries([embedded]), dtype=np.float32)[0],
            "s": SENTENCE_VECTORS.get(index.encoder, texts),
            "len": np.array([len(t) for t in texts], dtype=np.float32),
            "y": np.array([holds(t, golds, partial) for t in texts]),
            "text": text,
            "texts": texts,
        })  # fmt: skip
    return out


def load_sets(config) -> tuple[list[dict], list[dict], list[dict], Encoder]:
    """The CMRC tuning half, its questions asked in English, the other tuning sets, and the
    encoder they were read with."""
    data = load_beir(BENCH, "tune")
    index = runner.cached_index(BENCH.name, runner.beir_documents(data.corpus), config)
    encoder = index.encoder
    cmrc = _extract(index, runner.beir_answer_cases(BENCH, "tune", None, "tune"), False, config)
    cmrc_en = _extract(
        index,
        runner.beir_answer_cases(BENCH, "tune", None, "tune", DATA / "cmrc-en-tune.jsonl"),
        False,
        config,
    )
    docs = runner.load_documents(list(config.corpus))
    page = runner.cached_index("questions", docs, config)
    other = _extract(
        page, runner.question_answer_cases(DATA / "questions.jsonl", "dev"), True, config
    )
    for name in ("news-qa", "news-qa2"):
        index = runner.cached_index(name, runner.load_documents([DATA / name]), config)
        cases = runner.question_answer_cases(DATA / f"{name}-questions.jsonl")
        other += _extract(index, cases, True, config)
    return cmrc, cmrc_en, other, encoder


# ---- scorers -----------------------------------------------------------------------------------
HAND = np.array([0.5, 0.8, 0.6, 0.3, 0.0])


def _derived(o: dict) -> np.ndarray:
    f = o["f"]
    d, w, t = f[:, 0], f[:, 1], f[:, 3]
    cos = o["s"] @ o["q"]
    extra = [d * d, w * w, d * w, d * t, w * t, (d == 1) * 1.0, (w == 1) * 1.0,
             cos - cos.max(), np.minimum(t, 1), o["len"] / 100]  # fmt: skip
    return np.concatenate([f, np.stack(extra, 1)], 1).astype(np.float32)


def _article(o: dict) -> str:
    return o["id"].split("_QUERY")[0]


def _first(o: dict, scores: np.ndarray) -> tuple[bool, bool]:
    order = np.argsort(-scores, kind="stable")
    return bool(o["y"][order[0]]), bool(o["y"][order[:3]].any())


def rate(sets: list[dict], score) -> str:
    hits = [_first(o, score(o)) for o in sets]
    top1 = sum(h[0] for h in hits) / len(hits)
    top3 = sum(h[1] for h in hits) / len(hits)
    return f"{top1:.3f} / {top3:.3f}"


def _trainable(sets: list[dict]) -> list[dict]:
    return [o for o in sets if o["y"].any() and not o["y"].all()]


def fit_linear(sets: list[dict], epochs: int) -> np.ndarray:
    xs = [torch.tensor(_derived(o)) for o in _trainable(sets)]
    ys = [torch.tensor(o["y"]) for o in _trainable(sets)]
    w = torch.tensor(np.concatenate([HAND, np.zeros(10)]), dtype=torch.float32)
    w.requires_grad_()
    opt = torch.optim.Adam([w], lr=1e-2)
    for _ in range(epochs * 10):
        loss = (
            sum(
                torch.logsumexp((x @ w) / 0.1, 0) - torch.logsumexp((x @ w)[y] / 0.1, 0)
                for x, y in zip(xs, ys, strict=True)
            )
            / len(xs)
            + 1e-2 * (w**2).sum()
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
    return w.detach().numpy()


def fit_adapter(sets: list[dict], epochs: int) -> np.ndarray:
    items = [(torch.tensor(o["q"]), torch.tensor(o["s"]), torch.tensor(o["y"]))
             for o in _trainable(sets)]  # fmt: skip
    dim = items[0][0].shape[0]
    delta = torch.zeros(dim, dim, requires_grad=True)
    opt = torch.optim.Adam([delta], lr=1e-3)
    rng = random.Random(0)
    for _ in range(epochs):
        rng.shuffle(items)
        for b in range(0, len(items), 32):
            m = torch.eye(dim) + delta
            loss = 0.0
            for q, s, y in items[b : b + 32]:
                v = m @ q
                logits = (s @ (v / v.norm())) / 0.05
                loss = loss + torch.logsumexp(logits, 0) - torch.logsumexp(logits[y], 0)
            opt.zero_grad()
            (loss / len(items[b : b + 32])).backward()
            opt.step()
    return (torch.eye(dim) + delta).detach().numpy()


def _combined(w: np.ndarray):
    return lambda o: _derived(o) @ w


def _dense_only(m: np.ndarray | None):
    def score(o: dict) -> np.ndarray:
        q = o["q"] if m is None else m @ o["q"]
        return o["s"] @ q

    return score


def reader_cost(sets: list[dict], encoder: Encoder, n: int = 40) -> tuple[float, float]:
    """Median ms to run question+sentence pairs of ``n`` questions through the encoder."""
    times, sizes = [], []
    for o in sets[:n]:
        pairs = [f"{o['text']} {t}" for t in o["texts"]]
        t0 = time.perf_counter()
        encoder.encode_documents(pairs)
        times.append((time.perf_counter() - t0) * 1000)
        sizes.append(len(pairs))
    return statistics.median(times), statistics.median(sizes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()
    cmrc, cmrc_en, other, encoder = load_sets(Settings.from_env().engine_config())
    articles = sorted({_article(o) for o in cmrc})
    random.Random(1).shuffle(articles)
    first = set(articles[::2])

    def fold(sets: list[dict], k: int) -> list[dict]:
        return [o for o in sets if (_article(o) in first) == (k == 0)]

    print(f"CMRC tuning half: {len(fold(cmrc, 0))} + {len(fold(cmrc, 1))} questions (English: "
          f"{len(cmrc_en)}); other sets {len(other)}. Figures: first / any of first three.")  # fmt: skip
    hand = _combined(np.concatenate([HAND, np.zeros(10)]))
    for k in (0, 1):
        # Fitted on one fold (its English questions too) and the other sets, scored on the
        # other fold's questions, in Chinese and in English.
        train = fold(cmrc, k) + fold(cmrc_en, k) + other
        test, english = fold(cmrc, 1 - k), fold(cmrc_en, 1 - k)
        w = fit_linear(train, args.epochs)
        m = fit_adapter(train, args.epochs)
        print(f"fold {k + 1}: hand weights {rate(test, hand)} | learned combination "
              f"{rate(test, _combined(w))} | English: hand {rate(english, hand)}, learned "
              f"{rate(english, _combined(w))}")  # fmt: skip
        print(f"        dense signal alone {rate(test, _dense_only(None))} | with the adapted "
              f"question {rate(test, _dense_only(m))} (on its training questions "
              f"{rate(fold(cmrc, k), _dense_only(m))})")  # fmt: skip
    ms, size = reader_cost(cmrc, encoder)
    print(f"reading question and sentence together: median {ms:.0f} ms a question "
          f"({size:.0f} candidates, the default encoder)")  # fmt: skip


if __name__ == "__main__":
    main()
