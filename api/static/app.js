// The question page: ask, show the cited answer, its sources and the whole article.
// Every string from the API goes into the page as a text node (never as HTML).
"use strict";

(() => {
  const KEY_STORAGE = "rag-api-key";
  const CONTEXT_CHARS = 80; // context either side of a quote when the passage is not at hand
  const MAX_HISTORY = 20; // earlier turns sent with a follow-up (the API's limit)

  const $ = (id) => document.getElementById(id);
  const els = {
    form: $("ask-form"),
    question: $("question"),
    askButton: $("ask-button"),
    questionLabel: $("question-label"),
    newConversation: $("new-conversation"),
    followupHint: $("followup-hint"),
    conversation: $("conversation"),
    turns: $("turns"),
    currentQuestion: $("current-question"),
    keyForm: $("key-form"),
    keyInput: $("api-key"),
    keyMessage: $("key-message"),
    keyCancel: $("key-cancel"),
    status: $("status"),
    error: $("error"),
    result: $("result"),
    unanswerable: $("unanswerable"),
    note: $("note"),
    answer: $("answer"),
    timing: $("timing"),
    sourcesHeading: $("sources-heading"),
    sources: $("sources"),
    dialog: $("article"),
    articleTitle: $("article-title"),
    articleMeta: $("article-meta"),
    articleText: $("article-text"),
    articleClose: $("article-close"),
  };

  /** Build an element: el("p", {className: "x"}, "text", childNode, ...). */
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    Object.assign(node, props || {});
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  /** A bilingual label: "中文 English" with the English part marked lang="en". */
  function label(zh, en) {
    return el("span", {}, zh + " ", el("span", { lang: "en" }, en));
  }

  // ---- API access, with the key asked for once on the first 401 ----

  class ApiError extends Error {}

  function storedKey() {
    try {
      return localStorage.getItem(KEY_STORAGE) || "";
    } catch {
      return "";
    }
  }

  let sessionKey = storedKey();
  let pendingKey = null; // {resolve, reject} while the key form is open

  function askForKey(wrong) {
    els.keyMessage.replaceChildren(
      wrong
        ? label("API 密钥不正确，请重新输入。", "The API key was not accepted; enter it again.")
        : label("这个服务需要 API 密钥。", "This service needs an API key."),
    );
    els.keyForm.hidden = false;
    els.keyInput.value = "";
    els.keyInput.focus();
    return new Promise((resolve, reject) => {
      pendingKey = { resolve, reject };
    });
  }

  els.keyForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const key = els.keyInput.value.trim();
    if (!key || !pendingKey) return;
    sessionKey = key;
    try {
      localStorage.setItem(KEY_STORAGE, key);
    } catch {
      // storage disabled: the key lasts for this page only
    }
    els.keyForm.hidden = true;
    const { resolve } = pendingKey;
    pendingKey = null;
    resolve();
  });

  els.keyCancel.addEventListener("click", () => {
    els.keyForm.hidden = true;
    if (pendingKey) {
      const { reject } = pendingKey;
      pendingKey = null;
      reject(new ApiError("需要 API 密钥 — an API key is required"));
    }
  });

  /** Call the API; on 401 ask for the key, store it and retry. Throws ApiError in words. */
  async function api(path, init = {}) {
    for (;;) {
      const headers = { Accept: "application/json", ...(init.headers || {}) };
      if (sessionKey) headers.Authorization = `Bearer ${sessionKey}`;
      let response;
      try {
        response = await fetch(new URL(path, document.baseURI), { ...init, headers });
      } catch {
        throw new ApiError("网络错误 — network error");
      }
      if (response.status === 401) {
        await askForKey(Boolean(sessionKey));
        continue;
      }
      let body = null;
      try {
        body = await response.json();
      } catch {
        body = null;
      }
      if (!response.ok) {
        const message =
          (body && body.error && body.error.message) ||
          (body && typeof body.detail === "string" && body.detail) ||
          `HTTP ${response.status} ${response.statusText}`;
        throw new ApiError(message);
      }
      return body;
    }
  }

  const documents = new Map(); // doc_id -> Promise of the document

  function fetchDocument(docId) {
    if (!documents.has(docId)) {
      const request = api(`documents/${encodeURIComponent(docId)}`);
      request.catch(() => documents.delete(docId));
      documents.set(docId, request);
    }
    return documents.get(docId);
  }

  // ---- rendering ----

  /**
   * Map the API's offsets (Python code points) to JavaScript string indices (UTF-16 units);
   * they differ only after a character outside the BMP (some rare CJK, emoji).
   */
  function toUtf16(text) {
    if (!/[\uD800-\uDFFF]/.test(text)) return (i) => i;
    const units = [];
    let u = 0;
    for (const ch of text) {
      units.push(u);
      u += ch.length;
    }
    units.push(u);
    return (i) => units[Math.max(0, Math.min(i, units.length - 1))];
  }

  /** Text with [start, end) (string indices) wrapped in <mark>. */
  function highlighted(text, start, end, markProps) {
    const frag = document.createDocumentFragment();
    frag.append(text.slice(0, start));
    frag.append(el("mark", markProps || {}, text.slice(start, end)));
    frag.append(text.slice(end));
    return frag;
  }

  /** One answer line, its [n] markers turned into links to the sources (ids `${prefix}source-n`). */
  function withMarkers(line, cited, prefix) {
    const frag = document.createDocumentFragment();
    const pattern = /\[(\d+)\]/g;
    let last = 0;
    for (const match of line.matchAll(pattern)) {
      frag.append(line.slice(last, match.index));
      const n = Number(match[1]);
      if (cited.has(n)) {
        const link = el("a", { href: `#${prefix}source-${n}`, className: "marker" }, `[${n}]`);
        link.dataset.n = String(n);
        link.setAttribute("aria-label", `来源 source ${n}`);
        frag.append(link);
      } else {
        frag.append(match[0]);
      }
      last = match.index + match[0].length;
    }
    frag.append(line.slice(last));
    return frag;
  }

  /** The answer text: numbered lines ("1. ...") become a list, the others paragraphs. */
  function renderAnswer(target, text, cited, prefix) {
    const out = [];
    let list = null;
    for (const line of text.split("\n")) {
      if (!line.trim()) {
        list = null;
        continue;
      }
      const item = line.match(/^\s*(\d+)[.)、]\s*(.*)$/);
      if (item) {
        if (!list) {
          list = el("ol");
          out.push(list);
        }
        list.append(el("li", { value: Number(item[1]) }, withMarkers(item[2], cited, prefix)));
      } else {
        list = null;
        out.push(el("p", {}, withMarkers(line, cited, prefix)));
      }
    }
    target.replaceChildren(...out);
  }

  function metaLine(item) {
    const parts = [];
    if (item.authors && item.authors.length) parts.push(item.authors.join("、"));
    if (item.section) parts.push(item.section);
    if (item.lines && item.lines.length === 2) {
      parts.push(item.lines[0] === item.lines[1] ? `第${item.lines[0]}行 line ${item.lines[0]}`
        : `第${item.lines[0]}–${item.lines[1]}行 lines ${item.lines[0]}–${item.lines[1]}`);
    }
    return parts.join(" · ");
  }

  function openButton(docId, start, end) {
    const button = el("button", { type: "button", className: "open-article secondary" },
      label("查看全文", "Open article"));
    button.addEventListener("click", () => openArticle(docId, start, end));
    return button;
  }

  /** The quote inside its passage: the chunk text when we have it, else context from the document. */
  function quoteBlock(citation, passagesByChunk) {
    const block = el("blockquote", { className: "passage", lang: "zh-Hans" });
    const passage = passagesByChunk.get(citation.chunk_id);
    if (passage) {
      let at = toUtf16(passage.text)(citation.start - passage.start);
      if (passage.text.slice(at, at + citation.quote.length) !== citation.quote) {
        at = passage.text.indexOf(citation.quote);
      }
      if (at >= 0) {
        block.append(highlighted(passage.text, at, at + citation.quote.length));
        return block;
      }
    }
    block.append(el("mark", {}, citation.quote));
    fetchDocument(citation.doc_id)
      .then((doc) => {
        const at = toUtf16(doc.text);
        const [start, end] = [at(citation.start), at(citation.end)];
        const from = Math.max(0, start - CONTEXT_CHARS);
        const to = Math.min(doc.text.length, end + CONTEXT_CHARS);
        const context = doc.text.slice(from, to);
        block.replaceChildren(
          from > 0 ? "…" : "",
          highlighted(context, start - from, end - from),
          to < doc.text.length ? "…" : "",
        );
      })
      .catch(() => {}); // the quote alone is still shown
    return block;
  }

  /**
   * The sources of an answer into `list`: each citation's quote in its passage, or (compact,
   * for earlier turns) the quote alone; the closest passages when nothing was cited.
   */
  function renderSources(list, heading, data, prefix, compact) {
    const passagesByChunk = new Map(data.passages.map((p) => [p.chunk_id, p]));
    const items = [];
    if (data.citations.length) {
      heading.replaceChildren(label("来源", "Sources"));
      for (const c of data.citations) {
        const item = el("li", { id: `${prefix}source-${c.n}`, className: "source", tabIndex: -1 });
        item.dataset.n = String(c.n);
        item.append(
          el("div", { className: "source-head" },
            el("span", { className: "source-n" }, `[${c.n}]`),
            el("span", { className: "source-title", lang: "zh-Hans" }, c.title)),
          el("p", { className: "meta" }, metaLine(c)),
          compact ? el("blockquote", { className: "passage", lang: "zh-Hans" }, el("mark", {}, c.quote))
            : quoteBlock(c, passagesByChunk),
          openButton(c.doc_id, c.start, c.end),
        );
        items.push(item);
      }
    } else {
      heading.replaceChildren(label("最接近的段落", "Closest passages"));
      for (const p of data.passages) {
        const item = el("li", { className: "source passage-only" });
        item.append(
          el("div", { className: "source-head" },
            el("span", { className: "source-title", lang: "zh-Hans" }, p.title)),
          el("p", { className: "meta" }, metaLine(p)),
          el("blockquote", { className: "passage", lang: "zh-Hans" },
            compact && p.text.length > 120 ? `${p.text.slice(0, 120)}…` : p.text),
          openButton(p.doc_id, p.start, p.end),
        );
        items.push(item);
      }
    }
    list.replaceChildren(...items);
    list.classList.toggle("numbered", data.citations.length > 0);
  }

  /** The answer text without lines the note already shows (the English note opens it). */
  function answerText(data) {
    if (!data.note) return data.answer;
    const lines = data.answer.split("\n");
    while (lines.length > 1 && lines[0].trim() && data.note.includes(lines[0].trim())) lines.shift();
    return lines.join("\n");
  }

  function render(data, question) {
    const cited = new Set(data.citations.map((c) => c.n));
    els.currentQuestion.replaceChildren(el("span", { className: "turn-label" }, "问 Q"), question);
    els.unanswerable.hidden = data.answerable;
    els.note.hidden = !data.note;
    els.note.textContent = data.note || "";
    renderAnswer(els.answer, answerText(data), cited, "");
    renderSources(els.sources, els.sourcesHeading, data, "", false);
    const total = data.timings_ms && data.timings_ms.total;
    els.timing.textContent = typeof total === "number" ? `用时 Time: ${Math.round(total)} ms` : "";
    els.result.hidden = false;
  }

  // ---- the conversation: earlier turns stay on screen with their sources ----

  const turns = []; // {question, data}, oldest first; the last one is shown in #result

  /** An earlier turn as it stays on screen: question, answer and sources (ids prefixed). */
  function earlierTurn(turn, k) {
    const prefix = `t${k}-`;
    const { data } = turn;
    const cited = new Set(data.citations.map((c) => c.n));
    const item = el("li", { className: "turn", id: `turn-${k}` });
    item.append(el("p", { className: "turn-question" }, el("span", { className: "turn-label" }, "问 Q"),
      turn.question));
    if (!data.answerable) {
      item.append(el("p", { className: "unanswerable" },
        el("strong", {}, label("可能无法回答", "Probably not answerable"))));
    }
    if (data.note) item.append(el("p", { className: "note" }, data.note));
    const answer = el("div", { className: "answer", lang: "zh-Hans" });
    renderAnswer(answer, answerText(data), cited, prefix);
    const heading = el("span", { className: "sources-summary" });
    const list = el("ol", { className: "sources" });
    renderSources(list, heading, data, prefix, true);
    const count = data.citations.length || data.passages.length;
    const details = el("details", { className: "turn-sources", open: true },
      el("summary", {}, heading, ` (${count})`), list);
    item.append(answer, details);
    return item;
  }

  function showConversation() {
    const ongoing = turns.length > 0;
    els.conversation.hidden = turns.length < 2;
    els.newConversation.hidden = !ongoing;
    els.followupHint.hidden = !ongoing;
    els.questionLabel.replaceChildren(ongoing ? label("追问", "Follow-up question")
      : label("问题", "Question"));
  }

  function addTurn(question, data) {
    if (turns.length) {
      const previous = turns[turns.length - 1];
      els.turns.append(earlierTurn(previous, turns.length));
    }
    turns.push({ question, data });
    render(data, question);
    showConversation();
    if (turns.length > 1) {
      // The new answer sits under the earlier turns: bring it into view.
      const calm = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
      els.result.scrollIntoView({ behavior: calm ? "auto" : "smooth", block: "start" });
    }
  }

  function newConversation() {
    turns.length = 0;
    els.turns.replaceChildren();
    els.result.hidden = true;
    els.error.hidden = true;
    setStatus(null);
    showConversation();
    els.question.value = "";
    els.question.focus();
  }

  els.newConversation.addEventListener("click", newConversation);

  /** What a follow-up is sent with: the earlier turns as /ask returned them. */
  function historyPayload() {
    return turns.slice(-MAX_HISTORY).map((t) => ({
      question: t.question,
      answer: t.data.answer,
      citations: t.data.citations,
    }));
  }

  function showSource(id) {
    const target = document.getElementById(id);
    if (!target) return;
    for (const other of document.querySelectorAll(".source.highlighted")) other.classList.remove("highlighted");
    const details = target.closest("details");
    if (details) details.open = true;
    target.classList.add("highlighted");
    const calm = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    target.scrollIntoView({ behavior: calm ? "auto" : "smooth", block: "center" });
    target.focus({ preventScroll: true });
  }

  document.querySelector("main").addEventListener("click", (event) => {
    const link = event.target.closest("a.marker");
    if (!link) return;
    event.preventDefault();
    const id = link.getAttribute("href").slice(1);
    showSource(id);
    history.replaceState(null, "", `#${id}`);
  });

  // ---- the whole article ----

  async function openArticle(docId, start, end) {
    els.articleTitle.textContent = "…";
    els.articleMeta.textContent = "";
    els.articleText.replaceChildren(label("加载中…", "Loading…"));
    if (!els.dialog.open) els.dialog.showModal();
    let doc;
    try {
      doc = await fetchDocument(docId);
    } catch (error) {
      els.articleText.replaceChildren(el("p", { className: "error" }, error.message));
      return;
    }
    els.articleTitle.textContent = doc.title;
    els.articleMeta.textContent = [doc.authors.join("、"), doc.affiliation, doc.column]
      .filter(Boolean).join(" · ");
    // One paragraph per line; the span [start, end) is marked wherever it falls.
    const at = toUtf16(doc.text);
    [start, end] = [at(start), at(end)];
    const paragraphs = [];
    let first = null;
    let offset = 0;
    for (const line of doc.text.split("\n")) {
      const lineStart = offset;
      const lineEnd = offset + line.length;
      offset = lineEnd + 1;
      if (!line.trim()) continue;
      const p = el("p");
      const from = Math.max(start, lineStart);
      const to = Math.min(end, lineEnd);
      if (from < to) {
        p.append(highlighted(line, from - lineStart, to - lineStart, { className: "quote" }));
        first = first || p.querySelector("mark");
      } else {
        p.append(line);
      }
      paragraphs.push(p);
    }
    els.articleText.replaceChildren(...paragraphs);
    if (first) {
      first.id = "article-quote";
      first.scrollIntoView({ block: "center" });
    }
  }

  els.articleClose.addEventListener("click", () => els.dialog.close());
  els.dialog.addEventListener("click", (event) => {
    if (event.target === els.dialog) els.dialog.close(); // a click on the backdrop
  });

  // ---- asking ----

  function setStatus(node) {
    els.status.replaceChildren(...(node ? [node] : []));
  }

  function showError(message) {
    els.error.replaceChildren(el("strong", {}, label("出错了", "Error"), ": "), message);
    els.error.hidden = false;
  }

  let busy = false;

  async function ask(question) {
    els.error.hidden = true;
    if (!question.trim()) {
      setStatus(el("span", { className: "warn" }, label("请输入问题。", "Please enter a question.")));
      els.question.focus();
      return;
    }
    if (busy) return;
    busy = true;
    els.askButton.disabled = true;
    setStatus(label("正在查找答案…", "Looking for the answer…"));
    try {
      const data = await api("ask", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ question: question.trim(), top_k: 5, history: historyPayload(),
          ...(window.ragFilters ? window.ragFilters() : {}) }),
      });
      addTurn(question.trim(), data);
      setStatus(data.answerable ? label("已回答", "Answered")
        : label("可能无法回答", "Probably not answerable"));
    } catch (error) {
      setStatus(null);
      showError(error instanceof ApiError ? error.message : "网络错误 — network error");
    } finally {
      busy = false;
      els.askButton.disabled = false;
    }
  }

  els.form.addEventListener("submit", (event) => {
    event.preventDefault();
    ask(els.question.value);
  });

  for (const button of document.querySelectorAll("button.example")) {
    button.addEventListener("click", () => {
      els.question.value = button.textContent;
      ask(button.textContent);
    });
  }
})();
