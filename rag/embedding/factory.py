"""Build the configured encoder: which model, which runtime (ONNX Runtime or torch), batching.

Runtimes:

* ``onnx``: ONNX Runtime on CPU, int8 weights (:mod:`rag.embedding.onnx_encoder`), exported
  once from the model folder and cached beside it. About 4x faster per query than torch fp32
  on CPU and no torch in the serving process.
* ``torch``: sentence-transformers on torch, fp32 on CPU, fp16 on a GPU.
* ``auto`` (default): ``onnx`` on CPU, ``torch`` on a GPU (``device="cuda"``); ``torch`` for a
  model that is not a local folder (ONNX export needs the files).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from rag.embedding.base import Encoder
from rag.errors import InputError

Runtime = Literal["auto", "onnx", "torch"]
RUNTIMES: tuple[str, ...] = ("auto", "onnx", "torch")


def resolve_runtime(runtime: str, device: str, model_is_folder: bool = True) -> str:
    """The runtime ``auto`` stands for, or ``runtime`` itself after checking it.

    Raises:
        InputError: for an unknown runtime, or ``onnx`` with a GPU device.
    """
    if runtime not in RUNTIMES:
        raise InputError(f"runtime must be one of {', '.join(RUNTIMES)}; got {runtime!r}")
    if runtime == "auto":
        return "onnx" if device == "cpu" and model_is_folder else "torch"
    if runtime == "onnx" and device != "cpu":
        raise InputError(
            f"runtime 'onnx' runs on the CPU only; with device {device!r} use runtime 'torch' "
            "(or 'auto')"
        )
    return runtime


def build_encoder(
    model_dir: Path,
    name: str,
    *,
    runtime: str = "auto",
    device: str = "cpu",
    query_prompt: str | None = "query: ",
    passage_prompt: str | None = "passage: ",
    batching: bool = True,
) -> Encoder:
    """An encoder for the sentence-transformers model at ``model_dir`` (not loaded yet).

    Args:
        model_dir: A model folder, or a name ``SentenceTransformer`` accepts (torch only).
        name: The model's name as index manifests record it.
        runtime: ``auto``, ``onnx`` or ``torch`` (see the module docstring).
        device: torch device; ``cpu`` or e.g. ``cuda``.
        query_prompt: Text put before every query.
        passage_prompt: Text put before every passage.
        batching: Wrap it in a :class:`rag.embedding.batching.BatchingEncoder` (concurrent
            queries share one call; an LRU cache of query vectors).

    Raises:
        InputError: for a bad runtime/device combination.
        ModelError: if the ONNX export fails.
    """
    is_folder = Path(str(model_dir)).is_dir()
    chosen = resolve_runtime(runtime, device, is_folder)
    encoder: Encoder
    # Calls that may run at once: ONNX runs each call on one core, torch spreads one over all.
    concurrent = 1
    if chosen == "onnx":
        if not is_folder:
            raise InputError(
                f"runtime 'onnx' needs a local model folder to export; {model_dir!s} is not one: "
                "use runtime 'torch' for it"
            )
        from rag.embedding.onnx_encoder import OnnxEncoder
        from rag.embedding.onnx_export import ensure_onnx_model

        encoder = OnnxEncoder(
            ensure_onnx_model(Path(model_dir)),
            name,
            query_prompt=query_prompt,
            passage_prompt=passage_prompt,
        )
        concurrent = encoder.workers
    else:
        from rag.embedding.encoder import SentenceTransformerEncoder

        encoder = SentenceTransformerEncoder(
            model_dir,
            query_prompt=query_prompt,
            passage_prompt=passage_prompt,
            # GPUs are fed big batches; on CPU, longer batches only add padding.
            batch_size=256 if device != "cpu" else 32,
            device=device,
            name=name,
        )
    if batching:
        from rag.embedding.batching import BatchingEncoder

        return BatchingEncoder(encoder, max_concurrent=concurrent)
    return encoder
