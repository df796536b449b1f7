"""Sweep fusion settings on a BEIR dataset, scoring every variant from one retrieval pass.

    .venv/bin/python scripts/tune_fusion.py ../shared/bench/cmrc2018-zh-chunk --split tune

Each query is embedded and keyword-searched once (top 100 chunks per leg); every fusion
variant (RRF with several k and weights, min-max convex combinations) is then scored at
document level (a document scores by its best chunk) with the same metrics as ``rag eval``.
The index comes from the ``rag eval`` cache, so run ``rag eval`` on the dataset first.
Results chose the defaults in ``rag.search.searcher.SearchSettings`` (docs/retrieval.md).

CMRC 2018 (the bench data) is CC BY-SA 4.0: Yiming Cui et al., "A Span-Extraction Dataset
for Chinese Machine Reading Comprehension", EMNLP-IJCNLP 2019.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from api.settings import Settings
from rag.evaluation.beir import load_beir
from rag.evaluation.metrics import QueryResult, summarise
from rag.evaluation.runner import beir_documents, cached_index
from rag.search.fusion import convex, rrf


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--split", default="tune")
    ap.add_argument("--json", type=Path, help="also write the table as JSON here")
    args = ap.parse_args()
    config = Settings.from_env().engine_config()
    data = load_beir(args.dataset, args.split)
    index = cached_index(args.dataset.name, beir_documents(data.corpus), config)
    qids = list(data.queries)
    vectors = index.encoder.encode_queries([data.queries[q] for q in qids])
    d_scores, d_rows = index.dense.search(vectors, 100)
    from rag.index.tokenize import tokenize

    legs = []
    for i, qid in enumerate(qids):
        k_scores, k_rows = index.keyword.search(tokenize(data.queries[qid]), 100)
        dense = ([int(r) for r in d_rows[i] if r >= 0], [float(s) for s in d_scores[i]])
        legs.append((dense, ([int(r) for r in k_rows], [float(s) for s in k_scores])))
    doc_of = [c.doc_id for c in index.chunks]

    def score(fuse) -> dict:
        results = []
        for qid, (dense, keyword) in zip(qids, legs, strict=True):
            fused = fuse(dense, keyword)
            ranked = [doc_of[r] for r in sorted(fused, key=lambda r: (-fused[r], r))]
            results.append(QueryResult(qid, tuple(dict.fromkeys(ranked)), data.qrels.get(qid, {})))
        s = summarise(results, (1, 5, 10))
        return {
            m: round(s[m]["mean"], 4)
            for m in ("recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10")
        }

    variants = {
        "dense": lambda d, k: dict(zip(d[0], d[1], strict=True)),
        "bm25": lambda d, k: dict(zip(k[0], k[1], strict=True)),
    }
    for rk in (2, 5, 10, 20, 60):
        for wk in (1.0, 1.5, 2.0, 3.0):
            variants[f"rrf k={rk} kw={wk}"] = lambda d, k, rk=rk, wk=wk: rrf(
                {"dense": d[0], "keyword": k[0]}, {"dense": 1.0, "keyword": wk}, rk
            )
    for wk in (0.5, 0.8, 1.0, 1.5, 2.0, 3.0):
        variants[f"convex kw={wk}"] = lambda d, k, wk=wk: convex(
            {"dense": d, "keyword": k}, {"dense": 1.0, "keyword": wk}
        )
    table = {name: score(f) for name, f in variants.items()}
    header = ["variant", "recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10"]
    print(" | ".join(header))
    for name, row in sorted(table.items(), key=lambda kv: -kv[1]["mrr@10"]):
        print(" | ".join([name] + [f"{row[m]:.4f}" for m in header[1:]]))
    if args.json:
        args.json.write_text(json.dumps(table, indent=2))


if __name__ == "__main__":
    main()
