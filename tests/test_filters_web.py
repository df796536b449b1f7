"""The web page's filter row (date range, source) in a real browser against a live server."""

from __future__ import annotations

import json

import pytest

from tests.test_web import ask, browser, page, server  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def test_filter_row_limits_the_answer_and_clears(page, server):  # noqa: F811
    from playwright.sync_api import expect

    page.goto(server.url)
    sent = []
    page.on("request", lambda r: sent.append(r.post_data) if r.url.endswith("/ask") else None)
    expect(page.locator("#filters")).to_be_visible()
    # The bundled page's articles state no date: a date range leaves nothing to answer from.
    page.fill("#filter-after", "2023-01-01")
    page.fill("#filter-source", "data/")
    data = ask(page, "职业伤害保障试点有哪四个亮点？")
    body = json.loads(sent[-1])
    assert body["published_after"] == "2023-01-01" and body["source"] == "data/"
    assert "published_before" not in body
    assert not data["answerable"] and data["citations"] == [] and data["passages"] == []
    expect(page.locator("#unanswerable")).to_be_visible()

    page.click("#filter-clear")
    expect(page.locator("#filter-after")).to_have_value("")
    data = ask(page, "职业伤害保障试点有哪四个亮点？")
    assert "published_after" not in json.loads(sent[-1])
    assert data["answerable"] and data["citations"]
