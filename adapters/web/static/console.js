// The Linguadesk support console. It uses the admin API only, signed in with an HttpOnly
// session cookie; the CSRF token lives in this script's memory, the admin key nowhere.
// Text from customers, agents, the model and the FAQ only ever becomes text nodes.
(() => {
  "use strict";
  const STRINGS = /*LINGUADESK_STRINGS*/{};
  const LANG_KEY = "linguadesk-console-language";
  const NAME_KEY = "linguadesk-console-agent";
  const GAPS_TRANSLATE_KEY = "linguadesk-console-gaps-translate";
  const POLL_MS = 4000;
  let lang = pickLanguage();
  let csrf = null;
  let tab = "inbox";
  let poll = null;
  let selected = null; // the conversation open in the inbox or the search
  let shownCount = -1;

  const $ = (id) => document.getElementById(id);

  function pickLanguage() {
    const saved = localStorage.getItem(LANG_KEY);
    if (saved && STRINGS[saved]) return saved;
    for (const wanted of navigator.languages || [navigator.language || "en"]) {
      const base = String(wanted).toLowerCase().split("-")[0];
      if (STRINGS[base]) return base;
    }
    return "en";
  }

  function t(key, values) {
    const texts = (STRINGS[lang] || STRINGS.en).texts;
    let text = texts[key] ?? STRINGS.en.texts[key] ?? key;
    for (const [name, value] of Object.entries(values || {})) {
      text = text.split("{" + name + "}").join(String(value));
    }
    return text;
  }

  function languageName(code) {
    if (!code) return "?";
    try {
      return new Intl.DisplayNames([lang], { type: "language" }).of(code) || code;
    } catch (_) {
      return code;
    }
  }

  function when(seconds) {
    if (!seconds) return "";
    return new Intl.DateTimeFormat(lang, { dateStyle: "short", timeStyle: "short" }).format(
      new Date(seconds * 1000),
    );
  }

  // el("p", {class: "x"}, "text", child): strings become text nodes, never markup.
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === false || value === null || value === undefined) continue;
      if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else if (name === "value") node.value = value;
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function say(text, ok) {
    const status = $("status");
    status.textContent = text || "";
    status.className = ok ? "ok" : "";
  }

  class SignedOut extends Error {}

  async function api(method, path, body) {
    const headers = { Accept: "application/json" };
    const options = { method, headers, credentials: "same-origin" };
    if (method !== "GET") headers["X-CSRF-Token"] = csrf || "";
    if (body instanceof FormData) options.body = body;
    else if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await fetch(path, options);
    if (response.status === 401 && path !== "/v1/admin/session") {
      signIn(t("signed_out"));
      throw new SignedOut();
    }
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = new Error(data.detail || data.message || String(response.status));
      error.status = response.status;
      throw error;
    }
    return data;
  }

  function failed(error) {
    if (!(error instanceof SignedOut)) say(t("failed", { error: error.message }));
  }

  // --- signing in ---------------------------------------------------------------------

  function signIn(note) {
    csrf = null;
    stopPolling();
    $("sign-out").hidden = true;
    const key = el("input", {
      id: "key",
      type: "password",
      autocomplete: "off",
      required: true,
      "aria-describedby": "status",
    });
    const form = el(
      "form",
      { class: "card signin" },
      el("h2", {}, t("title")),
      el("label", { class: "block", for: "key" }, el("span", {}, t("key")), key),
      el("button", { type: "submit" }, t("sign_in")),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        const data = await api("POST", "/v1/admin/session", { key: key.value });
        key.value = "";
        csrf = data.csrf;
        say("");
        showConsole();
      } catch (error) {
        key.value = "";
        say(error.status === 401 ? t("bad_key") : t("failed", { error: error.message }));
        key.focus();
      }
    });
    $("main").replaceChildren(form);
    say(note || "");
    key.focus();
  }

  async function signOut() {
    try {
      await api("DELETE", "/v1/admin/session");
    } catch (error) {
      failed(error);
    }
    signIn(t("signed_out"));
  }

  // --- the tabs -----------------------------------------------------------------------

  const TABS = ["inbox", "conversations", "gaps", "kb", "overview"];

  function showConsole() {
    $("sign-out").hidden = false;
    const list = el("div", { role: "tablist", "aria-label": t("title") });
    for (const name of TABS) {
      const button = el(
        "button",
        {
          type: "button",
          role: "tab",
          id: "tab-" + name,
          "aria-controls": "panel",
          "aria-selected": String(name === tab),
          tabindex: name === tab ? "0" : "-1",
          onclick: () => open(name),
        },
        t(name),
      );
      list.append(button);
    }
    list.addEventListener("keydown", (event) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
      if (!step) return;
      const next = TABS[(TABS.indexOf(tab) + step + TABS.length) % TABS.length];
      open(next);
      $("tab-" + next).focus();
    });
    const panel = el("section", { id: "panel", role: "tabpanel", "aria-labelledby": "tab-" + tab });
    $("main").replaceChildren(list, panel);
    open(tab);
  }

  function open(name) {
    tab = name;
    selected = null;
    shownCount = -1;
    stopPolling();
    for (const other of TABS) {
      const button = $("tab-" + other);
      if (!button) continue;
      button.setAttribute("aria-selected", String(other === name));
      button.tabIndex = other === name ? 0 : -1;
    }
    const panel = $("panel");
    panel.setAttribute("aria-labelledby", "tab-" + name);
    panel.replaceChildren(el("p", { class: "meta" }, t("loading")));
    say("");
    ({ inbox, conversations, gaps, kb, overview })[name](panel);
  }

  function stopPolling() {
    if (poll) clearInterval(poll);
    poll = null;
  }

  // --- conversations: the inbox and the search ---------------------------------------

  function conversationButton(item, onPick) {
    const lines = [
      el("span", {}, item.last_question || "…"),
      el(
        "span",
        { class: "meta" },
        [item.channel, languageName(item.language), when(item.handed_off ? item.handed_off_at : item.updated)]
          .filter(Boolean)
          .join(" · "),
      ),
    ];
    if (item.agent) lines.push(el("span", { class: "meta" }, t("taken_by", { name: item.agent })));
    if (item.feedback && (item.feedback.up || item.feedback.down)) {
      lines.push(el("span", { class: "meta" }, `👍 ${item.feedback.up || 0} · 👎 ${item.feedback.down || 0}`));
    }
    return el(
      "li",
      {},
      el(
        "button",
        {
          type: "button",
          "aria-current": String(selected === item.id),
          "data-conversation": item.id,
          onclick: () => onPick(item.id),
        },
        lines,
      ),
    );
  }

  function inbox(panel) {
    const list = el("ul", { class: "list", "aria-label": t("inbox") });
    const detail = el("div", { id: "detail" }, el("p", { class: "meta" }, t("pick")));
    panel.replaceChildren(el("div", { class: "split" }, el("div", {}, list), detail));
    const refresh = async () => {
      let items;
      try {
        items = await api("GET", "/v1/admin/conversations?status=handed_off");
      } catch (error) {
        return failed(error);
      }
      if (tab !== "inbox") return;
      list.replaceChildren(
        ...(items.length
          ? items.map((item) => conversationButton(item, (id) => pick(id, detail, list, true)))
          : [el("li", { class: "meta" }, t("inbox_empty"))]),
      );
      if (selected) await showTranscript(selected, detail, true, false);
    };
    refresh();
    poll = setInterval(refresh, POLL_MS);
  }

  function pick(id, detail, list, withReply) {
    selected = id;
    shownCount = -1;
    for (const button of list.querySelectorAll("button[data-conversation]")) {
      button.setAttribute("aria-current", String(button.dataset.conversation === id));
    }
    detail.replaceChildren(el("p", { class: "meta" }, t("loading")));
    showTranscript(id, detail, withReply, true);
  }

  function messageView(m) {
    const who =
      m.role === "human"
        ? t("customer")
        : m.role === "agent"
          ? `${t("widget_agent")}${m.author ? ": " + m.author : ""}`
          : t("widget_assistant");
    const box = el("div", { class: "msg " + m.role }, el("div", { class: "who" }, `${who} · ${when(m.at)}`));
    box.append(el("div", { class: "text" }, m.text));
    if (m.original && m.original !== m.text) {
      box.append(el("div", { class: "other" }, `${t("team_original")} ${m.original}`));
    }
    if (m.translation) box.append(el("div", { class: "other" }, `${t("translation")}: ${m.translation}`));
    if (m.untranslated) box.append(el("div", { class: "other" }, t("team_untranslated")));
    if (m.feedback) {
      const up = m.feedback.rating === "up";
      box.append(
        el(
          "div",
          { class: "rating " + (up ? "up" : "down") },
          `${up ? "👍" : "👎"} ${t(up ? "rated_up" : "rated_down")}${m.feedback.comment ? ": " + m.feedback.comment : ""}`,
        ),
      );
    }
    return box;
  }

  let loadingTranscript = false;

  // Shown at once as stored, then again with the translations (an LLM call per message, so
  // only when something changed, and never two loads at a time from the inbox's refresh).
  async function showTranscript(id, detail, withReply, force) {
    if (loadingTranscript && !force) return;
    loadingTranscript = true;
    const path = `/v1/admin/conversations/${encodeURIComponent(id)}`;
    try {
      let data = await api("GET", path);
      if (selected !== id || (!force && data.revision === shownCount)) return;
      shownCount = data.revision;
      renderTranscript(data, detail, withReply);
      const foreign = data.transcript.some((m) => m.language && m.language !== lang && !m.notice);
      if (!foreign) return;
      data = await api("GET", `${path}?${new URLSearchParams({ translate: lang })}`);
      if (selected === id && data.revision === shownCount) renderTranscript(data, detail, withReply);
    } catch (error) {
      failed(error);
    } finally {
      loadingTranscript = false;
    }
  }

  function renderTranscript(data, detail, withReply) {
    const head = el(
      "div",
      { class: "card" },
      el("h2", {}, `${data.channel} · ${languageName(data.language)}`),
      el("p", { class: "meta" }, data.id),
      el("p", { class: "meta" }, data.handed_off ? t("with_person") : t("with_bot")),
      data.agent ? el("p", { class: "meta" }, t("taken_by", { name: data.agent })) : null,
    );
    const transcript = el("div", { class: "transcript", "aria-label": t("messages") });
    transcript.append(...data.transcript.map(messageView));
    const parts = [head, transcript];
    if (withReply && data.handed_off) parts.push(replyForm(data, detail));
    const focused = detail.contains(document.activeElement) ? document.activeElement.id : null;
    const kept = {};
    for (const id of ["reply-text", "agent-name"]) {
      const field = detail.querySelector("#" + id);
      if (field) kept[id] = field.value;
    }
    const translating = detail.querySelector("#reply-translate");
    const sent = detail.querySelector("#sent");
    detail.replaceChildren(...parts);
    for (const [id, value] of Object.entries(kept)) if ($(id)) $(id).value = value;
    if (translating && $("reply-translate")) $("reply-translate").checked = translating.checked;
    if (sent && $("sent")) $("sent").replaceChildren(...sent.childNodes);
    if (focused && $(focused)) $(focused).focus();
  }

  function replyForm(data, detail) {
    const name = el("input", { id: "agent-name", value: localStorage.getItem(NAME_KEY) || "", maxlength: 80 });
    const text = el("textarea", { id: "reply-text", maxlength: 4000, required: true });
    const translate = el("input", { id: "reply-translate", type: "checkbox", checked: true });
    const sent = el("div", { id: "sent", "aria-live": "polite" });
    const form = el(
      "form",
      { class: "card" },
      el("label", { class: "block", for: "reply-text" }, el("span", {}, t("reply")), text),
      el("div", { class: "filters" },
        el("label", { for: "agent-name" }, t("your_name"), name),
        el("label", { for: "reply-translate" }, translate, t("translate")),
        el("button", { type: "submit", id: "reply-send" }, t("send")),
        el("button", { type: "button", class: "plain", id: "take", onclick: () => act("take") }, t("team_take")),
        el("button", { type: "button", class: "plain", id: "release", onclick: () => act("release") }, t("team_give_back")),
      ),
      sent,
    );
    const path = `/v1/admin/conversations/${encodeURIComponent(data.id)}`;
    const act = async (what) => {
      try {
        await api("POST", `${path}/${what}`, what === "take" ? { agent: name.value.trim() } : undefined);
        say(t(what === "take" ? "team_take" : "team_give_back") + " ✓", true);
        if (what === "release") {
          selected = null;
          detail.replaceChildren(el("p", { class: "meta" }, t("pick")));
        } else {
          shownCount = -1;
          showTranscript(data.id, detail, true, true);
        }
      } catch (error) {
        failed(error);
      }
    };
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      localStorage.setItem(NAME_KEY, name.value.trim());
      try {
        const sentText = text.value;
        const out = await api("POST", `${path}/messages`, {
          text: sentText,
          agent: name.value.trim(),
          translate: translate.checked,
        });
        // The transcript may have been redrawn meanwhile: the form on the page now.
        const box = $("reply-text") || text;
        if (box.value === sentText) box.value = "";
        ($("sent") || sent).replaceChildren(
          ...[
            el("p", { class: "meta" }, t("team_sent", { language: languageName(out.language) })),
            el("div", { class: "msg agent" }, out.text),
            out.original !== out.text ? el("div", { class: "other" }, `${t("team_original")} ${out.original}`) : null,
            out.untranslated ? el("div", { class: "other" }, t("team_untranslated")) : null,
          ].filter(Boolean),
        );
        shownCount = -1;
      } catch (error) {
        failed(error);
      }
    });
    return form;
  }

  function choice(id, label, options, value) {
    const select = el("select", { id });
    for (const [code, text] of options) {
      select.append(el("option", { value: code, selected: code === value }, text));
    }
    return [el("label", { for: id }, label, select), select];
  }

  function languageOptions() {
    return [["", t("all")], ...Object.keys(STRINGS).map((code) => [code, languageName(code)])];
  }

  function conversations(panel) {
    const [channelLabel, channel] = choice("f-channel", t("channel"), [
      ["", t("all")], ["web", "web"], ["slack", "slack"], ["discord", "discord"], ["cli", "cli"],
    ]);
    const [languageLabel, language] = choice("f-language", t("language"), languageOptions());
    const [statusLabel, status] = choice("f-status", t("status"), [
      ["", t("all")], ["handed_off", t("with_person")], ["bot", t("with_bot")],
    ]);
    const words = el("input", { id: "f-words", type: "search" });
    const list = el("ul", { class: "list", "aria-label": t("conversations") });
    const detail = el("div", { id: "detail" }, el("p", { class: "meta" }, t("pick")));
    const form = el(
      "form",
      { class: "filters", role: "search" },
      channelLabel, languageLabel, statusLabel,
      el("label", { for: "f-words" }, t("search_words"), words),
      el("button", { type: "submit" }, t("search")),
    );
    const search = async () => {
      const query = new URLSearchParams({
        channel: channel.value, language: language.value, status: status.value, q: words.value,
      });
      try {
        const items = await api("GET", `/v1/admin/conversations?${query}`);
        list.replaceChildren(
          ...(items.length
            ? items.map((item) => conversationButton(item, (id) => pick(id, detail, list, true)))
            : [el("li", { class: "meta" }, t("no_match"))]),
        );
      } catch (error) {
        failed(error);
      }
    };
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      search();
    });
    panel.replaceChildren(form, el("div", { class: "split" }, el("div", {}, list), detail));
    search();
  }

  // --- gaps ---------------------------------------------------------------------------

  function gaps(panel) {
    const [periodLabel, period] = choice("g-period", t("period"), [
      ["24h", "24h"], ["7d", "7d"], ["30d", "30d"], ["", t("all")],
    ], "7d");
    const translate = el("input", {
      id: "g-translate",
      type: "checkbox",
      checked: localStorage.getItem(GAPS_TRANSLATE_KEY) !== "false",
    });
    translate.addEventListener("change", () =>
      localStorage.setItem(GAPS_TRANSLATE_KEY, String(translate.checked)),
    );
    const results = el("div", { id: "gap-list" });
    const form = el(
      "form",
      { class: "filters" },
      periodLabel,
      el("label", { for: "g-translate" }, translate, t("translate")),
      el("button", { type: "submit" }, t("search")),
    );
    const load = async () => {
      results.replaceChildren(el("p", { class: "meta" }, t("loading")));
      const query = new URLSearchParams({
        since: period.value, admin_language: lang, translate: String(translate.checked),
      });
      try {
        const clusters = await api("GET", `/v1/admin/gaps?${query}`);
        results.replaceChildren(
          ...(clusters.length
            ? clusters.map((c) => gapCard(c, period.value))
            : [el("p", { class: "meta" }, t("kb_gaps_none"))]),
        );
      } catch (error) {
        results.replaceChildren();
        failed(error);
      }
    };
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      load();
    });
    panel.replaceChildren(form, results);
    load();
  }

  function counts(object, name) {
    return Object.entries(object || {}).map(([k, n]) => `${name ? name(k) : k} ${n}`).join(", ");
  }

  function gapCard(cluster, since) {
    const card = el("article", { class: "card gap", "data-gap": cluster.id });
    const questions = el("ul", {});
    for (const q of cluster.questions) {
      questions.append(el("li", {}, q.text, q.translation && q.translation !== q.text
        ? el("div", { class: "meta" }, q.translation) : null));
    }
    const slot = el("div", {});
    card.append(
      el("h2", {}, t("size", { count: cluster.size })),
      el("p", { class: "meta" }, `${t("language")}: ${counts(cluster.languages, languageName)}`),
      el("p", { class: "meta" }, `${t("channel")}: ${counts(cluster.channels)}`),
      questions,
      cluster.closest_entry
        ? el("p", { class: "meta" }, `${t("closest")}: ${cluster.closest_entry.title} (${t("score")} ${Number(cluster.closest_entry.relevance).toFixed(2)})`)
        : null,
      el("button", {
        type: "button",
        class: "plain",
        onclick: async (event) => {
          event.target.disabled = true;
          slot.replaceChildren(el("p", { class: "meta" }, t("loading")));
          try {
            const query = new URLSearchParams({ since, admin_language: lang });
            const made = await api("POST", `/v1/admin/gaps/${encodeURIComponent(cluster.id)}/draft?${query}`);
            slot.replaceChildren(draftForm(made, cluster.id));
          } catch (error) {
            slot.replaceChildren();
            failed(error);
          } finally {
            event.target.disabled = false;
          }
        },
      }, t("draft")),
      slot,
    );
    return card;
  }

  function draftForm(made, id) {
    const question = el("input", { id: `q-${id}`, value: made.question, required: true });
    const variants = el("textarea", { id: `v-${id}` });
    variants.value = (made.variants || []).join("\n");
    const answer = el("textarea", { id: `a-${id}`, required: true });
    answer.value = made.answer;
    const form = el(
      "form",
      { class: "draft" },
      el("p", { class: "draft-note" }, t("draft_note")),
      el("label", { class: "block", for: question.id }, el("span", {}, t("question")), question),
      el("label", { class: "block", for: variants.id }, el("span", {}, t("variants")), variants),
      el("label", { class: "block", for: answer.id }, el("span", {}, t("answer")), answer),
      el("button", { type: "submit" }, t("approve")),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        await api("POST", "/v1/admin/gaps/approve", {
          question: question.value,
          variants: variants.value.split("\n").map((v) => v.trim()).filter(Boolean),
          answer: answer.value,
        });
        form.replaceChildren(el("p", { class: "approved" }, t("approved")));
        say(t("approved"), true);
      } catch (error) {
        failed(error);
      }
    });
    return form;
  }

  // --- the knowledge base ---------------------------------------------------------------

  function table(headers, rows) {
    return el(
      "table",
      {},
      el("thead", {}, el("tr", {}, headers.map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, rows.map((cells) => el("tr", {}, cells.map((c) => el("td", {}, c))))),
    );
  }

  // A one-field form: its label, the field, a submit button; what it does on submit, with
  // its failure said in the status line.
  function fieldForm(input, label, button, action) {
    const form = el("form", { class: "filters" },
      el("label", { for: input.id }, label, input),
      el("button", { type: "submit" }, button));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        await action();
      } catch (error) {
        failed(error);
      }
    });
    return form;
  }

  function reported(out) {
    const sum = (field) => (out.sources || []).reduce((n, s) => n + (s[field] || 0), 0);
    const text = t("done", { added: sum("added"), updated: sum("updated"), deleted: sum("deleted") });
    const problems = [...(out.errors || []), ...(out.warnings || [])].join(" ");
    say(problems ? `${text} ${problems}` : text, out.ok !== false && !(out.errors || []).length);
  }

  async function kb(panel) {
    const coverage = el("div", {});
    const sources = el("div", {});
    const entriesBox = el("div", {});
    const hits = el("div", { id: "kb-hits", "aria-live": "polite" });

    const question = el("input", { id: "kb-question", type: "search", required: true });
    const testForm = fieldForm(question, t("question"), t("test"), async () => {
      const found = await api("POST", "/v1/admin/search", { query: question.value });
      hits.replaceChildren(found.length
        ? table([t("score"), t("question"), t("sources"), t("language")],
          found.map((h) => [h.relevance.toFixed(2), h.title, h.source, languageName(h.language)]))
        : el("p", { class: "meta" }, t("empty")));
    });

    const file = el("input", { id: "kb-file", type: "file", required: true });
    const uploadForm = fieldForm(file, t("upload"), t("add"), async () => {
      if (!file.files.length) return;
      const body = new FormData();
      body.append("file", file.files[0]);
      reported(await api("POST", "/v1/admin/sources", body));
      file.value = "";
      load();
    });

    const url = el("input", { id: "kb-url", type: "url", required: true, placeholder: "https://" });
    const urlForm = fieldForm(url, t("from_url"), t("add"), async () => {
      reported(await api("POST", "/v1/admin/sources/url", { url: url.value }));
      url.value = "";
      load();
    });

    const [entriesLabel, entriesLanguage] = choice("kb-language", t("language"), languageOptions());
    entriesLanguage.addEventListener("change", () => showEntries());

    const showEntries = async () => {
      try {
        const data = await api("GET", `/v1/admin/entries?${new URLSearchParams({ language: entriesLanguage.value })}`);
        entriesBox.replaceChildren(
          el("p", { class: "meta" }, `${t("entries")}: ${data.total}`),
          data.entries.length
            ? table([t("question"), t("sources"), t("language")],
              data.entries.map((e) => [e.title, e.source, languageName(e.language)]))
            : el("p", { class: "meta" }, t("empty")),
        );
      } catch (error) {
        failed(error);
      }
    };

    const load = async () => {
      try {
        const [stats, listed] = await Promise.all([
          api("GET", "/v1/admin/stats"),
          api("GET", "/v1/admin/sources"),
        ]);
        const languages = new Set([...Object.keys(stats.by_language || {}), ...Object.keys(stats.translations || {})]);
        coverage.replaceChildren(table(
          [t("language"), t("entries"), t("translation")],
          [...languages].map((code) => {
            const c = (stats.translations || {})[code];
            return [languageName(code), String((stats.by_language || {})[code] || 0),
              c && c.entries ? `${c.machine + c.reviewed} / ${c.entries}` : ""];
          }),
        ));
        sources.replaceChildren(listed.length
          ? table([t("sources"), t("entries"), ""], listed.map((s) => [s.source, String(s.chunks),
            el("button", {
              type: "button",
              class: "danger",
              "aria-label": `${t("delete")} ${s.source}`,
              onclick: async () => {
                if (!confirm(t("delete_confirm", { source: s.source }))) return;
                try {
                  const out = await api("DELETE", `/v1/admin/sources?${new URLSearchParams({ source: s.source })}`);
                  say(t("done", { added: 0, updated: 0, deleted: out.deleted_chunks }), true);
                  load();
                } catch (error) {
                  failed(error);
                }
              },
            }, t("delete"))]))
          : el("p", { class: "meta" }, t("empty")));
        showEntries();
      } catch (error) {
        failed(error);
      }
    };

    panel.replaceChildren(
      el("h2", {}, t("test")), testForm, hits,
      el("h2", {}, t("per_language")), coverage,
      el("h2", {}, t("sources")), sources, uploadForm, urlForm,
      el("h2", {}, t("entries")), el("div", { class: "filters" }, entriesLabel), entriesBox,
    );
    load();
  }

  // --- the overview -------------------------------------------------------------------

  function overview(panel) {
    const [periodLabel, period] = choice("o-period", t("period"), [
      ["24h", "24h"], ["7d", "7d"], ["30d", "30d"], ["", t("all")],
    ], "7d");
    const tiles = el("div", { class: "tiles" });
    const charts = el("div", { class: "charts" });
    const percent = (x) => new Intl.NumberFormat(lang, { style: "percent" }).format(x);
    const load = async () => {
      try {
        const data = await api("GET", `/v1/admin/overview?${new URLSearchParams({ since: period.value })}`);
        const tile = (label, value) => el("div", { class: "tile" }, el("b", {}, value), label);
        tiles.replaceChildren(
          tile(t("turns"), String(data.turns)),
          tile(t("answered"), percent(data.rates.answered)),
          tile(t("dont_know"), percent(data.rates.no_answer)),
          tile(t("handoffs"), percent(data.rates.handoff)),
          tile(t("feedback"), `👍 ${data.feedback.up} · 👎 ${data.feedback.down}`),
          tile(t("median"), data.p50_seconds == null ? "—"
            : new Intl.NumberFormat(lang, { style: "unit", unit: "second", maximumFractionDigits: 1 }).format(data.p50_seconds)),
        );
        const stamp = Date.now();
        charts.replaceChildren(...[
          ["languages", "turns_per_language"], ["channels", "per_channel"],
          ["outcomes", "outcomes"], ["feedback", "feedback"],
        ].map(([name, title]) => el("img", {
          src: `/v1/admin/overview/${name}.svg?${new URLSearchParams({ since: period.value, lang, _: stamp })}`,
          alt: t(title),
          "data-chart": name,
        })));
      } catch (error) {
        failed(error);
      }
    };
    period.addEventListener("change", load);
    panel.replaceChildren(el("div", { class: "filters" }, periodLabel), tiles, charts);
    load();
  }

  // --- start --------------------------------------------------------------------------

  function applyLanguage() {
    document.documentElement.lang = lang;
    document.documentElement.dir = lang === "ar" ? "rtl" : "ltr";
    document.title = `Linguadesk · ${t("title")}`;
    $("title").textContent = t("title");
    $("lang-label").textContent = t("console_language");
    $("sign-out").textContent = t("sign_out");
  }

  function start() {
    const select = $("lang");
    for (const [code, entry] of Object.entries(STRINGS)) {
      select.append(el("option", { value: code, selected: code === lang }, entry.name));
    }
    select.addEventListener("change", () => {
      lang = select.value;
      localStorage.setItem(LANG_KEY, lang);
      applyLanguage();
      if (csrf) showConsole();
      else signIn();
    });
    $("sign-out").addEventListener("click", signOut);
    applyLanguage();
    api("GET", "/v1/admin/session")
      .then((data) => {
        csrf = data.csrf;
        showConsole();
      })
      .catch(() => signIn());
  }

  start();
})();
