"""Names asked in pinyin (Lu Quan) found in Chinese text (鲁全)."""

from __future__ import annotations

import pytest

from rag.index import pinyin
from rag.index.crosslingual import DICTIONARY


def test_a_word_is_read_as_pinyin_syllables():
    assert pinyin.syllables("fahui")[0] == ("fa", "hui")
    assert pinyin.syllables("Mengxia")[0] == ("meng", "xia")
    assert pinyin.syllables("xian")[0] == ("xian",)  # the longest syllables first
    assert pinyin.syllables("hello") == []
    assert pinyin.syllables("x2") == []


def test_a_pinyin_name_matches_the_corpus_words_that_read_so():
    vocabulary = {"鲁全", "战梦", "梦霞", "会员"}
    assert pinyin.match(["lu", "quan"], vocabulary) == ["鲁全"]
    assert pinyin.match(["zhan", "mengxia"], vocabulary) == ["战梦霞"]  # chained bigrams
    assert pinyin.match(["lu", "quan"], {"会员"}) == []
    assert pinyin.match(["wang"], {"王"}) == []  # one syllable is no evidence
    # Bigrams chain across words too (往 + 发挥); a chain opening with a common surname, or one
    # the corpus holds as a word, comes first.
    chance = {"往发", "发挥", "王法", "法慧"}
    assert pinyin.match(["wang", "fahui"], chance)[0] == "王法慧"
    assert pinyin.match(["wang", "fahui"], chance | {"往发挥"})[0] == "往发挥"


@pytest.mark.parametrize(
    ("question", "name", "expected"),
    [
        ("What positions does Lu Quan hold?", "鲁全", True),
        ("What does LUQUAN do?", "鲁全", True),
        ("鲁全担任什么职务？", "鲁全", True),
        ("Is Shan Lin here?", "单林", True),  # a surname's own reading (单 shan)
        ("Where does Zhan work?", "战梦霞", False),  # part of the name only
        ("Did Lu Quanxing come?", "鲁全", False),  # whole words only
        ("鲁全和谁合作？", "王法慧", False),
    ],
)
def test_mentions(question, name, expected):
    assert pinyin.mentions(question, name) is expected


def test_translation_reads_names_but_never_common_english_words():
    vocabulary = frozenset({"鲁全", "王法", "法慧", "香港", "天津", "何门", "长跑"})
    t = DICTIONARY.translate("What posts does Lu Quan hold?", vocabulary)
    assert "鲁全" in t.terms and "lu quan" in t.covered
    assert "王法慧" in DICTIONARY.translate("Whose daughter was Wang Fahui?", vocabulary).terms
    # Lower-case English words are not pinyin (he -> 何, men -> 门, long -> 长).
    assert not set(DICTIONARY.translate("Did he run with the men?", vocabulary).terms) & {"何门"}
    # A possessive is no part of the name.
    t = DICTIONARY.translate("What is Jiang Jufeng's position?", frozenset({"蒋巨", "巨峰"}))
    assert "蒋巨峰" in t.terms and "jiang jufeng" in t.content_words
    # A name the dictionary knows keeps its translation: Hong Kong is 香港, not a reading.
    assert DICTIONARY.translate("Is Hong Kong big?", vocabulary).terms[:1] == ("香港",)


def test_the_answerer_counts_a_pinyin_name_as_one_of_the_question_words():
    from rag.answering.scoring import question_concepts

    # The name is read as pinyin in the question (capitalised); lower-cased on its own, "lu"
    # is an English gloss word and would not be.
    concepts = question_concepts("What posts does Lu Quan hold?", [frozenset({"鲁全", "职务"})])
    assert ("鲁全",) in [forms for forms, _ in concepts]


def test_the_default_searcher_finds_a_name_jieba_cuts_and_skips_english_function_words():
    from rag.embedding.fake import HashEncoder
    from rag.index.crosslingual import without_stopwords
    from rag.index.store import Index
    from rag.search.searcher import Searcher
    from rag.types import Document

    assert without_stopwords("What is the bias of Jiang Jufeng's 2013 post?").split() == [
        "bias", "Jiang", "Jufeng's", "2013", "post?"
    ]  # fmt: skip
    index = Index(HashEncoder())
    index.add_documents(
        [
            Document("bio-1", "人物简介", "蒋巨峰，浙江诸暨人，现任全国人大环境与资源保护委员会副主任委员。"),
            Document("refs-1", "参考文献", "What is the bias of a learner? Which of these is the one?"),
            Document("other-1", "新闻", "天津市总工会发布职工技能培训计划。"),
        ]
    )  # fmt: skip
    searcher = Searcher(index)
    tokens, coverage = searcher.keyword_query("What is Jiang Jufeng's current position?")
    assert "蒋巨峰" not in index.keyword.vocabulary  # jieba cut it
    assert {"蒋巨", "巨峰"} <= set(tokens) and not {"what", "is"} & set(tokens)
    assert coverage == pytest.approx(2 / 3)  # the name and "current" (现任), not "position"
    hits = searcher.search("What is Jiang Jufeng's current position?", top_k=3, mode="keyword").hits
    assert [h.chunk.doc_id for h in hits] == ["bio-1"]
