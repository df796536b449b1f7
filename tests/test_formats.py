"""Web pages, PDF and Word files, dates and sources, and bad files in a batch.

Every input is made by the test: pages written in the shapes Chinese news and government
sites use, PDFs drawn with fpdf2 and the CJK font CI installs, Word files with python-docx.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from rag.errors import SourceError
from rag.parsing import load_documents
from rag.parsing.loaders import load_batch
from tests.conftest import BUNDLED_PAGE

CJK_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
needs_font = pytest.mark.skipif(
    not CJK_FONT.exists(), reason="apt-get install fonts-wqy-microhei (CI installs it)"
)

NEWS_PAGE = """<!DOCTYPE html>
<html><head><meta http-equiv="Content-Type" content="text/html; charset={charset}">
<title>社区食堂试点扩大到20个街道--社会--人民网</title>
<meta name="publishdate" content="2023-10-26">
<meta property="og:site_name" content="人民网">
<meta property="og:url" content="http://society.people.com.cn/n1/2023/1026/c1008-40102345.html">
</head><body>
<div class="nav"><a href="/">首页</a> | <a href="/a">时政</a> | <a href="/b">社会</a> | <a href="/c">国际</a> | <a href="/d">评论</a></div>
<div class="main"><div class="layout"><div class="col-1">
<h1>社区食堂试点扩大到20个街道</h1>
<div class="box01"><div class="fl">2023年10月26日08:15 | 来源：<a href="#">人民网－人民日报</a></div>
<div class="fr">分享到：<a>微信</a> <a>微博</a> <a>QQ空间</a></div></div>
<div class="rm_txt"><div class="rm_txt_con cf">
<p>　　本报北京10月25日电（记者张三）本市社区食堂试点日前扩大到20个街道，覆盖老年人口约30万。</p>
<p>　　试点食堂为老年人提供优惠餐，每餐价格不超过15元；行动不便的老人可以预约送餐上门。</p>
<p>　　市民政局有关负责人表示，下一步将总结试点经验，力争明年在全市推开。“让老人吃得好、吃得放心”是试点的首要目标。</p>
<p class="edit">(责编：李四、王五)</p>
</div></div>
<div class="related"><h3>相关新闻</h3><ul>
<li><a href="/1">老年助餐服务覆盖面扩大</a></li><li><a href="/2">社区养老驿站建设提速</a></li>
<li><a href="/3">多地探索“长者食堂”运营新模式</a></li></ul></div>
<div class="comments"><h3>网友评论</h3><p>网友甲：这个好，支持！</p></div>
</div></div></div>
<div class="footer">人民网版权所有，未经书面授权禁止使用 Copyright © 1997-2023 by www.people.com.cn</div>
</body></html>
"""

GOV_PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8">
<title>关于进一步做好新就业形态劳动者职业伤害保障工作的通知_中国政府网</title></head>
<body><div class="header"><ul><li>首页</li><li>政策</li><li>服务</li></ul></div>
<div class="article oneColumn pub_border">
<div class="pages-title">关于进一步做好新就业形态劳动者职业伤害保障工作的通知</div>
<div class="pages-date">发布时间：2024-03-15 10:30　来源：人力资源社会保障部　作者：赵六</div>
<div class="pages_content"><div id="UCAP-CONTENT">
<p>各省、自治区、直辖市人力资源社会保障厅（局）：</p>
<p>为贯彻落实党中央、国务院决策部署，稳步推进新就业形态就业人员职业伤害保障试点工作，现就有关事项通知如下。</p>
<p>一、扩大试点范围。自2024年7月1日起，在原有7个省市基础上，新增北京、天津等10个省份开展试点。</p>
<p>二、优化经办服务。各地要简化参保登记流程，推行职业伤害确认线上办理。</p>
</div></div>
<div class="share">分享到：<a>微信</a><a>微博</a></div>
<div class="editor">【打印】【关闭】</div>
</div></body></html>
"""


def test_news_page_in_gbk_gives_article_text_and_metadata(tmp_path):
    path = tmp_path / "people.html"
    path.write_bytes(NEWS_PAGE.format(charset="gbk").encode("gb18030"))
    (doc,) = load_documents([path])
    assert doc.kind == "web"
    assert doc.title == "社区食堂试点扩大到20个街道"
    assert doc.published == "2023-10-26"
    assert doc.source == "http://society.people.com.cn/n1/2023/1026/c1008-40102345.html"
    assert doc.site == "人民网"
    assert doc.authors == ("张三",)  # the reporter named in the dateline
    assert doc.editors == ("李四", "王五")
    # The credit lines stay in the text people read (the date line without the share links
    # beside it, the editor line under the body); the page's furniture does not.
    lines = doc.text.splitlines()
    assert lines[0] == "2023年10月26日08:15 |来源：人民网－人民日报"
    assert lines[1].startswith("本报北京10月25日电（记者张三）本市社区食堂试点")
    assert lines[-2].endswith("是试点的首要目标。")
    assert lines[-1] == "(责编：李四、王五)"
    for noise in ("首页", "分享到", "微信", "相关新闻", "长者食堂", "网友", "版权所有"):
        assert noise not in doc.text, noise
    assert "，" in doc.text and "," not in doc.text  # punctuation as printed


def test_government_page_metadata_lines_give_date_author_and_origin(tmp_path):
    path = tmp_path / "gov.htm"
    path.write_bytes(GOV_PAGE.encode())
    (doc,) = load_documents([path])
    assert doc.title == "关于进一步做好新就业形态劳动者职业伤害保障工作的通知"
    assert doc.published == "2024-03-15" and doc.authors == ("赵六",)
    assert doc.source == path.as_posix() and doc.kind == "web"
    lines = doc.text.splitlines()
    assert lines[0] == "发布时间：2024-03-15 10:30来源：人力资源社会保障部作者：赵六"
    assert lines[1] == "各省、自治区、直辖市人力资源社会保障厅（局）："
    assert "二、优化经办服务" in doc.text
    for noise in ("打印", "分享到", "政策"):
        assert noise not in doc.text, noise


def test_a_folder_of_saved_pages_ingests_like_a_folder_of_text_files(tmp_path):
    (tmp_path / "a.html").write_bytes(NEWS_PAGE.format(charset="utf-8").encode())
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.HTML").write_bytes(GOV_PAGE.encode())
    (tmp_path / "c.txt").write_text("标题\n\n正文。\n")
    docs = load_documents([tmp_path])
    assert sorted(d.kind for d in docs) == ["text", "web", "web"]
    assert len({d.doc_id for d in docs}) == 3


def test_page_without_an_article_is_a_clear_error(tmp_path):
    path = tmp_path / "index.html"
    links = "".join(f'<li><a href="/{i}">栏目{i}</a></li>' for i in range(30))
    path.write_text(f"<html><head><title>首页</title></head><body><ul>{links}</ul></body></html>")
    with pytest.raises(SourceError, match=r"index\.html: no article text"):
        load_documents([path])


# ---- PDF -------------------------------------------------------------------------------------
def _pdf(columns: list[list[str]], title: str = "", font_size: float = 6.5):
    """A PDF with the given columns of lines ("" = a blank line), two columns a page."""
    from fpdf import FPDF

    pdf = FPDF(unit="pt", format="A4")
    pdf.add_font("wqy", fname=str(CJK_FONT), collection_font_number=0)
    pdf.set_font("wqy", size=font_size)
    if title:
        pdf.set_title(title)
    pitch = font_size * 1.4
    for k, column in enumerate(columns):
        if k % 2 == 0:
            pdf.add_page()
        x = 40 + (k % 2) * 280
        y = 50.0
        for line in column:
            if line.strip():
                pdf.text(x, y, line)
            y += pitch
    return bytes(pdf.output())


def _page_columns(raw: str, height: int = 52) -> list[list[str]]:
    """Cut a page's lines into columns of ``height`` lines; text flows on into the next
    column, and a blank line at a cut stays at the head of the next column (as space)."""
    columns: list[list[str]] = [[]]
    for line in raw.splitlines():
        if len(columns[-1]) >= height:
            columns.append([])
        columns[-1].append(line)
    for column, following in zip(columns, columns[1:], strict=False):
        while column and not column[-1].strip():  # space at a column's foot is invisible
            following.insert(0, column.pop())
    return columns


@needs_font
def test_newspaper_page_pdf_goes_through_the_page_parser(tmp_path):
    raw = BUNDLED_PAGE.read_text()
    path = tmp_path / "page.pdf"
    path.write_bytes(_pdf(_page_columns(raw)))
    from_pdf = load_documents([path])
    from_txt = load_documents([BUNDLED_PAGE])

    def essential(d):
        return (d.title, d.authors, d.affiliation, d.column, d.text)

    assert [essential(d) for d in from_pdf] == [essential(d) for d in from_txt]
    assert {d.kind for d in from_pdf} == {"pdf"}


@needs_font
def test_plain_pdf_is_one_document_with_paragraphs_and_date(tmp_path):
    lines = [
        "关于推进社区食堂建设的报告",
        "2023年10月26日",
        "",
        "一、总体情况。本市社区食堂试点已扩大到20个街道，覆盖",
        "老年人口约30万。",
        "二、下一步安排。将总结试点经验，力争明年在全市推开，并",
        "建立价格监测机制。",
    ]
    path = tmp_path / "report.pdf"
    path.write_bytes(_pdf([lines], title="社区食堂报告"))
    (doc,) = load_documents([path])
    assert doc.kind == "pdf" and doc.title == "关于推进社区食堂建设的报告"
    assert doc.published == "2023-10-26"
    assert doc.text.splitlines()[1:] == [
        "一、总体情况。本市社区食堂试点已扩大到20个街道，覆盖老年人口约30万。",
        "二、下一步安排。将总结试点经验，力争明年在全市推开，并建立价格监测机制。",
    ]


@needs_font
def test_scanned_pdf_without_text_layer_says_so(tmp_path):
    from fpdf import FPDF
    from PIL import Image

    image = Image.new("L", (200, 100), 255)
    pdf = FPDF()
    pdf.add_page()
    pdf.image(image, x=10, y=10, w=100)
    path = tmp_path / "scan.pdf"
    path.write_bytes(bytes(pdf.output()))
    with pytest.raises(SourceError, match=r"scan\.pdf: the PDF has no text layer.*OCR"):
        load_documents([path])


@needs_font
def test_password_protected_pdf_says_so(tmp_path):
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_encryption(owner_password="owner", user_password="secret")
    pdf.add_page()
    pdf.add_font("wqy", fname=str(CJK_FONT), collection_font_number=0)
    pdf.set_font("wqy", size=12)
    pdf.text(20, 20, "机密文件")
    path = tmp_path / "locked.pdf"
    path.write_bytes(bytes(pdf.output()))
    with pytest.raises(SourceError, match=r"locked\.pdf: the PDF is password-protected"):
        load_documents([path])


# ---- Word ------------------------------------------------------------------------------------
def _docx(paragraphs: list[tuple[str, str]]) -> bytes:
    import docx

    word = docx.Document()
    for style, text in paragraphs:
        if style == "Title":
            word.add_heading(text, level=0)
        elif style.startswith("Heading"):
            word.add_heading(text, level=int(style.split()[-1]))
        else:
            word.add_paragraph(text)
    out = io.BytesIO()
    word.save(out)
    return out.getvalue()


def test_docx_headings_become_sections(tmp_path):
    path = tmp_path / "policy.docx"
    path.write_bytes(
        _docx(
            [
                ("Title", "社区食堂建设指引"),
                ("", "发布日期：2024年1月5日　来源：市民政局"),
                ("", "为规范社区食堂建设，制定本指引。"),
                ("Heading 1", "一、选址要求"),
                ("", "社区食堂应设在老年人步行15分钟可达的范围内。"),
                ("Heading 1", "二、价格要求"),
                ("", "每餐价格不超过15元。"),
            ]
        )
    )
    (doc,) = load_documents([path])
    assert doc.kind == "docx" and doc.title == "社区食堂建设指引"
    assert doc.published == "2024-01-05" and doc.site == "市民政局"
    assert [s.title for s in doc.sections] == ["一、选址要求", "二、价格要求"]
    assert doc.section_at(doc.text.index("每餐价格")) == "二、价格要求"
    # The credit line under the title stays, as a page's does; the body follows it.
    assert doc.text.splitlines()[:2] == [
        "发布日期：2024年1月5日来源：市民政局",
        "为规范社区食堂建设，制定本指引。",
    ]
    for s in doc.sections:
        assert doc.text[s.start :].startswith(s.title)


# ---- bad files in a batch --------------------------------------------------------------------
def test_bad_files_are_skipped_with_reasons_and_the_rest_goes_in(tmp_path):
    (tmp_path / "good.txt").write_text("好文章\n\n正文第一段。\n")
    (tmp_path / "corrupt.pdf").write_bytes(b"%PDF-1.7\n1 0 obj<<>>\ngarbage")
    (tmp_path / "empty.html").write_text("<html><body><div>首页</div></body></html>")
    (tmp_path / "locked.docx").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600)
    (tmp_path / "binary.txt").write_bytes(bytes(range(256)) * 40)
    (tmp_path / "png.md").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)
    (tmp_path / "big.txt").write_text("大" * 2000)
    result = load_batch([tmp_path], max_bytes=5000)
    assert [d.title for d in result.documents] == ["好文章"]
    reasons = {Path(s.path).name: s.reason for s in result.skipped}
    assert set(reasons) == {
        "corrupt.pdf", "empty.html", "locked.docx", "binary.txt", "png.md", "big.txt"
    }  # fmt: skip
    for name, reason in reasons.items():
        assert reason.startswith(str(tmp_path / name) + ": "), reason
    assert "not a readable PDF" in reasons["corrupt.pdf"]
    assert "no article text" in reasons["empty.html"]
    assert "password-protected" in reasons["locked.docx"]
    assert "binary" in reasons["binary.txt"] and "PNG image" in reasons["png.md"]
    assert "over the limit of 5,000 bytes" in reasons["big.txt"]


def test_control_characters_are_stripped_and_offsets_stay_right(tmp_path):
    path = tmp_path / "nul.txt"
    path.write_text("标题\n\n第一\x00段\u200b文字，\x07继续。\n\n第二段。\n")
    (doc,) = load_documents([path])
    assert doc.text == "第一段文字，继续。\n第二段。"
    assert doc.line_at(doc.text.index("继续")) == 3 and doc.line_at(doc.text.index("第二")) == 5


def test_ingest_reports_skipped_files_and_indexes_the_rest(tmp_path):
    from rag.embedding.fake import HashEncoder
    from rag.engine import Engine, EngineConfig

    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "good.md").write_text("# 好文章\n\n2023年10月26日\n\n正文第一段，讲社区食堂。\n")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 truncated")
    engine = Engine(EngineConfig(index_dir=tmp_path / "idx"), encoder=HashEncoder())
    report = engine.ingest([folder], rebuild=True)
    assert len(report.added) == 1
    assert [(Path(p).name, "not a readable PDF" in why) for p, why in report.skipped] == [
        ("broken.pdf", True)
    ]
    (doc,) = engine.documents()
    assert (doc.title, doc.published, doc.kind) == ("好文章", "2023-10-26", "text")


def test_index_from_before_full_width_punctuation_asks_for_a_rebuild(tmp_path):
    import json

    from rag.embedding.fake import HashEncoder
    from rag.errors import IndexMismatchError
    from rag.index.store import Index

    index = Index(HashEncoder())
    index.add_documents(load_documents([BUNDLED_PAGE])[:1])
    index.save(tmp_path / "idx")
    manifest = json.loads((tmp_path / "idx" / "manifest.json").read_text())
    del manifest["text_version"]  # as written before the text version was recorded
    (tmp_path / "idx" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexMismatchError, match=r"text version 1.*rag ingest --rebuild"):
        Index.load(tmp_path / "idx", HashEncoder())


def test_quotes_keep_full_width_punctuation_and_ascii_queries_still_match(index):
    from rag.search.searcher import Searcher

    hits = Searcher(index).search("其一,精准回应了平台从业人员", top_k=3, mode="keyword").hits
    assert any("其一，精准回应" in h.chunk.text for h in hits)
    for h in hits:
        doc = index.documents[h.chunk.doc_id]
        assert doc.text[h.chunk.start : h.chunk.end] == h.chunk.text
