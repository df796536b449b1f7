"""The `rag` command line: documents (fast), ingest/search/ask with the real model (slow)."""

from __future__ import annotations

import json

import pytest

from api.cli import main
from tests.conftest import BUNDLED_PAGE, ROOT


def test_documents_lists_each_article_with_title_authors_affiliation(capsys):
    assert main(["documents"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == [
        "title",
        "authors",
        "affiliation",
        "column",
        "published",
        "kind",
        "source",
        "characters",
        "chunks",
    ]
    assert "打造高素质职工队伍 助力建设世界一流企业" in out and "关明鑫" in out
    assert "战梦霞、刘永魁" in out and "作者单位：天津市总工会" in out
    assert len(out.strip().splitlines()) == 1 + 5


def test_documents_json_prints_every_field_with_text(capsys):
    assert main(["documents", "--json", str(BUNDLED_PAGE)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 5
    for row in rows:
        assert {
            "doc_id",
            "title",
            "authors",
            "affiliation",
            "column",
            "sections",
            "text",
            "chunks",
            "characters",
        } <= set(row)
        assert row["characters"] == len(row["text"]) and row["chunks"] >= 1
    injury = next(r for r in rows if r["authors"] == ["鲁全"])
    assert injury["column"] == "工作研究" and "四个亮点" in injury["text"]


def test_documents_reports_unreadable_files_clearly(tmp_path, capsys):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\xff\xfe\xfa")
    assert main(["documents", str(bad)]) == 2
    assert "bad.txt: not valid UTF-8" in capsys.readouterr().err


@pytest.mark.slow
def test_ingest_search_and_ask_from_the_command_line(tmp_path, capsys, real_encoder):
    index_dir = str(tmp_path / "idx")
    assert main(["ingest", "--rebuild", "--index-dir", index_dir]) == 0
    assert "added 5" in capsys.readouterr().out
    extra = tmp_path / "extra.md"
    extra.write_text("# 社区食堂\n\n本市社区食堂试点扩大到二十个街道。\n")
    assert main(["ingest", str(extra), str(BUNDLED_PAGE), "--index-dir", index_dir]) == 0
    out = capsys.readouterr().out
    assert "added 1, replaced 0, unchanged 5" in out and "6 documents" in out

    assert (
        main(
            [
                "search",
                "社区食堂试点扩大到多少个街道",
                "--top-k",
                "2",
                "--index-dir",
                index_dir,
                "--json",
            ]
        )
        == 0
    )
    body = json.loads(capsys.readouterr().out)
    assert body["hits"][0]["title"] == "社区食堂" and len(body["hits"]) == 2

    assert main(["search", "668万", "--mode", "keyword", "--index-dir", index_dir]) == 0
    assert "668万人" in capsys.readouterr().out

    assert main(["ask", "职业伤害保障试点有哪四个亮点？", "--index-dir", index_dir]) == 0
    out = capsys.readouterr().out
    assert "1. 其一" in out and "4. 其四" in out and "Sources:" in out and "lines 690" in out

    assert (
        main(
            [
                "ask",
                "What are the four highlights of the injury-insurance pilot?",
                "--json",
                "--index-dir",
                index_dir,
            ]
        )
        == 0
    )
    body = json.loads(capsys.readouterr().out)
    assert body["answerable"] and len(body["citations"]) >= 4


@pytest.mark.slow
def test_a_mismatched_index_is_refused_with_a_rebuild_hint(tmp_path, capsys, real_encoder):
    from rag.embedding.fake import HashEncoder
    from rag.index.store import Index
    from rag.parsing import load_documents

    index = Index(HashEncoder())
    index.add_documents(load_documents([BUNDLED_PAGE]))
    index.save(tmp_path / "idx")
    assert main(["search", "工会", "--index-dir", str(tmp_path / "idx")]) == 2
    err = capsys.readouterr().err
    assert "hash-bigram-64" in err and "rag ingest --rebuild" in err


def test_readme_quick_start_commands_exist():
    readme = (ROOT / "README.md").read_text()
    assert "./scripts/serve.sh" in readme and "./scripts/test.sh" in readme
    assert "scripts/test.sh" in (ROOT / ".ci" / "run").read_text()


@pytest.mark.slow
def test_another_sentence_transformers_model_is_recorded_and_checked(tmp_path, real_encoder):
    from rag.engine import Engine, EngineConfig
    from rag.errors import IndexMismatchError
    from rag.index.store import Index, read_manifest

    folder = str(real_encoder.model)  # any local sentence-transformers folder will do
    config = EngineConfig(index_dir=tmp_path / "idx", corpus=(BUNDLED_PAGE,), model=folder,
                          query_prompt="query: ", passage_prompt="passage: ")  # fmt: skip
    engine = Engine(config)
    engine.warm_up()
    assert read_manifest(tmp_path / "idx")["model"] == folder
    assert (
        engine.search("累计有多少人纳入职业伤害保障范围", top_k=1)
        .hits[0]
        .chunk.text.count("668万人")
    )
    with pytest.raises(IndexMismatchError, match="configured model"):
        Index.load(tmp_path / "idx", real_encoder)
