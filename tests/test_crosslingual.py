"""An English question over Chinese text: how its words reach the corpus (CC-CEDICT)."""

from __future__ import annotations

from rag.answering.extractive import ExtractiveAnswerer
from rag.embedding.fake import HashEncoder
from rag.index.crosslingual import DICTIONARY
from rag.index.store import Index
from rag.search.searcher import Searcher
from rag.types import Document, Hit, SearchResult

VOCABULARY = frozenset({"职位", "位置", "立场", "现任", "当前"})


def test_the_reading_takes_each_words_commonest_translation_in_the_corpus():
    t = DICTIONARY.translate("What is his current position?", VOCABULARY)
    assert {"职位", "位置", "立场"} <= set(t.terms)  # position: every translation the corpus has
    counts = {"职位": 7, "位置": 2, "立场": 1, "现任": 5, "当前": 1}
    assert t.reading(lambda term: counts.get(term, 0)) == "现任 职位"
    # Without frequencies, each word's first translation; one per word either way.
    assert len(t.reading().split()) == 2
    assert DICTIONARY.translate("What is it?", VOCABULARY).reading() == ""


class Recording(HashEncoder):
    def __init__(self) -> None:
        super().__init__()
        self.queries: list[str] = []

    def encode_queries(self, texts):
        self.queries.extend(texts)
        return super().encode_queries(texts)


def _index(encoder) -> Index:
    index = Index(encoder)
    index.add_documents(
        [
            Document("bio-1", "人物简介", "蒋巨峰现任全国人大环境与资源保护委员会副主任委员。"),
            Document("bio-2", "人物简介", "他的职位是省长，职位很高。后来他辞去了职位。"),
            Document("news-1", "新闻", "天津市总工会发布职工技能培训计划。"),
        ]
    )
    return index


def test_an_english_question_is_embedded_with_its_reading_and_answered_against_it():
    encoder = Recording()
    index = _index(encoder)
    assert index.keyword.frequency("职位") == 1 and index.keyword.frequency("不存在") == 0
    searcher = Searcher(index)
    question = "What is Jiang Jufeng's current position?"
    encoder.queries.clear()
    result = searcher.search(question, top_k=3, mode="hybrid")
    assert result.embedded.startswith(question + " ") and "蒋巨峰" in result.embedded
    assert "职位" in result.embedded.split()  # the corpus's word for "position"
    assert encoder.queries == [result.embedded] and "translate" in result.timings_ms
    # The answerer compares sentences with the same text (a cached vector in the service).
    encoder.queries.clear()
    ExtractiveAnswerer(encoder).answer(question, result, index.documents)
    assert encoder.queries == [result.embedded]
    # A Chinese question is embedded as it is.
    assert searcher.search("蒋巨峰现任什么职务？", top_k=3).embedded == ""


def test_the_answerer_uses_the_question_when_nothing_else_was_embedded():
    encoder = Recording()
    index = _index(encoder)
    chunk = index.chunks_of("bio-1")[0]
    result = SearchResult("Who is he?", "hybrid", (Hit(chunk, 1, 1.0),), True)
    ExtractiveAnswerer(encoder).answer("Who is he?", result, index.documents)
    assert encoder.queries == ["Who is he?"]


def test_a_headword_jieba_cuts_is_found_as_a_chain_of_corpus_bigrams():
    # 新闻发布会 (news conference) is cut 新闻 + 发布会 in the text: no token of the index,
    # but each of its bigrams is.
    bigrams = frozenset({"新闻", "闻发", "发布", "布会"})
    t = DICTIONARY.translate("When was the news conference held?", bigrams)
    assert "新闻发布会" in t.terms
    assert (
        "新闻发布会"
        not in DICTIONARY.translate("When was the news conference?", bigrams - {"闻发"}).terms
    )

    class Backend(frozenset):  # a backend's vocabulary: every lookup is a request
        requests: list[list[str]] = []

        def prefetch(self, terms) -> None:
            self.requests.append(list(terms))

    backend = Backend(bigrams)
    assert "新闻发布会" in DICTIONARY.translate("the news conference", backend).terms
    # Looked up in one request: the headwords and all their bigrams together.
    assert any("新闻发布会" in r and "闻发" in r for r in backend.requests)


def test_british_spelling_and_quotes_around_words_are_looked_up():
    vocabulary = frozenset({"劳动", "组织", "经验", "北京"})
    t = DICTIONARY.translate("Which 'Beijing experience' do labour organisations want?", vocabulary)
    forms = dict(zip(t.content_words, t.forms, strict=True))
    assert "经验" in forms["experience"]  # not "experience'" with the closing quote
    assert "劳动" in forms["labour"] and "组织" in forms["organisation"]
    # A word found as it is is never respelt (enterprise is no British -ise verb).
    from rag.index.crosslingual import _american

    assert _american("centre") == "center" and _american("programmes") == "programs"
    assert DICTIONARY.translate("enterprise", frozenset({"企业"})).terms == ("企业",)


def test_the_policy_glossary_names_what_cc_cedict_lacks():
    vocabulary = frozenset({"人社部", "新就业形态劳动者", "零工", "高质量发展", "发布会", "劳模"})
    t = DICTIONARY.translate("Did the labour ministry hold a press conference?", vocabulary)
    forms = dict(zip(t.content_words, t.forms, strict=True))
    assert forms["labour ministry"] == ("人社部",) and "发布会" in forms["press conference"]
    # Plurals and hyphens are read as the glossary's phrases are (gig workers = gig worker).
    t = DICTIONARY.translate("How many gig workers and model workers are there?", vocabulary)
    assert {"新就业形态劳动者", "零工", "劳模"} <= set(t.terms)
    assert (
        "高质量发展" in DICTIONARY.translate("What is high-quality development?", vocabulary).terms
    )


def test_the_policy_glossary_covers_news_beyond_labour():
    vocabulary = frozenset(
        {"新能源汽车", "新能源", "汽车", "销售", "零售额", "同比", "环比", "碳中和", "双碳"}
        | {"一带一路", "人类命运共同体", "人类", "中国人民银行", "中国银行", "降低", "贸易顺差"}
        | {"存款准备金率", "风力", "风电"}
    )

    def forms(question: str) -> dict[str, tuple[str, ...]]:
        t = DICTIONARY.translate(question, vocabulary)
        return dict(zip(t.content_words, t.forms, strict=True))

    # Economy: a car-sales question is covered, not "not found" (new energy vehicle is no
    # "new" + "energy" + "vehicle" in CC-CEDICT).
    t = DICTIONARY.translate("How many new energy vehicles were sold in 2023?", vocabulary)
    assert t.forms[t.content_words.index("new energy vehicle")] == ("新能源汽车",)
    assert t.coverage == 1.0
    f = forms("How much did retail sales grow year on year and month on month?")
    assert f["retail sales"] == ("零售额",) and f["year on year"] == ("同比",)
    assert f["month on month"] == ("环比",)
    # Environment and diplomacy.
    f = forms("When will China reach carbon neutrality under its dual carbon goals?")
    assert f["carbon neutrality"] == ("碳中和",) and f["dual carbon goal"] == ("双碳",)
    assert forms("What is the Belt and Road Initiative?") == {
        "belt and road initiative": ("一带一路",)
    }
    question = "What is a community with a shared future for mankind?"
    assert "人类命运共同体" in DICTIONARY.translate(question, vocabulary).terms
    # Finance: the People's Bank is no "people" + "Bank of China" (中国银行).
    f = forms("Did the People's Bank of China lower the reserve requirement ratio?")
    assert f["people bank of china"] == ("中国人民银行",)
    assert f["reserve requirement ratio"] == ("存款准备金率",)
    # A phrase the glossary lacks is CC-CEDICT's as before; one it has keeps CC-CEDICT's too.
    from rag.index.crosslingual import _glossary

    glossary = dict(_glossary())
    assert "trade surplus" not in glossary and "wind power" in glossary
    assert forms("What was the trade surplus?") == {"trade surplus": ("贸易顺差",)}
    assert set(forms("How much wind power was installed?")["wind power"]) == {"风力", "风电"}


def test_a_number_word_may_open_a_phrase():
    # Number words are function words, yet "two sessions" is 两会 and "first quarter" 一季度.
    vocabulary = {"两会", "第一季度", "经济"}
    assert DICTIONARY.translate("What happened at the two sessions?", vocabulary).terms == ("两会",)
    assert "第一季度" in DICTIONARY.translate("the economy in the first quarter", vocabulary).terms
    # Alone, a number word is still no content word.
    assert DICTIONARY.translate("What are the two?", vocabulary).content_words == ()


def test_a_phrase_the_corpus_lacks_gives_way_to_its_words_in_retrieval_only():
    # CC-CEDICT knows "main force" (主力); a corpus without 主力 still holds 力量 (force).
    vocabulary = {"力量", "创新", "企业"}
    question = "Who is the main force of innovation in an enterprise?"
    searched = DICTIONARY.translate(question, vocabulary)
    assert "力量" in searched.terms
    # Among an answer's candidate sentences, 力量 is not what "main force" asks for.
    answered = DICTIONARY.translate(question, vocabulary, phrases_give_way=False)
    assert "力量" not in answered.terms and "main force" in answered.content_words
    # Either way "main force" is one word of the question the corpus does not hold.
    assert "main force" in searched.content_words and "main force" not in searched.covered
    assert searched.coverage == answered.coverage == 2 / 3


def test_an_acronym_the_text_writes_as_it_is_is_its_own_translation():
    vocabulary = {"usdt", "虚拟货币", "sam"}
    found = DICTIONARY.translate("Which cryptocurrency, USDT or another, was used?", vocabulary)
    assert "usdt" in found.terms and "usdt" in found.covered
    assert "sam" in DICTIONARY.translate("What does SAM stand for?", vocabulary).terms
    # A capitalised word is no acronym, and an acronym the corpus lacks is not evidence.
    assert "sam" not in DICTIONARY.translate("What did Sam say?", {"sam"}).covered
    assert DICTIONARY.translate("What does NATO do?", vocabulary).coverage == 0.0


def test_a_gloss_qualifier_holding_commas_does_not_hide_the_gloss():
    # CC-CEDICT: 面积 /area (of a floor, piece of land etc)/surface area/; cut at the comma
    # inside the qualifier, "area" was lost and "How large is the area" missed 面积.
    t = DICTIONARY.translate("How large is the planting area?", frozenset({"面积", "种植"}))
    assert "面积" in t.terms
    assert "area" in t.covered


def test_a_gloss_with_a_placeholder_object_is_found_by_its_verb():
    # CC-CEDICT: 申请 /to apply for sth/: neither "apply for sth" nor a phrase ending in "for"
    # is ever a question's words, so the verb alone glosses it as well.
    t = DICTIONARY.translate("Who can apply for the elevator subsidy?", frozenset({"申请", "电梯"}))
    assert "申请" in t.terms
    t = DICTIONARY.translate("Who takes care of the elderly?", frozenset({"照顾", "老人"}))
    assert "照顾" in t.terms


def test_the_glossary_reads_a_policy_documents_own_terms():
    vocabulary = frozenset({"办法", "适用范围", "有效期", "待遇", "重点工作"})
    t = DICTIONARY.translate(
        "Which article of the measures defines the scope of application?", vocabulary
    )
    assert {"办法", "适用范围"} <= set(t.terms)
    t = DICTIONARY.translate("What is the validity period and which benefits are paid?", vocabulary)
    assert {"有效期", "待遇"} <= set(t.terms)
    assert "重点工作" in DICTIONARY.translate("What are the key tasks?", vocabulary).terms


def test_the_glossary_reads_a_notices_deadlines_and_payments_and_a_villages_tea_gardens():
    from rag.answering.scoring import asked_types

    vocabulary = frozenset({"茶园", "面积", "逾期", "拨付", "补贴"})
    # "tea garden" is one concept (茶园), not "tea" and a "garden area" (园地) the text lacks.
    t = DICTIONARY.translate(
        "How large is the tea garden area of the village?", vocabulary, phrases_give_way=False
    )
    assert ("茶园",) in t.forms and "面积" in t.terms
    t = DICTIONARY.translate("When is the subsidy paid out?", vocabulary, phrases_give_way=False)
    assert {"拨付", "补贴"} <= set(t.terms)
    assert "逾期" in DICTIONARY.translate("What is the deadline?", vocabulary).terms
    assert asked_types("What is the deadline for applying for the subsidy?") == ("date",)
