"""The ONNX Runtime encoder against the torch one, its cached export, runtime choice and the
index manifest's compatibility rule."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import pytest

from rag.embedding.factory import resolve_runtime
from rag.embedding.fake import HashEncoder
from rag.errors import IndexMismatchError, InputError
from rag.index.store import Index

# Chinese, English, mixed, digits and full-width forms, as queries and as passages.
TEXTS = [
    "截至2023年9月,累计有多少人纳入职业伤害保障范围？",
    "平台从业人员的职业伤害保障费用怎么交？",
    "中国工会第十八次全国代表大会在北京人民大会堂开幕。",
    "What are the four highlights of the injury-insurance pilot?",
    "Food-delivery couriers often skip skills courses because time is money.",
    "美团、饿了么等7家平台企业参加了试点 (the pilot covers 7 platforms)",
    "GDP增长5.2%，CPI上涨0.2%，new energy vehicles up 35.8%",
    "2023-09-30 12:45:00 +0800",
    "1234567890 3.1415926 1,000,000",
    "ＡＢＣ１２３，全角字符：（测试）！",
    "Ｈｅｌｌｏ　Ｗｏｒｌｄ　２０２３",
    "第１８次全国代表大会　１０月９日",
    "～・「引用」『书名』【标题】",
    "e5 是一个 multilingual embedding model，支持中文 and English。",
]


def test_auto_picks_onnx_on_cpu_and_torch_on_a_gpu() -> None:
    assert resolve_runtime("auto", "cpu") == "onnx"
    assert resolve_runtime("auto", "cuda") == "torch"
    assert resolve_runtime("auto", "cpu", model_is_folder=False) == "torch"
    assert resolve_runtime("torch", "cpu") == "torch"
    with pytest.raises(InputError, match="runtime must be one of auto, onnx, torch"):
        resolve_runtime("tensorrt", "cpu")
    with pytest.raises(InputError, match="CPU only"):
        resolve_runtime("onnx", "cuda")


class OtherRuntime(HashEncoder):
    """The same fake model (same name and vectors) as if run by another runtime."""

    def __init__(self) -> None:
        super().__init__()
        self.runtime = "other-runtime"


def test_manifest_records_the_runtime_and_allows_the_same_model_on_another(
    tmp_path: Path, bundled_docs
) -> None:
    index = Index(HashEncoder())
    index.add_documents(bundled_docs[:2])
    index.save(tmp_path / "ix")
    assert index.manifest()["runtime"] == "hash"
    loaded = Index.load(tmp_path / "ix", OtherRuntime())
    assert len(loaded) == len(index)


def test_manifest_refuses_another_model_naming_both(tmp_path: Path, bundled_docs) -> None:
    index = Index(HashEncoder())
    index.add_documents(bundled_docs[:2])
    index.save(tmp_path / "ix")
    with pytest.raises(IndexMismatchError) as e:
        Index.load(tmp_path / "ix", HashEncoder(dim=32, name="another-model"))
    message = str(e.value)
    assert "hash-bigram-64" in message and "another-model-32" in message
    assert "runtime hash" in message and "rebuild" in message.lower()


# ---- the real model ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def onnx_dir(real_encoder) -> Path:
    from rag.embedding.onnx_export import ensure_onnx_model

    return ensure_onnx_model(Path(real_encoder.model))


@pytest.fixture(scope="module")
def onnx_int8(onnx_dir, real_encoder):
    from rag.embedding.onnx_encoder import OnnxEncoder

    encoder = OnnxEncoder(onnx_dir, real_encoder.name)
    encoder.warm_up()
    return encoder


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1)


@pytest.mark.slow
def test_int8_vectors_are_within_0_99_cosine_of_torch_fp32(onnx_int8, real_encoder) -> None:
    for encode in ("encode_queries", "encode_documents"):
        onnx = getattr(onnx_int8, encode)(TEXTS)
        torch = getattr(real_encoder, encode)(TEXTS)
        assert onnx.shape == torch.shape == (len(TEXTS), 384) and onnx.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(onnx, axis=1), 1.0, atol=1e-4)
        cos = _cosines(onnx, torch)
        worst = int(np.argmin(cos))
        assert cos.min() >= 0.99, f"{encode}: {TEXTS[worst]!r} at cosine {cos[worst]:.4f}"


@pytest.mark.slow
def test_fp32_export_equals_torch(onnx_dir, real_encoder) -> None:
    from rag.embedding.onnx_encoder import OnnxEncoder

    fp32 = OnnxEncoder(onnx_dir, real_encoder.name, file_name="model.onnx")
    assert fp32.runtime == "onnx-fp32"
    cos = _cosines(fp32.encode_documents(TEXTS), real_encoder.encode_documents(TEXTS))
    assert cos.min() >= 0.9999


@pytest.mark.slow
def test_a_text_alone_or_in_a_batch_stays_close_to_torch(onnx_int8, real_encoder) -> None:
    torch = real_encoder.encode_queries(TEXTS)
    together = onnx_int8.encode_queries(TEXTS)
    alone = np.vstack([onnx_int8.encode_queries([t]) for t in TEXTS])
    # Padding is masked out of the pooling, but int8 activations are quantised with one scale
    # per tensor, i.e. per batch: a text's vector moves a little with its batch companions.
    # Either way it stays within the 0.99 the quality target asks of int8 against fp32.
    assert _cosines(alone, torch).min() >= 0.99
    assert _cosines(together, torch).min() >= 0.99
    assert _cosines(together, alone).min() >= 0.99


@pytest.mark.slow
def test_inline_and_pooled_tokenising_give_the_same_vectors(onnx_dir, real_encoder) -> None:
    from rag.embedding.onnx_encoder import INLINE_TOKENIZE, OnnxEncoder

    fp32 = OnnxEncoder(onnx_dir, real_encoder.name, file_name="model.onnx")
    texts = [f"{t} {i}" for i, t in enumerate(TEXTS * (INLINE_TOKENIZE // len(TEXTS) + 1))]
    assert len(texts) >= INLINE_TOKENIZE  # the tokenizer's own batch path
    pooled = fp32.encode_documents(texts)
    inline = np.vstack([fp32.encode_documents([t]) for t in texts])  # one by one
    # fp32 and padding masked out: the same token ids give the same vectors.
    assert _cosines(pooled, inline).min() >= 0.9999


def test_document_batches_hold_a_token_budget_and_every_text_once() -> None:
    from rag.embedding.onnx_encoder import _batches

    lengths = [500, 300, 260, 250, 200, 120, 40, 30, 20, 10, 5, 3]
    order = list(range(100, 100 + len(lengths)))
    batches = _batches(order, lengths, size=4, max_tokens=1024)
    assert [row for b in batches for row in b] == order  # every text once, order kept
    width = dict(zip(order, lengths, strict=True))
    for b in batches:
        assert len(b) <= 4
        # Padded to its first (longest) text; over budget only when it is alone.
        assert len(b) * width[b[0]] <= 1024 or len(b) == 1
    assert batches[0] == [100, 101]  # 3 x 500 would pass 1024 tokens
    assert batches[1] == [102, 103, 104]  # a fourth text of width 260 would pass 1024
    assert batches[2] == [105, 106, 107, 108]  # short texts fill up to the size
    # A text longer than the budget still goes, alone.
    assert _batches([7, 8], [2000, 10], size=16, max_tokens=1024) == [[7], [8]]


@pytest.mark.slow
def test_a_bad_token_budget_is_refused(onnx_dir) -> None:
    from rag.embedding.onnx_encoder import OnnxEncoder

    with pytest.raises(InputError, match="max_batch_tokens"):
        OnnxEncoder(onnx_dir, "e5", max_batch_tokens=0)


@pytest.mark.slow
def test_documents_on_several_workers_equal_one_worker(onnx_dir, real_encoder) -> None:
    """Batches run side by side on single-threaded runs give the very vectors one worker gives
    for the same batches, rows in the caller's order."""
    from rag.embedding.onnx_encoder import OnnxEncoder

    texts = TEXTS * 3  # 42 texts: 11 batches of at most 4, spread over the workers
    one = OnnxEncoder(onnx_dir, real_encoder.name, batch_size=4, num_threads=1)
    three = OnnxEncoder(onnx_dir, real_encoder.name, batch_size=4, num_threads=3)
    assert three.workers == 3
    np.testing.assert_array_equal(three.encode_documents(texts), one.encode_documents(texts))
    # A handful of texts (a POST of one article) is split so every worker gets some; the
    # vectors stay those of the texts encoded one by one, within int8's batch effect.
    few = three.encode_documents(TEXTS[:5])
    alone = np.vstack([one.encode_documents([t]) for t in TEXTS[:5]])
    assert _cosines(few, alone).min() >= 0.99
    # The workers embedding documents run ahead of request threads (a writer waits on them).
    from rag.embedding.onnx_encoder import DOCUMENT_THREAD_NICE

    nice = three._executor().submit(
        lambda: os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    )
    if os.geteuid() == 0:
        assert nice.result() == DOCUMENT_THREAD_NICE < 0
    # An error in one worker's batch reaches the caller.
    three._session = _Broken()
    with pytest.raises(RuntimeError, match="run failed"):
        three.encode_documents(texts)


class _Broken:
    def run(self, *args, **kwargs):
        raise RuntimeError("run failed")


@pytest.mark.slow
def test_export_is_cached_beside_the_model(onnx_dir, real_encoder) -> None:
    from rag.embedding.onnx_export import ensure_onnx_model, is_complete

    model_dir = Path(real_encoder.model)
    assert onnx_dir == model_dir.with_name(model_dir.name + "-onnx")
    assert is_complete(onnx_dir, model_dir)
    before = {p.name: p.stat().st_mtime_ns for p in onnx_dir.iterdir()}
    assert ensure_onnx_model(model_dir) == onnx_dir
    assert {p.name: p.stat().st_mtime_ns for p in onnx_dir.iterdir()} == before


@pytest.mark.slow
def test_index_built_with_torch_is_queried_with_onnx(
    tmp_path: Path, bundled_docs, real_encoder, onnx_int8
) -> None:
    index = Index(real_encoder)
    index.add_documents(bundled_docs)
    index.save(tmp_path / "ix")
    assert index.manifest()["runtime"] == "torch-fp32"
    loaded = Index.load(tmp_path / "ix", onnx_int8)
    query = "哪些平台企业参加了职业伤害保障试点？"
    torch_top = index.dense.search(real_encoder.encode_queries([query]), 3)
    onnx_top = loaded.dense.search(onnx_int8.encode_queries([query]), 3)
    assert torch_top[1][0][0] == onnx_top[1][0][0]


@pytest.mark.slow
def test_onnx_serving_does_not_import_torch(onnx_dir, real_encoder) -> None:
    import subprocess
    import sys

    code = (
        "import sys; from rag.embedding.onnx_encoder import OnnxEncoder; "
        f"e = OnnxEncoder({str(onnx_dir)!r}, 'e5'); e.encode_queries(['你好']); "
        "print(sorted(m for m in ('torch', 'sentence_transformers', 'transformers') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
