"""Scoring candidate sentences: the question's content words and what the question asks for."""

from __future__ import annotations

import pytest

from rag.answering.scoring import (
    RELATION_WEIGHT,
    asked_attribute,
    asked_type,
    asked_types,
    defined_term,
    defines,
    describes,
    located_term,
    locates,
    overlaps,
    question_concepts,
    type_score,
    type_tokens,
)


# ---- words ------------------------------------------------------------------------------------
def test_question_words_leave_out_question_words_particles_and_bigrams():
    concepts = question_concepts("大果西番莲的叶柄有什么特点？", [])
    words = {forms[0] for forms, _ in concepts}
    assert {"大果", "西番莲", "叶柄", "特点"} <= words
    # No character bigrams across particles (莲的, 的叶, 有什): they are not words.
    assert not words & {"莲的", "的叶", "柄有", "有什", "什么", "的", "有"}


def test_a_word_jieba_cuts_differently_in_the_sentence_still_counts():
    # jieba reads 其叶柄 its own way; 叶柄 is still in the sentence.
    scores = overlaps("叶柄上有腺体吗？", ["其叶柄（petiole）有四到六个腺体。", "果实最大。"])
    assert scores == [1.0, 0.0]


def test_the_asked_attribute_outweighs_the_subject_repeated_around_it():
    # Every sentence of an article is about its title (the subject is often left out: 其叶柄…,
    # 本鱼体呈…), so the title's words tell its sentences apart no more than they would if
    # each sentence repeated them; the asked attribute does.
    texts = [
        "大果西番莲（学名：）是西番莲属的植物中，果实最大的一种。",
        "大果西番莲有时候会在温室中种植。",
        "大果西番莲是分布于热带美洲的一种多年生植物。",
        "其叶柄（petiole）有四到六个腺体。",
    ]
    question = "大果西番莲的叶柄有什么特点？"
    without = overlaps(question, texts)
    assert without[3] < max(without[:3]), without  # the subject's two words outweigh 叶柄
    scores = overlaps(question, texts, ["大果西番莲"] * len(texts))
    assert scores[3] > max(scores[:3]), scores


def test_an_english_word_with_many_translations_weighs_as_one():
    texts = ["职业伤害保障试点于去年7月启动实施。", "试点第一批在7个省市开展。"]
    from rag.answering.scoring import sentence_tokens

    concepts = question_concepts("When did the pilot start?", [sentence_tokens(t) for t in texts])
    assert all(weight == 1.0 for _, weight in concepts)
    forms = [f for f, _ in concepts]
    assert any("试点" in f for f in forms) and any("启动" in f for f in forms)
    assert len(forms) == 2, forms


def test_a_number_in_an_english_question_is_written_the_same_in_chinese():
    texts = [
        "1992年4月，任中共天津市大港区委副书记。",
        "2017年4月，任全国人大华侨委员会副主任委员。",
    ]
    from rag.answering.scoring import sentence_tokens

    concepts = question_concepts(
        "What position did Luo Baoming hold in April 1992?", [sentence_tokens(t) for t in texts]
    )
    assert (("1992年",), 1.0) in concepts
    scores = overlaps("What position did Luo Baoming hold in April 1992?", texts)
    assert scores[0] > scores[1]


# ---- answer types ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("question", "kinds"),
    [
        ("中国工会十八大是在哪里、什么时间召开的？", ("date", "place")),
        ("哪些平台企业参加了职业伤害保障试点？", ("org",)),
        ("五月艾分布在哪些地区？", ("place",)),
        ("蒙泰罗在2005年美国大奖赛上获得第几名？", ("ordinal",)),
        ("为什么这么多骑手不愿参加培训？", ("reason_not",)),
        ("为什么这么多骑手选择兼职？", ("reason",)),
        ("世界一流企业有哪些特征？", ()),
        ("什么是“乡里制”？", ("definition",)),
        ("牛车水是什么？", ("definition",)),
        ("乡里制的特点是什么？", ()),
        ("蓝线裸顶鲷的身体是什么颜色的？", ("color",)),
        ("What colour is the flower?", ("color",)),
        ("AltiVec提高处理器的数据处理效率有什么好处？", ("use",)),
        ("What is the plant used for?", ("use",)),
    ],
)
def test_what_a_question_asks_for(question, kinds):
    assert asked_types(question) == kinds
    assert asked_type(question) == (kinds[0] if kinds else "")


def test_a_colour_or_another_name_is_held_by_its_words():
    question = "蓝线裸顶鲷的身体是什么颜色的？"
    kinds = asked_types(question)
    assert type_score("本鱼体呈银灰色，背部较暗。", kinds, question) == 1.0
    assert type_score("蓝线裸顶鲷为辐鳍鱼纲鲈形目的其中一个种。", kinds, question) == 0.0
    question = "马来穿山甲的别称是什么？"
    kinds = asked_types(question)
    assert type_score("又名爪哇穿山甲或爪哇鲮鲤。", kinds, question) == 1.0
    assert type_score("马来穿山甲的爪厚及强壮。", kinds, question) == 0.0
    question = "AltiVec提高处理器的数据处理效率有什么好处？"
    kinds = asked_types(question)
    assert type_score("这将有助于台式机执行音频和视频任务。", kinds, question) == 1.0
    assert type_score("AltiVec是一种单指令多数据指令集。", kinds, question) == 0.0


def test_a_what_is_question_prefers_the_sentence_defining_the_term():
    question = "什么是牛车水？"
    assert defined_term(question) == "牛车水"
    assert defined_term("“一轴”指的是什么？") == "一轴"
    kinds = asked_types(question)
    defining = "牛车水（；）是新加坡的唐人街，是重要的华人聚集地。"
    mentioning = "此后牛车水变得过度拥挤，华人移民开始向其他地区定居。"
    assert type_score(defining, kinds, question) == RELATION_WEIGHT  # a precise relation
    assert type_score(mentioning, kinds, question) == 0.0
    assert defines("所谓“标准杆”，是指一个球洞的标准击球次数。", "标准杆")
    assert not defines("标准杆数的计算方法很简单。", "标准杆")


def test_a_what_is_it_like_question_prefers_a_clause_describing_the_attribute():
    question = "软枝黄蝉的花有什么特点？"
    assert asked_types(question) == ("attribute",)
    assert asked_attribute(question) == "花"
    kinds = asked_types(question)
    assert type_score("花为聚繖花序顶生，金黄色。", kinds, question) == 1.0
    assert type_score("花期为3-8月，盛花期为夏季。", kinds, question) == 0.0  # 花期 is not 花
    # A later clause may describe it, and 叶子 is written 叶.
    assert describes(
        "根茎为匍匐状，茎直立；叶为披针形，有羽状深裂。", asked_attribute("蓍的叶子有什么特点？")
    )
    assert not describes("叶子互生。", "花")


@pytest.mark.parametrize(
    ("question", "term"),
    [
        ("青山村位于哪里？", "青山村"),
        ("乌石渔港在哪里？", "乌石渔港"),
        ("牛车水是位于哪个国家？", "牛车水"),
        ("美庐别墅在哪儿呢？", "美庐别墅"),
        # Where something happens or shows, or a thing named by a pronoun: no thing to locate.
        ("会议在哪里召开？", ""),
        ("大果西番莲分布在什么地区？", ""),
        ("211系全新设计体现在哪里？", ""),
        ("该校位于哪个城市？", ""),
        ("他在哪里工作？", ""),
    ],
)
def test_the_thing_a_where_question_asks_the_place_of(question, term):
    assert located_term(question) == term


def test_a_where_question_prefers_the_sentence_locating_the_thing():
    question = "青山村位于哪里？"
    kinds = asked_types(question)
    assert kinds == ("place",)
    dateline = (
        "新华社杭州4月18日电（记者李晓燕）清明刚过，浙江省丽水市松阳县青山村的茶园里一片忙碌。"
    )
    stated = "乌石渔港是位于台湾宜兰县头城镇的观光渔港。"
    elsewhere = "青山村的茶叶远销杭州、上海等地。"  # places, but not where the village is
    assert locates(dateline, "青山村") and locates(stated, "乌石渔港")
    assert not locates(elsewhere, "青山村")
    assert not locates("位于宝塔街上的牛车水地铁站是前身。", "牛车水")
    located = type_score(dateline, kinds, question)
    assert located > 1.0  # a precise relation outweighs holding a place (RELATION_WEIGHT)
    assert type_score(elsewhere, kinds, question) <= 0.5 < located
    assert type_score("青山村共有农户326户。", kinds, question) == 0.0


def test_a_quantity_is_not_a_date_nor_an_article():
    assert type_tokens("树高可达55米，树干直径达1米。", "number") >= {"55", "1"}
    assert "20" in type_tokens("2022年、2023年分别有20个城市申请的示范项目获批。", "number")
    # 2022年4月 dates the sentence; 一种 is "a kind of", not a count.
    assert not type_tokens("2022年4月，财政部和人社部联合下发通知。", "number")
    assert not type_tokens("是罗汉松科鸡毛松属的一种。", "number")
    # Chinese numerals before units of size, weight and time are quantities too.
    assert type_tokens("它是一个占地约两平方公里的热带植物公园。", "number") == {"两平方"}
    assert type_tokens("比赛持续了三个月。", "number")
    # An ordinal answers 第几, not how many: 第十八次全国代表大会 counts nothing.
    assert not type_tokens("中国工会第十八次全国代表大会于2023年10月召开。", "number")
    assert not type_tokens("最终蒙泰罗获得第3名。", "number")
    assert type_tokens("最终蒙泰罗获得第3名。", "ordinal") == {"第3"}


def test_what_the_question_already_states_answers_nothing():
    question = "2022年和2023年各有多少城市的公共就业服务示范项目获批？"
    kinds = asked_types(question)
    assert type_score("2022年4月，2022年和2023年的项目遴选启动。", kinds, question) == 0.0
    assert type_score("2022年、2023年分别有20个城市申请的示范项目获批。", kinds, question) == 1.0
    both = asked_types("中国工会十八大是在哪里、什么时间召开的？")
    # Both held; the place is where the congress met (十八大在北京), which counts double.
    held = type_score("10月9日至12日，中国工会十八大在北京胜利召开。", both, "十八大在哪里？")
    assert held == (1.0 + RELATION_WEIGHT) / 2
    assert type_score("10月9日至12日召开。", both, "十八大在哪里？") == 0.5


def test_a_how_many_question_prefers_the_number_of_what_it_counts():
    from rag.answering.scoring import counted_words

    question = "新就业形态就业人员职业伤害保障试点累计有多少人纳入保障范围？"
    counted = counted_words(question)
    assert counted == ("人",)
    kinds = asked_types(question)
    assert (
        type_score("截至今年9月，累计有668万人纳入职业伤害保障范围。", kinds, question, counted)
        == 1.0
    )
    assert type_score("第一批在7个省市开展。", kinds, question, counted) < 1.0
    assert counted_words("各有多少城市的示范项目获批？") == ("城市",)
    assert counted_words("纽西兰鸡毛松有多高？") == ()


def test_a_date_near_the_question_words_beats_a_date_elsewhere():
    from rag.answering import scoring

    question = "职业伤害保障试点什么时候启动？"
    kinds = asked_types(question)
    words = [f for forms, _ in question_concepts(question, []) for f in forms]
    near = "试点于去年7月启动实施，第一批在7个省市开展。"
    far = "在10月26日人社部召开的2023年三季度新闻发布会上，人社部相关负责人介绍了试点的进展情况。"
    assert type_score(near, kinds, question, (), words) == 1.0
    assert type_score(far, kinds, question, (), words) == scoring.NEAR_WEIGHT < 1.0
    # Without the question's words every new date counts fully.
    assert type_score(far, kinds, question) == 1.0


def test_chinese_word_overlap_is_scaled_to_the_best_sentence_english_is_not(index, documents):
    from rag.answering.extractive import ExtractiveAnswerer, _gather
    from rag.types import Hit

    chunk = next(c for c in index.chunks if "668万人" in c.text)
    candidates = _gather([Hit(chunk, 1, 1.0)], documents)
    answerer = ExtractiveAnswerer()
    # A long question most of whose words no sentence repeats: the best sentence still gets 1.
    zh = [
        f[1]
        for f in answerer.features(
            "截至今年9月累计有多少新就业形态劳动者被纳入职业伤害保障的范围？", candidates
        )
    ]
    assert max(zh) == 1.0
    raw = overlaps(
        "截至今年9月累计有多少新就业形态劳动者被纳入职业伤害保障的范围？",
        [c.text for c in candidates],
        [c.title for c in candidates],
    )
    assert max(raw) < 1.0
    assert [v / max(raw) for v in raw] == pytest.approx(zh)
    en = [f[1] for f in answerer.features("How many people are covered by the pilot?", candidates)]
    assert max(en) < 1.0


def test_pronoun_countries_are_no_place():
    from rag.answering.scoring import type_tokens

    assert "我国" not in type_tokens("这是我国迈上新征程的关键时刻召开的大会。", "place")
    assert "北京" in type_tokens("中国工会十八大在北京胜利召开。", "place")


def test_nouns_that_complete_the_question_word_are_not_content_words():
    from rag.answering.scoring import _question_words

    words = _question_words("中国工会十八大是在哪里、什么时间召开的？")
    assert "时间" not in words and "召开" in words
    assert "时间" in _question_words("试点的缴费时间如何确定？")  # a content word here


def test_english_count_nouns_reach_the_chinese_classifier():
    from rag.answering.scoring import counted_words, type_score

    q = "How many times has Xi Jinping held collective talks with the new leadership?"
    assert "次" in counted_words(q)
    counted = counted_words(q)
    full = type_score(
        "党的十八大以来，习近平总书记3次同领导班子成员集体谈话。", ("number",), q, counted
    )
    half = type_score("会议选出了3名副主席。", ("number",), q, counted)
    assert full == 1.0 and half < full


def test_a_sentence_listing_places_answers_where_without_the_question_words():
    from rag.answering import scoring

    question = "狭叶艾纳香分布在哪些地区？"
    kinds = asked_types(question)
    words = [f for forms, _ in question_concepts(question, []) for f in forms]
    listing = "中国大陆的云南、菲律宾、吕宋以北、巴丹群岛、台湾北部、兰屿。"
    one = "多年后他迁居云南，晚年以种植为业。"
    assert type_score(listing, kinds, question, (), words) == 1.0
    assert type_score(one, kinds, question, (), words) == scoring.NEAR_WEIGHT < 1.0


def test_why_not_is_answered_by_what_cannot_be_done_or_a_cause():
    question = "Why can't the traditional work-injury insurance protect platform workers?"
    kinds = asked_types(question)
    assert kinds == ("reason_not",)
    gold = "然而，工伤保险制度建立在稳定劳动关系基础之上，无法适应平台用工等新型就业方式。"
    assert type_score(gold, kinds, question) == 1.0
    assert type_score("由于劳动强度大，从业者不愿参加培训。", kinds, question) == 1.0
    assert type_score("待遇基本与工伤保险保持一致。", kinds, question) == 0.0
    # What the question states already is no answer: 不愿 in 为什么…不愿…？
    zh = "为什么骑手不愿参加培训？"
    assert type_score("骑手不愿参加培训。", asked_types(zh), zh) == 0.0


def test_a_copula_glued_to_an_unknown_word_is_cut_off():
    # jieba cuts 十八大是 as 十八 + 大是; 大是 would match only the sentence restating the
    # question (十八大是在…召开的一次重要大会), never the one with the answer (十八大在北京召开).
    words = {f for forms, _ in question_concepts("中国工会十八大是在哪里、什么时间召开的？", [])
             for f in forms}  # fmt: skip
    assert words == {"中国工会", "十八大", "召开"}
    # A dictionary word ending in 是 stays whole.
    assert "二十大" in {f for forms, _ in question_concepts("党的二十大是什么时候召开的？", [])
                         for f in forms}  # fmt: skip


def test_sentence_vectors_are_kept_apart_by_runtime():
    # One model on two runtimes (fp32 through torch, int8 through ONNX) gives slightly different
    # vectors; a process holding both must not score one's sentences against the other's query.
    import numpy as np

    from rag.answering.scoring import SentenceVectors
    from rag.embedding.fake import HashEncoder

    class Int8(HashEncoder):
        def __init__(self) -> None:
            super().__init__()
            self.runtime = "onnx-int8"

        def encode_documents(self, texts, progress=False):
            return -super().encode_documents(texts)

    cache = SentenceVectors()
    fp32, int8 = HashEncoder(), Int8()
    assert fp32.name == int8.name and fp32.runtime != int8.runtime
    a = cache.get(fp32, ["同一句话。"])
    b = cache.get(int8, ["同一句话。"])
    assert np.allclose(a, -b) and not np.allclose(a, b)
