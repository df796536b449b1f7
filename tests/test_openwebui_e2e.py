"""End to end: a real Open WebUI, with this service as its only model, driven in Chromium.

Skipped unless Open WebUI is installed (the ``open-webui`` command, or ``OPENWEBUI_BIN``);
install it in a scratch Python 3.11 environment (CPU torch first):

    python3.11 -m venv owui && owui/bin/pip install torch==2.13.0 'open-webui>=0.12,<0.13'
    OPENWEBUI_BIN=owui/bin/open-webui pytest -m openwebui

Open WebUI starts with its own retrieval and embedding switched off; a question asked in its
page must come back with citation chips (one per ``[n]``, stored with the chat so they
survive a reload), and its background tasks must leave a title, tags and follow-up
suggestions. A screenshot goes to ``artifacts/screenshots/openwebui.png`` (and to
``docs/openwebui.png`` when that is missing or ``RAG_UPDATE_SCREENSHOT=1``).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time

import httpx
import pytest

from tests.conftest import ROOT, serve
from tests.test_web import CHROMIUM, CHROMIUM_ARGS

pytestmark = [pytest.mark.openwebui, pytest.mark.slow, pytest.mark.browser]

OPENWEBUI = shutil.which(os.environ.get("OPENWEBUI_BIN", "open-webui"))
QUESTION = "职业伤害保障试点有哪四个亮点？"
START_TIMEOUT = 600  # first start runs its database migrations; slow on a busy machine
ANSWER_TIMEOUT = 300


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def open_webui(real_engine, tmp_path_factory):
    if OPENWEBUI is None:
        pytest.skip("Open WebUI is not installed (set OPENWEBUI_BIN or put open-webui on PATH)")
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's Chromium: apt-get install -y chromium")
    data = tmp_path_factory.mktemp("open-webui")
    port = _free_port()
    with serve(real_engine, api_key="k-e2e") as service:
        env = {
            **os.environ,
            "DATA_DIR": str(data),
            "WEBUI_SECRET_KEY": "e2e-secret",
            "OPENAI_API_BASE_URL": f"{service.url}/v1",
            "OPENAI_API_KEY": "k-e2e",
            "ENABLE_OLLAMA_API": "False",
            "BYPASS_EMBEDDING_AND_RETRIEVAL": "True",
            "RAG_EMBEDDING_ENGINE": "openai",
            "OFFLINE_MODE": "True",
            "HF_HUB_OFFLINE": "1",
            "ENABLE_VERSION_UPDATE_CHECK": "False",
        }
        log = (data / "open-webui.log").open("w")
        process = subprocess.Popen(
            [OPENWEBUI, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while True:
                try:
                    if httpx.get(f"{url}/health", timeout=5).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"Open WebUI did not start; see {data / 'open-webui.log'}")
                time.sleep(2)
            user = {"name": "Tester", "email": "tester@example.com", "password": "e2e-pass-123"}
            token = httpx.post(f"{url}/api/v1/auths/signup", json=user, timeout=60).json()["token"]
            yield url, token
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
            log.close()


def test_a_question_in_open_webui_gets_chips_a_title_tags_and_suggestions(open_webui):
    from playwright.sync_api import sync_playwright

    url, token = open_webui
    auth = {"Authorization": f"Bearer {token}"}
    models = httpx.get(f"{url}/api/models", headers=auth, timeout=60).json()["data"]
    assert [m["id"] for m in models] == ["rag-news-zh"]

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1300, "height": 1000}, locale="zh-CN")
        page.set_default_timeout(ANSWER_TIMEOUT * 1000)
        page.goto(f"{url}/auth")
        page.evaluate(f"localStorage.setItem('token', '{token}')")
        page.goto(f"{url}/")
        _dismiss_whats_new(page)
        page.locator("#chat-input").click()
        page.keyboard.type(QUESTION)
        page.keyboard.press("Enter")

        chat = _wait_for_chat(url, auth)
        page.reload()
        _dismiss_whats_new(page)
        page.get_by_text("其四").first.wait_for()
        page.wait_for_timeout(2000)
        shot = ROOT / "artifacts" / "screenshots" / "openwebui.png"
        shot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shot), full_page=True)
        page_text = page.locator("body").inner_text()
        browser.close()
    docs_shot = ROOT / "docs" / "openwebui.png"
    if not docs_shot.exists() or os.environ.get("RAG_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(shot, docs_shot)

    assert chat["title"] == QUESTION.rstrip("？")
    assert "工作研究" in chat["meta"]["tags"]  # the cited article's column
    answer = next(m for m in chat["messages"] if m["role"] == "assistant")
    markers = set(re.findall(r"\[(\d+)\]", answer["content"]))
    assert len(markers) >= 5 and "Sources:" not in answer["content"]
    sources = answer["sources"]  # stored with the chat: the chips survive a reload
    assert len(sources) == len(markers)
    assert len({s["metadata"][0]["source"] for s in sources}) == len(sources)
    assert answer["followUps"] and all("“" in s or "《" in s for s in answer["followUps"])
    assert "Sources:" not in page_text and "其一" in page_text


def _dismiss_whats_new(page) -> None:
    """Close the "what's new" dialog Open WebUI shows on a fresh start (and after reloads)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.locator("#chat-input").wait_for()
    button = page.get_by_text(re.compile("确认，开始使用|Okay, Let's Go"))
    try:
        button.first.wait_for(timeout=10_000)
    except PlaywrightTimeout:  # no dialog this time
        return
    button.first.click()
    button.first.wait_for(state="hidden")


def _wait_for_chat(url: str, auth: dict) -> dict:
    """The chat once its answer, sources, title, tags and suggestions are all stored."""
    deadline = time.monotonic() + ANSWER_TIMEOUT
    while time.monotonic() < deadline:
        time.sleep(3)
        chats = httpx.get(f"{url}/api/v1/chats/", headers=auth, timeout=60).json()
        if not chats:
            continue
        body = httpx.get(f"{url}/api/v1/chats/{chats[0]['id']}", headers=auth, timeout=60).json()
        chat = body["chat"]
        messages = list(chat["history"]["messages"].values())
        answer = next((m for m in messages if m["role"] == "assistant"), None)
        tags = (body.get("meta") or {}).get("tags") or []
        if answer and answer.get("done") and answer.get("followUps") and tags:
            return {"title": body["title"], "meta": {"tags": tags}, "messages": messages}
    pytest.fail("Open WebUI did not store the answer, its title, tags and follow-ups in time")
