"""Export a sentence-transformers model folder to ONNX, quantise it to int8, cache it beside.

The ONNX folder is made once per model folder (about a minute on 2 cores) and reused:

* ``model.onnx``: the transformer with e5's mean pooling and L2 normalisation inside the graph,
  exported by ``torch.onnx`` from the model ``SentenceTransformer`` loads (so the weights and
  config are exactly the torch path's); inputs ``input_ids`` and ``attention_mask``, output
  ``sentence_embedding``;
* ``model_qint8.onnx``: the same graph after ONNX Runtime's dynamic int8 quantisation
  (``onnxruntime.quantization.quantize_dynamic``, per-channel weights), the file
  :class:`rag.embedding.onnx_encoder.OnnxEncoder` runs by default;
* ``tokenizer.json`` and the prompts, copied from the model folder;
* ``export.json``: written last, it marks the folder complete and records the source folder's
  conversion marker, the library versions and the quantisation settings.

Why not ``SentenceTransformer(..., backend="onnx")`` and its
``export_dynamic_quantized_onnx_model``: both need ``optimum-onnx``, which pins
``transformers<4.58``, while the project runs sentence-transformers 6 (``transformers>=5``);
the two do not install together today. They wrap the same two steps used here (a torch ONNX
export, then ``quantize_dynamic``), and the serving process then needs neither torch nor
sentence-transformers, which halves its memory. torch is only imported to export.
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

from rag.errors import ModelError

logger = logging.getLogger(__name__)

#: Version of the folder layout written here; bump it to make ``ensure_onnx_model`` rebuild.
EXPORT_VERSION = 1
MARKER_FILE = "export.json"
FP32_FILE = "model.onnx"
INT8_FILE = "model_qint8.onnx"
OPSET = 17
SUFFIX = "-onnx"


def onnx_dir_for(model_dir: Path) -> Path:
    """The cache folder for ``model_dir``'s ONNX export: a sibling named ``<name>-onnx``."""
    model_dir = Path(model_dir)
    return model_dir.with_name(model_dir.name + SUFFIX)


def cpu_has_vnni() -> bool:
    """Whether this CPU has AVX-512 VNNI (or AVX-VNNI), the int8 dot products ORT uses."""
    try:
        flags = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return False
    return "avx512_vnni" in flags or "avx_vnni" in flags


def _source_stamp(model_dir: Path) -> str:
    """A hash of the model folder's identity: its conversion marker if any, else its configs."""
    h = hashlib.sha256()
    for name in ("conversion.json", "config.json", "modules.json", "tokenizer.json"):
        path = model_dir / name
        if path.is_file():
            h.update(name.encode())
            h.update(path.read_bytes() if path.stat().st_size < 1 << 20 else _size_stamp(path))
    weights = sorted(model_dir.glob("*.safetensors")) + sorted(model_dir.glob("*.bin"))
    for path in weights:
        h.update(_size_stamp(path))
    return h.hexdigest()


def _size_stamp(path: Path) -> bytes:
    st = path.stat()
    return f"{path.name}:{st.st_size}".encode()


def is_complete(onnx_dir: Path, model_dir: Path) -> bool:
    """Tell whether ``onnx_dir`` holds a finished export of ``model_dir`` in this layout."""
    try:
        marker = json.loads((onnx_dir / MARKER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if marker.get("export_version") != EXPORT_VERSION:
        return False
    if marker.get("source_stamp") != _source_stamp(model_dir):
        return False
    files = marker.get("files", {})
    return bool(files) and all(
        (onnx_dir / name).is_file() and (onnx_dir / name).stat().st_size == size
        for name, size in files.items()
    )


def ensure_onnx_model(model_dir: Path) -> Path:
    """Return the ONNX folder for ``model_dir``, exporting and quantising only when needed.

    Args:
        model_dir: A sentence-transformers folder with a Transformer, mean Pooling and
            Normalize module (e.g. from :func:`rag.embedding.e5convert.ensure_e5_model`).

    Returns:
        The folder (see the module docstring), a sibling of ``model_dir``.

    Raises:
        ModelError: if the model cannot be exported (e.g. another pooling than mean).
        ImportError: if torch, sentence-transformers or onnxruntime is missing.
    """
    model_dir = Path(model_dir)
    target = onnx_dir_for(model_dir)
    if is_complete(target, model_dir):
        return target
    logger.info(
        "no complete ONNX export of %s in %s; exporting (about a minute)", model_dir, target
    )
    tmp = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        _export(model_dir, tmp / FP32_FILE)
        quantisation = _quantise(tmp / FP32_FILE, tmp / INT8_FILE)
        shutil.copy2(model_dir / "tokenizer.json", tmp / "tokenizer.json")
        marker: dict[str, Any] = {
            "export_version": EXPORT_VERSION,
            "source": str(model_dir),
            "source_stamp": _source_stamp(model_dir),
            "prompts": _prompts(model_dir),
            "max_seq_length": _max_seq_length(model_dir),
            "quantisation": quantisation,
            "opset": OPSET,
            "versions": {d: _version(d) for d in ("torch", "onnx", "onnxruntime")},
        }
        marker["files"] = {p.name: p.stat().st_size for p in sorted(tmp.iterdir())}
        # Written last: its presence says every other file is complete.
        (tmp / MARKER_FILE).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
        _move_into_place(tmp, target, model_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    logger.info("wrote %s", target)
    return target


def _export(model_dir: Path, out: Path) -> None:
    try:
        import torch
        from sentence_transformers import SentenceTransformer
    except ImportError as e:
        raise ImportError(
            "exporting to ONNX needs `pip install sentence-transformers torch onnx`"
        ) from e
    pooling = _pooling(model_dir)
    # sentence-transformers 6 writes pooling_mode "mean"; earlier versions a flag per mode.
    mean = pooling.get("pooling_mode") == "mean" or pooling.get("pooling_mode_mean_tokens")
    modules = (
        (model_dir / "modules.json").read_text(encoding="utf-8")
        if (model_dir / "modules.json").is_file()
        else ""
    )
    if not mean or "Normalize" not in modules:
        raise ModelError(
            f"only models with mean pooling and a Normalize module export to ONNX here; "
            f"{model_dir} has pooling {pooling or 'unknown'}: use runtime 'torch' for it"
        )
    # Eager attention: the exporter traces plain matrix products, which quantise to int8.
    st = SentenceTransformer(
        str(model_dir), device="cpu", model_kwargs={"attn_implementation": "eager"}
    )
    bert = st[0].auto_model.float().eval()

    class _Pooled(torch.nn.Module):
        """The transformer, then mean pooling over the attention mask and L2 normalisation,
        as sentence-transformers' Pooling(mean) and Normalize modules compute them."""

        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.model(input_ids=input_ids, attention_mask=attention_mask)[0]
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2, dim=1)

    ids = torch.tensor([[0, 6, 5, 2], [0, 6, 2, 1]], dtype=torch.int64)
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]], dtype=torch.int64)
    dynamic = {0: "batch", 1: "sequence"}
    with torch.no_grad():
        # The TorchScript exporter (dynamo=False) needs no onnxscript and gives a graph that
        # quantize_dynamic handles; dynamic axes let one file serve any batch and length.
        torch.onnx.export(
            _Pooled(bert),
            (ids, mask),
            str(out),
            dynamo=False,
            input_names=["input_ids", "attention_mask"],
            output_names=["sentence_embedding"],
            dynamic_axes={
                "input_ids": dynamic,
                "attention_mask": dynamic,
                "sentence_embedding": {0: "batch"},
            },
            opset_version=OPSET,
        )


def _quantise(fp32: Path, out: Path) -> dict[str, Any]:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Per-channel weight scales keep every test text at cosine >= 0.99 to fp32 (per-tensor
    # scales dropped some to 0.985). Without VNNI, ORT's u8s8 kernels can saturate; the
    # documented remedy is 7-bit weights (reduce_range).
    settings = {
        "weight_type": "QInt8",
        "per_channel": True,
        "reduce_range": not cpu_has_vnni(),
        "extra_options": {"MatMulConstBOnly": True},
    }
    quantize_dynamic(
        str(fp32),
        str(out),
        weight_type=QuantType.QInt8,
        per_channel=settings["per_channel"],
        reduce_range=settings["reduce_range"],
        extra_options=settings["extra_options"],
    )
    return settings


def _pooling(model_dir: Path) -> dict[str, Any]:
    try:
        return json.loads((model_dir / "1_Pooling" / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _prompts(model_dir: Path) -> dict[str, str]:
    try:
        config = json.loads(
            (model_dir / "config_sentence_transformers.json").read_text(encoding="utf-8")
        )
    except (OSError, ValueError):
        return {}
    return dict(config.get("prompts") or {})


def _max_seq_length(model_dir: Path) -> int:
    try:
        config = json.loads((model_dir / "sentence_bert_config.json").read_text(encoding="utf-8"))
        return int(config.get("max_seq_length") or 512)
    except (OSError, ValueError):
        return 512


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _move_into_place(tmp: Path, target: Path, model_dir: Path) -> None:
    """Replace ``target`` by ``tmp``; a directory cannot be replaced while non-empty."""
    old: Path | None = None
    if target.exists():
        old = target.with_name(f"{target.name}.old-{os.getpid()}")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(target, old)
    try:
        os.replace(tmp, target)
    except OSError as e:
        # Another process finished the same export between our checks: keep its folder.
        if is_complete(target, model_dir):
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            raise ModelError(f"cannot move the ONNX export into {target}: {e}") from e
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
