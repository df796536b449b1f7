"""Combining the dense and keyword rankings into one."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np


def rrf(
    rankings: Mapping[str, list[int]], weights: Mapping[str, float], k: float
) -> dict[int, float]:
    """Weighted reciprocal-rank fusion: ``sum_leg w_leg / (k + rank_leg)`` (ranks from 1)."""
    fused: dict[int, float] = {}
    for leg, rows in rankings.items():
        w = weights.get(leg, 0.0)
        if w <= 0:
            continue
        for rank, row in enumerate(rows, start=1):
            fused[row] = fused.get(row, 0.0) + w / (k + rank)
    return fused


def convex(
    scores: Mapping[str, tuple[list[int], list[float]]], weights: Mapping[str, float]
) -> dict[int, float]:
    """Weighted sum of per-leg scores, each min-max normalised over its own candidate list.

    A candidate missing from a leg's list gets that leg's minimum (0 after normalising).
    Unlike RRF this keeps how far ahead the best candidate is, which matters when one leg
    is very sure (a near-verbatim keyword match).
    """
    fused: dict[int, float] = {}
    for leg, (rows, values) in scores.items():
        w = weights.get(leg, 0.0)
        if w <= 0 or not rows:
            continue
        arr = np.asarray(values, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        norm = (arr - lo) / (hi - lo) if hi > lo else np.ones_like(arr)
        for row, value in zip(rows, norm, strict=True):
            fused[row] = fused.get(row, 0.0) + w * float(value)
    return fused
