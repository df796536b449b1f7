"""The newspaper-page parser and the other loaders."""

from __future__ import annotations

import json
import logging
import unicodedata
from collections import Counter

import pytest

from rag.errors import SourceError
from rag.parsing import load_documents
from rag.parsing.cleaning import TextBuilder, display_normalize
from rag.parsing.layout import LABEL_BULLETS
from rag.parsing.page import parse_page
from tests.conftest import BUNDLED_PAGE, REARRANGED_PAGE

# What a reader of the page sees (written by hand from the printed page, not by the parser).
EXPECTED = [
    ("为强国建设民族复兴贡献北京工会力量", (), "作者为北京市人大常委会党组副书记、副主任，市总工会主席", ""),
    ("打造高素质职工队伍 助力建设世界一流企业", ("关明鑫",), "作者单位：天津市总工会", "观点"),
    ("为新就业形态劳动者提供优质公共就业服务", ("战梦霞", "刘永魁"), "作者单位：中国劳动和社会保障科学研究院", "热点思考"),
    ("建立和完善平台从业人员职业伤害保障的有益探索", ("鲁全",), "作者为中国人民大学教授、中国社会保障学会秘书长", "工作研究"),
    ("认真学习贯彻习近平总书记重要讲话精神 不断开创党的工运事业和工会工作新局面", (), "", "开栏的话"),
]  # fmt: skip


def _essential(doc):
    return (
        doc.title,
        doc.authors,
        doc.affiliation,
        doc.column,
        doc.standfirst,
        doc.text,
        doc.sections,
    )


def test_bundled_page_lists_each_article_with_title_authors_affiliation(bundled_docs):
    got = [(d.title, d.authors, d.affiliation, d.column) for d in bundled_docs]
    assert got == EXPECTED


def test_sections_and_standfirsts_are_found(bundled_docs):
    beijing, enterprise, employment, injury, box = bundled_docs
    assert [s.title for s in beijing.sections] == [
        "深刻领会习近平总书记重要讲话的重大意义",
        "深切感悟中国工会十八大呈现的新气象新变化",
        "深入推动首都工运事业和工会工作创新发展",
    ]
    assert [s.title for s in employment.sections] == [
        "顶层设计，政策引领",
        "分析问题，应对挑战",
        "认清差距，找准方向",
    ]
    for doc in bundled_docs:
        for section in doc.sections:
            assert doc.text[section.start :].startswith(section.title)
    assert enterprise.standfirst.startswith("职工队伍是支撑企业发展的重要力量")
    assert employment.standfirst.startswith("我国新就业形态公共就业服务需以提升")
    assert injury.standfirst == "" and box.text.startswith("中国工会第十八次全国代表大会")


def test_text_is_normalised(bundled_docs):
    beijing, injury = bundled_docs[0], bundled_docs[3]
    # Punctuation as printed (full-width), OCR spaces and wraps gone.
    assert beijing.text.startswith("10月9日至12日，中国工会十八大在北京胜利召开。10月23日，")
    assert "3次同中华全国总工会" in beijing.text  # full-width ３ became 3
    assert "从8个方面对习近平" in beijing.text  # "从 8个方" + "面" joined, space dropped
    assert "累计有668万人纳入职业伤害保障范围" in injury.text
    for doc in bundled_docs:
        assert "\n\n" not in doc.text and not doc.text.startswith(("\n", " "))
        # NFKC-stable except for the punctuation kept as printed; no ASCII comma where the
        # page printed full-width ones.
        kept = set("，：；？！（）％…～")
        assert all(c in kept or unicodedata.normalize("NFKC", c) == c for c in doc.text)
        assert "," not in doc.text and "，" in doc.text


def test_rearranged_page_parses_to_the_same_documents(bundled_docs):
    rearranged = load_documents([REARRANGED_PAGE])
    assert sorted(map(_essential, rearranged)) == sorted(map(_essential, bundled_docs))
    # The test page really is different: other order, width and blank-line style.
    raw_a, raw_b = BUNDLED_PAGE.read_text().splitlines(), REARRANGED_PAGE.read_text().splitlines()
    assert [d.title for d in rearranged] != [d.title for d in bundled_docs]
    assert max(map(len, raw_a[:240])) != max(map(len, raw_b[:240]))


def _chars(text: str) -> Counter:
    return Counter(c for c in unicodedata.normalize("NFKC", text) if not c.isspace())


@pytest.mark.parametrize("page", [BUNDLED_PAGE, REARRANGED_PAGE])
def test_every_character_of_the_page_ends_up_in_some_document(page):
    docs = load_documents([page])
    raw = _chars(page.read_text())
    kept = Counter()
    for d in docs:
        for part in (d.text, d.title, "".join(d.authors), d.affiliation, d.column, d.standfirst):
            kept += _chars(part)
    missing = raw - kept
    # Only the brackets around affiliation notes (the note itself is the text's last
    # paragraph, brackets included) and the column labels' bullet glyphs may go.
    assert set(missing) <= set(LABEL_BULLETS) | {"G"}, missing
    assert sum(missing.values()) <= 4


@pytest.mark.parametrize("page", [BUNDLED_PAGE, REARRANGED_PAGE])
def test_line_map_points_every_character_at_its_raw_line(page):
    raw_lines = page.read_text().splitlines()
    for doc in load_documents([page]):
        for offset, ch in enumerate(doc.text):
            if ch == "\n":
                continue
            line = display_normalize(raw_lines[doc.line_at(offset) - 1])
            assert ch in line, (doc.title, offset, ch)


def test_doc_ids_are_stable_and_unique(bundled_docs):
    again = load_documents([BUNDLED_PAGE])
    assert [d.doc_id for d in again] == [d.doc_id for d in bundled_docs]
    assert len({d.doc_id for d in bundled_docs}) == len(bundled_docs)


def test_unplaceable_text_goes_to_a_document_of_its_own(tmp_path):
    page = BUNDLED_PAGE.read_text() + "\n一段没有归属的文字,放在页面最后。\n\n另一段无主文字。\n"
    path = tmp_path / "page.txt"
    path.write_text(page)
    docs = load_documents([path])
    assert docs[-1].title == "未归类内容"
    assert "一段没有归属的文字" in docs[-1].text and "另一段无主文字" in docs[-1].text


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (["10 月 23 日,习近平"], "10月23日,习近平"),
        (["10 月 23 日，习近平"], "10月23日，习近平"),
        (["涵盖美团等 7", "家平台企业"], "涵盖美团等7家平台企业"),
        (["This is a wrapped", "English sentence"], "This is a wrapped English sentence"),
        (["（64.8%）和 APP 服务"], "（64.8%）和APP服务"),
        (["“一场 \x00大会”\u200b之后"], "“一场大会”之后"),
        (["第３次"], "第3次"),
    ],
)
def test_wrapped_lines_join_by_chinese_rules(lines, expected):
    builder = TextBuilder()
    for i, line in enumerate(lines):
        if i:
            builder.add_soft_break(i)
        builder.add_line(line, i)
    assert builder.build()[0] == expected


def test_txt_md_and_jsonl_files_and_folders(tmp_path):
    (tmp_path / "a.txt").write_text("第一行是标题\n\n正文第一段,\n跨行继续。\n\n第二段。\n")
    (tmp_path / "b.md").write_text("# Markdown 标题\n\n引言。\n\n## 第一节\n\n内容。\n")
    rows = [
        {"_id": "d1", "title": "T1", "text": "文本一。"},
        {"_id": "d2", "title": "", "text": "文本二。"},
    ]
    (tmp_path / "c.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows))
    (tmp_path / "ignored.xyz").write_bytes(b"\x00\x01")
    docs = load_documents([tmp_path])
    by_title = {d.title: d for d in docs}
    assert by_title["第一行是标题"].text == "正文第一段,跨行继续。\n第二段。"
    md = by_title["Markdown标题"]  # OCR-style spaces between scripts are dropped
    assert md.text == "引言。\n第一节\n内容。" and md.sections[0].title == "第一节"
    assert md.section_at(md.text.index("内容")) == "第一节"
    assert {d.doc_id for d in docs} >= {"d1", "d2"}


def test_non_utf8_file_is_a_clear_error_naming_the_file(tmp_path):
    bad = tmp_path / "gbk.txt"
    bad.write_bytes("中文".encode("gbk"))
    with pytest.raises(SourceError, match="gbk.txt: not valid UTF-8"):
        load_documents([bad])


def test_missing_and_unsupported_paths_are_clear_errors(tmp_path):
    with pytest.raises(SourceError, match="no such file"):
        load_documents([tmp_path / "nope.txt"])
    (tmp_path / "x.xyz").write_bytes(b"%PDF")
    with pytest.raises(SourceError, match="unsupported file type"):
        load_documents([tmp_path / "x.xyz"])


def test_malformed_jsonl_names_file_and_line(tmp_path):
    path = tmp_path / "corpus.jsonl"
    path.write_text('{"_id": "1", "text": "ok"}\n{"title": "no id"}\n')
    with pytest.raises(SourceError, match=r"corpus.jsonl:2"):
        load_documents([path])


def test_empty_file_is_skipped_with_a_warning(tmp_path, caplog):
    (tmp_path / "empty.txt").write_text("  \n")
    (tmp_path / "ok.txt").write_text("标题\n正文。\n")
    with caplog.at_level(logging.WARNING):
        docs = load_documents([tmp_path])
    assert [d.title for d in docs] == ["标题"]
    assert "empty.txt: empty file skipped" in caplog.text


# ---- the page laid out in other ways (tests/data/make_rearranged_page.py:make_variant) -------
def _variant_maker():
    import importlib.util

    path = REARRANGED_PAGE.parent / "make_rearranged_page.py"
    spec = importlib.util.spec_from_file_location("make_rearranged_page", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


VARIANTS = _variant_maker()
LAYOUT_CHANGES = VARIANTS.ALL_CHANGES - {"width"}


@pytest.mark.parametrize("seed", range(40))
def test_page_variants_parse_to_the_same_documents(bundled_docs, seed):
    """Pieces moved to the top or bottom, blank-line style per piece, titles before or after
    the body, pull quotes before or after the title, one byline or one per author."""
    page = VARIANTS.make_variant(seed, changes=LAYOUT_CHANGES)
    docs = parse_page(page, "variant.txt")
    assert sorted(map(_essential, docs)) == sorted(map(_essential, bundled_docs))


def _without_breaks(doc):
    return (doc.title, doc.authors, doc.affiliation, doc.column, doc.standfirst,
            doc.text.replace("\n", ""), tuple(s.title for s in doc.sections))  # fmt: skip


@pytest.mark.parametrize("seed", range(40))
def test_page_variants_with_other_column_widths_keep_articles_and_metadata(bundled_docs, seed):
    """Also other column, pull quote and heading widths. Without indentation in the text, a
    full line ending a sentence followed by a short one can be a paragraph's end and a one-line
    paragraph alike; so paragraph breaks may move, and nothing else."""
    page = VARIANTS.make_variant(seed)
    docs = parse_page(page, "variant.txt")
    assert sorted(map(_without_breaks, docs)) == sorted(map(_without_breaks, bundled_docs))


def test_variants_really_differ_from_the_page():
    pages = {VARIANTS.make_variant(seed) for seed in range(10)}
    assert len(pages) == 10 and BUNDLED_PAGE.read_text() not in pages
    firsts = {page.lstrip().splitlines()[0] for page in pages}
    assert len(firsts) >= 3  # different pieces at the top
