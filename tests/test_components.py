"""The seams: each part satisfies its protocol, and the engine uses the parts it is given."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace

import pytest

from rag.answering.extractive import ENGLISH_NOTE, ExtractiveAnswerer
from rag.answering.generation import ChatGenerator, Final, TextDelta, lines_of
from rag.components import AnswerStage, Encoder, Generator, Retriever
from rag.embedding.batching import BatchingEncoder
from rag.embedding.fake import HashEncoder
from rag.engine import Engine, LLMConfig, make_generator
from rag.search import Searcher
from rag.types import Answer, Document, SearchResult, Turn

QUESTION = "职业伤害保障试点有哪些亮点？"


class RecordingAnswerer:
    """An answer stage that quotes nothing and remembers what it was asked."""

    def __init__(self) -> None:
        self.warmed = 0
        self.calls: list[tuple[str, SearchResult, Mapping[str, Document]]] = []

    def warm_up(self) -> None:
        self.warmed += 1

    def answer(
        self, question: str, result: SearchResult, documents: Mapping[str, Document]
    ) -> Answer:
        self.calls.append((question, result, documents))
        return Answer(question, f"recorded: {len(result.hits)} passages", True, ())


class RecordingGenerator:
    """A generator that writes a fixed text and remembers what it was given."""

    def __init__(self) -> None:
        self.warmed = 0
        self.fallbacks: list[Answer] = []
        self.rewritten: list[tuple[str, tuple[Turn, ...]]] = []
        self.translated: list[str] = []
        self.questions: list[str] = []

    def warm_up(self) -> None:
        self.warmed += 1

    def generate(self, question, result, documents, fallback) -> Answer:
        self.fallbacks.append(fallback)
        self.questions.append(question)
        return replace(fallback, text="generated")

    def stream(self, question, result, documents, fallback) -> Iterator[TextDelta | Final]:
        self.fallbacks.append(fallback)
        yield TextDelta("gene")
        yield TextDelta("rated")
        yield Final(replace(fallback, text="generated"))

    def rewrite(self, question: str, history: Sequence[Turn]) -> str | None:
        self.rewritten.append((question, tuple(history)))
        return QUESTION

    def translate(self, question: str) -> str | None:
        self.translated.append(question)
        return QUESTION


def _engine(fake_engine, **parts) -> Engine:
    """A read-only engine over the fake engine's folder, built from the given parts."""
    config = replace(fake_engine.config, read_only=True)
    return Engine(config, encoder=HashEncoder(), **parts)


# ---- every part satisfies its protocol ------------------------------------------------------
def test_each_part_satisfies_its_protocol(fake_engine, tmp_path):
    assert isinstance(HashEncoder(), Encoder)
    assert isinstance(BatchingEncoder(HashEncoder()), Encoder)
    assert isinstance(fake_engine.searcher, Retriever)
    assert isinstance(fake_engine, Retriever)
    assert isinstance(ExtractiveAnswerer(), AnswerStage)
    assert isinstance(ChatGenerator("http://127.0.0.1:9/v1", "m"), Generator)
    assert isinstance(RecordingAnswerer(), AnswerStage)
    assert isinstance(RecordingGenerator(), Generator)


def test_protocols_tell_the_parts_apart():
    # The checks above mean something only if a part lacking a method fails them.
    assert not isinstance(ExtractiveAnswerer(), Generator)
    assert not isinstance(ExtractiveAnswerer(), Retriever)
    assert not isinstance(ChatGenerator("http://127.0.0.1:9/v1", "m"), AnswerStage)
    assert not isinstance(HashEncoder(), Retriever)


def test_searcher_warm_up_loads_the_encoder_and_searches(index):
    class Counting(HashEncoder):
        warmed = queries = 0

        def warm_up(self) -> None:
            self.warmed += 1

        def encode_queries(self, texts):
            self.queries += 1
            return super().encode_queries(texts)

    encoder = Counting()
    searcher = Searcher(replace(index.snapshot, encoder=encoder))
    searcher.warm_up()
    assert encoder.warmed == 1 and encoder.queries == 1


def test_chat_generator_warm_up_makes_the_client_without_a_request():
    generator = ChatGenerator("http://127.0.0.1:9/v1", "m", timeout=1)
    generator.warm_up()  # port 9 (discard) answers nothing: a request would fail
    client = generator.client
    generator.warm_up()
    assert generator.client is client and str(client.base_url).startswith("http://127.0.0.1:9")


# ---- the engine uses the parts it is given -------------------------------------------------
def test_engine_uses_the_injected_answerer(fake_engine):
    answerer = RecordingAnswerer()
    engine = _engine(fake_engine, answerer=answerer)
    engine.warm_up()
    assert answerer.warmed == 1
    answer = engine.ask(QUESTION, top_k=3)
    assert answer.text == "recorded: 3 passages"
    question, result, documents = answerer.calls[-1]
    assert question == QUESTION and len(result.hits) == 3
    assert all(h.chunk.doc_id in documents for h in result.hits)
    engine.close()


def test_engine_uses_the_injected_generator(fake_engine):
    generator = RecordingGenerator()
    engine = _engine(fake_engine, generator=generator)
    assert engine.config.llm is None  # injected, not configured
    engine.warm_up()
    assert generator.warmed == 1

    answer = engine.ask(QUESTION, top_k=3)
    assert answer.text == "generated"
    # The generator is handed the extractive answer to fall back on.
    extractive = fake_engine.ask(QUESTION, top_k=3)
    assert generator.fallbacks[-1].text == extractive.text

    events = list(engine.ask_stream(QUESTION, top_k=3))
    deltas = [e.text for e in events if isinstance(e, TextDelta)]
    assert deltas == ["gene", "rated"] and events[-1].answer.text == "generated"

    history = [Turn("职业伤害保障试点有哪些亮点？", "……")]
    engine.ask("第二个呢？", top_k=3, history=history)
    assert generator.rewritten[-1] == ("第二个呢？", tuple(history))
    assert generator.translated == []  # Chinese questions are searched as they are

    # A question without Chinese is searched in the generator's translation, and the
    # generator still answers the question as asked.
    english = "What are the four highlights of the pilot?"
    engine.ask(english, top_k=3)
    assert generator.translated == [english] and generator.questions[-1] == english
    # The extractive answer it may fall back on answers the English question: found in the
    # translation's passages, with the note that they are quoted in Chinese.
    fallback = generator.fallbacks[-1]
    assert fallback.question == english and ENGLISH_NOTE in fallback.note
    assert fallback.text == f"{ENGLISH_NOTE}\n{fake_engine.ask(QUESTION, top_k=3).text}"
    engine.close()


def test_engine_without_generator_streams_the_extractive_answer(fake_engine):
    answerer = RecordingAnswerer()
    engine = _engine(fake_engine, answerer=answerer)
    events = list(engine.ask_stream(QUESTION, top_k=2))
    expected = list(lines_of(Answer(QUESTION, "recorded: 2 passages", True, ())))
    assert [e.text for e in events if isinstance(e, TextDelta)] == [
        e.text for e in expected if isinstance(e, TextDelta)
    ]
    assert events[-1].answer.text == "recorded: 2 passages"
    engine.close()


def test_default_parts_are_built_from_the_config(fake_engine, tmp_path):
    assert make_generator(fake_engine.config) is None
    llm = LLMConfig("http://127.0.0.1:9/v1", "qwen", api_key="k", timeout=3.0, max_retries=2)
    config = replace(fake_engine.config, llm=llm, read_only=True)
    generator = make_generator(config)
    assert isinstance(generator, ChatGenerator)
    assert (generator.base_url, generator.model, generator.api_key) == (
        "http://127.0.0.1:9/v1",
        "qwen",
        "k",
    )
    assert (generator.timeout, generator.max_retries) == (3.0, 2)
    engine = Engine(config, encoder=HashEncoder())
    assert isinstance(engine._generator(), ChatGenerator)
    assert isinstance(engine._answerer, ExtractiveAnswerer)


def test_a_bad_llm_config_is_refused_when_the_engine_is_built(fake_engine):
    from rag.errors import InputError

    config = replace(fake_engine.config, llm=LLMConfig("127.0.0.1:8080/v1", "m"))
    with pytest.raises(InputError, match="base_url must start with http"):
        Engine(config, encoder=HashEncoder())


@pytest.mark.parametrize("bad", ["一段文字", ["一段文字", 3]])
def test_every_encoder_refuses_texts_that_are_not_a_list_of_strings(tmp_path, bad):
    # One check serves every encoder; it runs before any model loads (these folders are empty).
    from rag.embedding.encoder import SentenceTransformerEncoder
    from rag.embedding.onnx_encoder import OnnxEncoder
    from rag.errors import InputError

    encoders = [
        OnnxEncoder(tmp_path, "empty"),
        SentenceTransformerEncoder(tmp_path / "missing"),
        BatchingEncoder(HashEncoder()),
    ]
    for encoder in encoders:
        for encode in (encoder.encode_queries, encoder.encode_documents):
            with pytest.raises(InputError, match="not a single string|item 1 is int"):
                encode(bad)
