/* Linguadesk support widget. One tag adds it to any page:
 *   <script src="https://HOST/widget.js" data-title="Help" data-accent="#0a7"
 *           data-position="right" data-locale="es" data-greeting="¡Hola!" defer></script>
 * Everything lives in a shadow root: the page's CSS can't reach it, and it can't reach the page.
 * Text from the model or the FAQ is only ever put in the DOM as text nodes (never as HTML). */
(() => {
  "use strict";
  const STRINGS = /*LINGUADESK_STRINGS*/{};
  const RTL = new Set(["ar", "he", "fa", "ur"]);
  const script = document.currentScript;
  if (!script || window.__linguadesk) return;
  window.__linguadesk = true;

  const data = script.dataset;
  const api = (data.api || new URL(script.src, location.href).origin).replace(/\/+$/, "");
  const locale = data.locale || navigator.language || "en";
  const base = locale.toLowerCase().split(/[-_]/)[0];
  const lang = STRINGS[base] ? base : "en";
  const t = (key) => STRINGS[lang][key] || STRINGS.en[key] || key;
  const storageKey = "linguadesk:" + api;
  const MAX_KEPT = 60;

  // --- state kept across page loads ----------------------------------------------------------
  let saved = {};
  try { saved = JSON.parse(localStorage.getItem(storageKey) || "{}") || {}; } catch (e) { saved = {}; }
  const valid = (m) => m && typeof m === "object" && ["user", "bot", "agent"].includes(m.role) && typeof m.text === "string";
  const state = {
    id: typeof saved.id === "string" ? saved.id : null,
    token: typeof saved.token === "string" ? saved.token : null,
    messages: (Array.isArray(saved.messages) ? saved.messages : []).filter(valid).map((m) => ({
      ...m, citations: (Array.isArray(m.citations) ? m.citations : []).filter((c) => c && typeof c.title === "string"),
    })),
    open: !!saved.open, busy: false, starting: null,
    waiting: !!saved.waiting,  // a person has the conversation: poll for their replies
    agentSeen: Array.isArray(saved.agentSeen) ? saved.agentSeen.slice(-100) : [],
  };
  const save = () => {
    try {
      localStorage.setItem(storageKey, JSON.stringify({
        id: state.id, token: state.token, open: state.open, waiting: state.waiting,
        agentSeen: state.agentSeen.slice(-100),
        messages: state.messages.slice(-MAX_KEPT),
      }));
    } catch (e) { /* private mode or full: the widget still works for this page */ }
  };

  // --- DOM -----------------------------------------------------------------------------------
  const el = (tag, attrs = {}, ...children) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === false || v == null) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children) if (c != null) node.append(c);
    return node;
  };

  const host = el("div", { id: "linguadesk-widget" });
  const root = host.attachShadow({ mode: "open" });
  const side = data.position === "left" ? "left" : "right";
  root.append(el("style", { text: `
    :host { all: initial; }
    * { box-sizing: border-box; font-family: system-ui, -apple-system, "Segoe UI", "Noto Sans", "Noto Sans CJK JP", "Noto Sans Arabic", sans-serif; }
    .launcher { position: fixed; bottom: 20px; ${side}: 20px; z-index: 2147483000; width: 56px; height: 56px;
      border-radius: 50%; border: none; background: var(--accent); color: #fff; cursor: pointer;
      box-shadow: 0 4px 14px rgba(0,0,0,.25); display: grid; place-items: center; }
    .launcher svg { width: 28px; height: 28px; fill: currentColor; }
    .panel { position: fixed; bottom: 88px; ${side}: 20px; z-index: 2147483000; width: min(380px, calc(100vw - 24px));
      height: min(600px, calc(100vh - 110px)); background: #fff; color: #1d1d1f; border-radius: 14px;
      box-shadow: 0 10px 40px rgba(0,0,0,.25); display: flex; flex-direction: column; overflow: hidden; font-size: 15px; line-height: 1.45; }
    .panel[hidden] { display: none; }
    header { background: var(--accent); color: #fff; padding: 12px 14px; display: flex; align-items: center; gap: 8px; }
    header h2 { font-size: 16px; margin: 0; flex: 1; font-weight: 600; }
    header button { background: transparent; border: 1px solid rgba(255,255,255,.6); color: #fff; border-radius: 8px;
      padding: 4px 8px; cursor: pointer; font-size: 13px; }
    .log { flex: 1; overflow-y: auto; padding: 14px; display: flex; flex-direction: column; gap: 10px; background: #f6f7f9; }
    .msg { max-width: 88%; padding: 9px 12px; border-radius: 12px; white-space: normal; overflow-wrap: anywhere; }
    .msg p { margin: 0 0 6px; } .msg p:last-child { margin-bottom: 0; }
    .msg ul, .msg ol { margin: 4px 0; padding-inline-start: 20px; }
    .msg code { background: rgba(0,0,0,.06); padding: 0 3px; border-radius: 4px; font-family: ui-monospace, monospace; }
    .user { align-self: flex-end; background: var(--accent); color: #fff; border-end-end-radius: 4px; }
    .user a { color: #fff; }
    .bot { align-self: flex-start; background: #fff; border: 1px solid #e3e5e8; border-end-start-radius: 4px; }
    .agent { align-self: flex-start; background: #fff; border: 2px solid var(--accent); border-end-start-radius: 4px; }
    .who { display: block; font-size: 12px; font-weight: 600; color: var(--accent); margin-bottom: 2px; }
    .notice { align-self: center; background: #fff7e0; border: 1px solid #f0d78c; font-size: 13px; }
    .bot[aria-busy="true"] .body:empty::after { content: attr(data-thinking); color: #6b7280; font-style: italic; }
    .sources { margin: 8px 0 0; padding: 6px 0 0; border-top: 1px solid #eceef1; font-size: 13px; }
    .sources h3 { font-size: 12px; margin: 0 0 2px; color: #6b7280; font-weight: 600; }
    .sources ol { margin: 0; padding-inline-start: 20px; }
    a { color: var(--accent); }
    sup a { text-decoration: none; font-size: 11px; }
    .tools { display: flex; gap: 6px; margin-top: 6px; align-items: center; flex-wrap: wrap; }
    .tools button, .actions button { border: 1px solid #d5d8dd; background: #fff; border-radius: 8px; padding: 3px 8px;
      cursor: pointer; font-size: 13px; color: #1d1d1f; }
    .tools button[aria-pressed="true"] { background: var(--accent); color: #fff; border-color: var(--accent); }
    .tools .thanks { font-size: 12px; color: #6b7280; }
    .actions { padding: 6px 12px 0; background: #fff; border-top: 1px solid #eceef1; }
    form { display: flex; gap: 8px; padding: 10px 12px 12px; background: #fff; }
    textarea { flex: 1; resize: none; border: 1px solid #cfd3d8; border-radius: 10px; padding: 8px 10px; font-size: 15px;
      max-height: 120px; min-height: 40px; color: #1d1d1f; background: #fff; }
    form button { background: var(--accent); color: #fff; border: none; border-radius: 10px; padding: 0 14px; cursor: pointer; font-size: 14px; }
    form button:disabled { opacity: .5; cursor: default; }
    :focus-visible { outline: 3px solid #2563eb; outline-offset: 2px; }
    .sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
  ` }));

  const titleId = "ld-title";
  const launcher = el("button", { class: "launcher", type: "button", "aria-label": t("open"),
    "aria-expanded": "false", "aria-controls": "ld-panel" });
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
  path.setAttribute("d", "M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z");
  svg.append(path);
  launcher.append(svg);

  const log = el("div", { class: "log", role: "log", "aria-live": "polite", "aria-relevant": "additions",
    "aria-label": t("conversation"), tabindex: "0" });
  const input = el("textarea", { id: "ld-input", rows: "1", placeholder: t("placeholder"),
    "aria-label": t("placeholder"), maxlength: "2000", dir: "auto" });
  const send = el("button", { type: "submit", text: t("send") });
  const form = el("form", {}, input, send);
  const humanButton = el("button", { type: "button", text: t("talk_to_human") });
  const newButton = el("button", { type: "button", text: t("new_conversation") });
  const closeButton = el("button", { type: "button", "aria-label": t("close"), text: "✕" });
  const panel = el("section", { class: "panel", id: "ld-panel", role: "dialog", "aria-modal": "false",
    "aria-labelledby": titleId, hidden: true, lang, dir: RTL.has(lang) ? "rtl" : "ltr" },
    el("header", {}, el("h2", { id: titleId, text: data.title || t("title") }), newButton, closeButton),
    log, el("div", { class: "actions" }, humanButton), form);
  if (data.accent) host.style.setProperty("--accent", data.accent);
  host.style.setProperty("--accent", host.style.getPropertyValue("--accent") || "#0b6bcb");
  root.append(launcher, panel);

  // --- safe Markdown: block and inline structure rebuilt as DOM nodes -------------------------
  const SAFE_URL = /^(https?:\/\/|mailto:)/i;
  const INLINE = /(\*\*[^*\n]+\*\*|__[^_\n]+__|`[^`\n]+`|\[[^\]\n]+\]\([^)\s]+\)|\[\d{1,2}\]|https?:\/\/[^\s<>()]+[^\s<>().,;:!?]|\*[^*\s][^*\n]*\*)/;

  const link = (href, text) => SAFE_URL.test(href)
    ? el("a", { href, target: "_blank", rel: "noopener noreferrer nofollow", text })
    : document.createTextNode(text);

  function inline(text, parent, citations) {
    for (const part of text.split(INLINE)) {
      if (!part) continue;
      let m;
      if ((m = part.match(/^\*\*([^*]+)\*\*$|^__([^_]+)__$/))) parent.append(el("strong", { text: m[1] || m[2] }));
      else if ((m = part.match(/^`([^`]+)`$/))) parent.append(el("code", { text: m[1] }));
      else if ((m = part.match(/^\[(\d{1,2})\]$/))) {
        const c = citations.find((x) => x.number === Number(m[1]));
        parent.append(c && c.url ? el("sup", {}, link(c.url, `[${m[1]}]`)) : document.createTextNode(c ? `[${m[1]}]` : part));
      } else if ((m = part.match(/^\[([^\]]+)\]\(([^)\s]+)\)$/))) parent.append(link(m[2], m[1]));
      else if (/^https?:\/\//.test(part)) parent.append(link(part, part));
      else if ((m = part.match(/^\*([^*]+)\*$/))) parent.append(el("em", { text: m[1] }));
      else parent.append(document.createTextNode(part));
    }
  }

  function renderMarkdown(text, citations = []) {
    const out = document.createDocumentFragment();
    for (const block of text.replace(/\r/g, "").split(/\n{2,}/)) {
      const lines = block.split("\n").filter((l) => l.trim());
      if (!lines.length) continue;
      const bullets = lines.every((l) => /^\s*[-*•]\s+/.test(l));
      const numbers = lines.every((l) => /^\s*\d+[.)]\s+/.test(l));
      if (bullets || numbers) {
        const list = el(numbers ? "ol" : "ul");
        for (const l of lines) {
          const item = el("li");
          inline(l.replace(/^\s*(?:[-*•]|\d+[.)])\s+/, ""), item, citations);
          list.append(item);
        }
        out.append(list);
        continue;
      }
      const p = el("p");
      lines.forEach((l, i) => {
        if (i) p.append(el("br"));
        const heading = l.match(/^#{1,6}\s+(.*)$/);
        if (heading) { const s = el("strong"); inline(heading[1], s, citations); p.append(s); }
        else inline(l, p, citations);
      });
      out.append(p);
    }
    return out;
  }

  // --- messages ------------------------------------------------------------------------------
  function bubble(message) {
    const who = message.role === "agent" && message.author ? `${message.author} · ${t("agent")}`
      : { user: t("you"), agent: t("agent") }[message.role] || t("assistant");
    const node = el("div", { class: `msg ${message.role}`, lang: message.language || null },
      message.role === "agent" ? el("span", { class: "who", text: who })
        : el("span", { class: "sr-only", text: who + ": " }));
    const body = el("div", { class: "body", dir: "auto", "data-thinking": t("thinking") });
    node.append(body);
    fill(node, message);
    return node;
  }

  function fill(node, message) {
    const body = node.querySelector(".body");
    body.replaceChildren(message.role === "bot" || message.role === "agent" ? renderMarkdown(message.text || "", message.citations || [])
      : document.createTextNode(message.text || ""));
    node.querySelectorAll(".sources, .tools").forEach((x) => x.remove());
    const cites = (message.citations || []).filter((c) => c.title);
    if (cites.length) {
      const list = el("ol");
      for (const c of cites) {
        const item = el("li", { value: String(c.number), dir: "auto" });
        item.append(c.url ? link(c.url, c.title) : document.createTextNode(c.title));
        list.append(item);
      }
      node.append(el("div", { class: "sources" }, el("h3", { text: t("sources") }), list));
    }
    if (message.role === "bot" && message.replyId && message.done) node.append(tools(message));
  }

  function tools(message) {
    const box = el("div", { class: "tools" });
    const rate = (rating, label, symbol) => el("button", { type: "button", "aria-label": label, title: label,
      "aria-pressed": message.rating === rating ? "true" : "false", text: symbol,
      onclick: () => rateReply(message, rating, box) });
    box.append(rate("up", t("feedback_helpful"), "👍"), rate("down", t("feedback_not_helpful"), "👎"));
    if (message.offerHandoff) box.append(el("button", { type: "button", text: t("talk_to_human"), onclick: askForHuman }));
    if (message.rating) box.append(el("span", { class: "thanks", role: "status", text: t("feedback_thanks") }));
    return box;
  }

  function show(message, keep = true) {
    if (keep) { state.messages.push(message); save(); }
    const node = bubble(message);
    log.append(node);
    log.scrollTop = log.scrollHeight;
    return node;
  }

  function notice(text) { show({ role: "notice", text }, false); }

  // --- API -----------------------------------------------------------------------------------
  async function call(pathName, body, accept = "application/json") {
    const headers = { "Content-Type": "application/json", Accept: accept };
    if (state.token) headers.Authorization = "Bearer " + state.token;
    const response = await fetch(api + pathName, { method: "POST", headers, body: JSON.stringify(body || {}) });
    if (!response.ok) {
      let error = {};
      try { error = await response.json(); } catch (e) { /* not JSON: keep the status */ }
      throw Object.assign(new Error(error.detail || response.statusText), { status: response.status, message: error.message || t("error"), code: error.error });
    }
    return response;
  }

  async function startConversation() {
    const response = await call("/v1/conversations", { locale });
    const created = await response.json();
    state.id = created.id; state.token = created.token; state.messages = [];
    log.replaceChildren();
    show({ role: "bot", text: data.greeting || created.greeting, greeting: true });
  }

  function ensureConversation() {
    if (state.id) return Promise.resolve();
    state.starting = state.starting || startConversation().finally(() => { state.starting = null; });
    return state.starting;
  }
  const shown = (error) => (error && error.status ? error.message : t("error"));

  async function ask(text, retried = false) {
    const message = { role: "bot", text: "", citations: [], done: false };
    const node = show(message, false);
    node.setAttribute("aria-busy", "true");
    try {
      const response = await call(`/v1/conversations/${state.id}/messages`, { text, locale }, "text/event-stream");
      await readEvents(response, (event, payload) => {
        if (event === "start") message.replyId = payload.reply_id;
        else if (event === "token") { message.text += payload.text; fill(node, message); log.scrollTop = log.scrollHeight; }
        else if (event === "done") {
          Object.assign(message, { text: payload.text, citations: payload.citations, replyId: payload.reply_id,
            status: payload.status, offerHandoff: payload.offer_handoff, language: payload.language, done: true });
          node.setAttribute("lang", payload.language);
        } else if (event === "error") throw Object.assign(new Error(payload.detail), { status: 500, message: payload.message });
      });
      node.removeAttribute("aria-busy");
      if (!message.done) throw new Error("stream cut");
      if (!message.text) { node.remove(); waitForTeam(); return; }  // a person has it: the bot is quiet
      fill(node, message);
      log.scrollTop = log.scrollHeight;
      state.messages.push(message); save();
    } catch (error) {
      node.remove();
      // The server forgot this conversation (expired), or its secret changed: start over.
      if ((error.status === 404 || error.status === 401) && !retried) {
        await startConversation();
        notice(t("conversation_restarted"));
        state.messages.push({ role: "user", text }); log.append(bubble({ role: "user", text })); save();
        return ask(text, true);
      }
      if (error.status === 413) restore(text);
      notice(shown(error));
    }
  }

  function restore(text) {  // a refused message goes back into the box, not lost
    const sent = log.querySelectorAll(".msg.user");
    if (sent.length) sent[sent.length - 1].remove();
    state.messages.pop(); save();
    input.value = text;
  }

  async function readEvents(response, handle) {
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      // CRLF or CR line ends become LF; a CR at the end of a chunk waits for the next one,
      // which may start with its LF.
      buffer = (buffer + (value || "")).replace(done ? /\r\n?/g : /\r\n|\r(?!$)/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const raw = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = "message"; const lines = [];
        for (const line of raw.split("\n")) {
          if (line.startsWith("event:")) event = line.slice(6).trim();
          else if (line.startsWith("data:")) lines.push(line.slice(5).replace(/^ /, ""));
        }
        if (lines.length) {
          let payload;
          try { payload = JSON.parse(lines.join("\n")); } catch (e) { reader.cancel(); throw e; }
          handle(event, payload);
        }
      }
      if (done) break;
    }
  }

  async function rateReply(message, rating, box) {
    try {
      await call(`/v1/conversations/${state.id}/feedback`, { reply_id: message.replyId, rating });
      message.rating = rating; save();
      const fresh = tools(message);
      box.replaceWith(fresh);
      fresh.querySelector('[aria-pressed="true"]').focus();
    } catch (error) { notice(shown(error)); }
  }

  async function askForHuman() {
    if (state.busy) return;
    setBusy(true);
    try {
      await ensureConversation();
      let response;
      try {
        response = await call(`/v1/conversations/${state.id}/handoff`, { locale });
      } catch (error) {
        if (error.status !== 404 && error.status !== 401) throw error;
        await startConversation();  // expired: a new conversation, then the request again
        response = await call(`/v1/conversations/${state.id}/handoff`, { locale });
      }
      const reply = await response.json();
      if (reply.text) show({ role: "bot", text: reply.text, replyId: reply.reply_id, status: reply.status });
      if (reply.status === "handoff" || reply.status === "handed_off") waitForTeam();
    } catch (error) { notice(shown(error)); }
    finally { setBusy(false); }
  }

  // --- a person of the team answering, after a handoff -----------------------------------------
  let polling = null;
  function waitForTeam() {
    state.waiting = true; save();
    if (!polling) polling = setInterval(pollTeam, 4000);
  }
  function stopWaiting() {
    clearInterval(polling); polling = null;
    state.waiting = false; save();
  }
  async function pollTeam() {
    if (!state.id) return stopWaiting();
    try {
      const response = await fetch(`${api}/v1/conversations/${state.id}`, {
        headers: { Authorization: "Bearer " + state.token, Accept: "application/json" } });
      if (response.status === 404 || response.status === 401) return stopWaiting();
      if (!response.ok) return;
      const data = await response.json();
      for (const m of data.messages || []) {
        const fromTeam = m.role === "agent" || (m.role === "ai" && m.notice === true);
        if (!fromTeam || state.agentSeen.includes(m.id)) continue;
        state.agentSeen.push(m.id);
        const text = String(m.text) + (m.untranslated === true ? "\n\n" + t("agent_untranslated") : "");
        show({ role: m.role === "agent" ? "agent" : "bot", text, language: m.language,
               author: typeof m.author === "string" ? m.author.slice(0, 80) : "" });
      }
      if (!data.handed_off) stopWaiting(); else save();
    } catch (e) { /* offline for a moment: the next tick tries again */ }
  }

  function setBusy(busy) {
    state.busy = busy;
    send.disabled = busy;
  }

  // --- behaviour -----------------------------------------------------------------------------
  function setOpen(open, focus = true) {
    state.open = open; save();
    panel.hidden = !open;
    launcher.setAttribute("aria-expanded", String(open));
    launcher.setAttribute("aria-label", open ? t("close") : t("open"));
    if (open) {
      if (!state.id) ensureConversation().catch((error) => notice(shown(error)));
      if (focus) input.focus();
      log.scrollTop = log.scrollHeight;
    } else if (focus) launcher.focus();
  }

  launcher.addEventListener("click", () => setOpen(panel.hidden));
  closeButton.addEventListener("click", () => setOpen(false));
  panel.addEventListener("keydown", (e) => { if (e.key === "Escape") { e.stopPropagation(); setOpen(false); } });
  humanButton.addEventListener("click", askForHuman);
  newButton.addEventListener("click", async () => {
    if (state.busy) return;
    stopWaiting();
    state.id = state.token = null; state.messages = []; state.agentSeen = []; log.replaceChildren(); save();
    try { await startConversation(); } catch (error) { notice(shown(error)); }
    input.focus();
  });
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.keyCode !== 229) { e.preventDefault(); form.requestSubmit(); }
  });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const text = input.value.trim();
    if (!text || state.busy) return;
    setBusy(true);
    input.value = "";
    try {
      await ensureConversation();
      show({ role: "user", text });
      await ask(text);
    } catch (error) { notice(shown(error)); }
    finally { setBusy(false); input.focus(); }
  });

  for (const message of state.messages) {
    try { log.append(bubble(message)); } catch (e) { /* a damaged saved message is skipped */ }
  }
  const mount = () => {
    document.body.append(host);
    if (state.open) setOpen(true, false);
    if (state.waiting && state.id) waitForTeam();
  };
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
  window.Linguadesk = { open: () => setOpen(true), close: () => setOpen(false), renderMarkdown, readEvents };
})();
