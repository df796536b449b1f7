"""What the dense and keyword structures share: rows kept in immutable segments."""

from __future__ import annotations

from collections.abc import Callable, Sequence, Sized
from typing import TypeVar

import numpy as np

S = TypeVar("S", bound=Sized)


def keep_rows(
    segments: Sequence[S], mask: np.ndarray, rebuild: Callable[[S, np.ndarray], S]
) -> tuple[S, ...]:
    """The segments with only the rows where ``mask`` is true.

    A segment that keeps every row is reused as it is, one that keeps none is dropped, and
    only one that loses some rows is rebuilt (``rebuild(segment, its part of the mask)``).
    """
    mask = np.asarray(mask, dtype=bool)
    kept, lo = [], 0
    for seg in segments:
        part = mask[lo : lo + len(seg)]
        lo += len(seg)
        if part.all():
            kept.append(seg)
        elif part.any():
            kept.append(rebuild(seg, part))
    return tuple(kept)
