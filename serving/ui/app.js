// The framing web page: paste or load articles, send them to POST /score, show every
// sentence highlighted by frame and marked by attribution, and each source's profile.
//
// Plain modern JavaScript, no build step, no third-party code. Everything about the labels
// (names, order, sides) comes from GET /info, so a model retrained with other labels works
// unchanged. User text is only ever put into the page with textContent, never parsed as HTML.
"use strict";

(() => {
  const CONFIG = JSON.parse(document.getElementById("ui-config").textContent);

  // Okabe-Ito: distinguishable with the common colour-vision deficiencies. One colour per
  // frame in schema order; the same colour in the legend, the highlights and the bars.
  const PALETTE = ["#0072B2", "#D55E00", "#CC79A7", "#009E73", "#E69F00", "#56B4E9", "#F0E442", "#000000"];
  // Attribution is shown by typography, never by colour; by schema position.
  const ATTRIBUTION_STYLES = [
    { cls: "attr-solid", text: "solid underline" },
    { cls: "attr-italic", text: "italic" },
    { cls: "attr-dotted", text: "dotted underline" },
    { cls: "attr-double", text: "double underline" },
    { cls: "attr-wavy", text: "wavy underline" },
    { cls: "attr-dashed", text: "dashed underline" },
  ];
  const ATTRIBUTION_SHADES = ["#3b3b3b", "#8a8a8a", "#cfcfcf", "#5e5e5e", "#b0b0b0", "#e4e4e4"];
  const LOW_CONFIDENCE = 0.5; // top frame probability below this: the sentence is marked "?"
  const REQUEST_TIMEOUT_MS = 300_000;
  const MAX_CARDS = 500; // a browser tab stays responsive; bigger batches belong to the command line
  const MAX_FILE_BYTES = 50 * 1024 * 1024;
  const INFO_RETRIES = 90;

  const $ = (id) => document.getElementById(id);
  const state = {
    info: null,
    frames: [], // [{name, side, description, colour, abbr, index}]
    attributions: [], // [{name, description, style, shade, index}]
    frameByName: new Map(),
    attributionByName: new Map(),
    limits: { ...CONFIG.limits },
    extra: new WeakMap(), // card <li> -> {url, published, origin}
    busy: false,
    controller: null,
    result: null, // the last /score response
    sent: null, // the articles that produced it
  };

  // ------------------------------------------------------------------ small helpers
  function el(tag, props = {}, children = []) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of [].concat(children)) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }
  const human = (name) => String(name).replace(/_/g, " ");
  const pct = (p) => (p === null || p === undefined || Number.isNaN(p) ? "n/a" : `${(p * 100).toFixed(1)}%`);
  const pct0 = (p) => (p === null || p === undefined || Number.isNaN(p) ? "n/a" : `${Math.round(p * 100)}%`);
  const int = (n) => Number(n).toLocaleString("en-US");
  function signed(v) {
    if (v === null || v === undefined || Number.isNaN(v)) return "n/a";
    const abs = Math.abs(v).toFixed(2);
    if (abs === "0.00") return "0.00";
    return (v < 0 ? "\u2212" : "+") + abs;
  }
  function ciText(ci, fmt) {
    if (!Array.isArray(ci) || ci[0] === null || ci[1] === null || Number.isNaN(ci[0])) return "";
    return `[${fmt(ci[0])}, ${fmt(ci[1])}]`;
  }
  const clamp01 = (x) => Math.min(1, Math.max(0, x));
  // Python counts characters as code points; JavaScript strings count UTF-16 units.
  const codePoints = (s) => s.length - (s.match(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g) || []).length;
  function codePointToUnit(text) {
    if (!/[\uD800-\uDFFF]/.test(text)) return (i) => i;
    const units = [];
    let unit = 0;
    for (const ch of text) {
      units.push(unit);
      unit += ch.length;
    }
    units.push(unit);
    return (i) => units[Math.min(i, units.length - 1)];
  }
  function readableOn(hex) {
    const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255);
    const lin = (c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
    const lum = 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
    return (1.05) / (lum + 0.05) > (lum + 0.05) / 0.05 ? "#ffffff" : "#111111";
  }
  function abbreviations(names) {
    const used = new Set();
    return names.map((name, i) => {
      const words = name.split(/[_\s-]+/).filter(Boolean);
      const candidates = [];
      if (words.length > 1) candidates.push(words.map((w) => w[0]).join(""));
      for (let k = 2; k <= Math.min(4, name.length); k += 1) candidates.push(name.replace(/[_\s-]/g, "").slice(0, k));
      candidates.push(`F${i + 1}`);
      const pick = candidates.map((c) => c.toUpperCase()).find((c) => !used.has(c)) || `F${i + 1}`;
      used.add(pick);
      return pick;
    });
  }
  function setColour(node, colour) {
    node.style.setProperty("--fc", colour);
    node.style.setProperty("--fc-ink", readableOn(colour));
  }
  function pluralise(n, word) {
    return `${int(n)} ${word}${n === 1 ? "" : "s"}`;
  }

  // ------------------------------------------------------------------ status and alerts
  function setStatus(text, busy = false) {
    const status = $("status");
    status.replaceChildren();
    if (busy) status.append(el("span", { class: "spinner", "aria-hidden": "true" }));
    status.append(document.createTextNode(text));
  }
  function showAlert(title, lines = [], kind = "error") {
    const box = $("alert");
    box.replaceChildren(el("strong", { text: title }));
    if (lines.length) box.append(el("ul", {}, lines.map((line) => el("li", { text: line }))));
    box.dataset.kind = kind;
    box.hidden = false;
  }
  function clearAlert() {
    $("alert").hidden = true;
    $("alert").replaceChildren();
    for (const node of document.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
  }

  // ------------------------------------------------------------------ API key
  // A service started with FRAMING_API_KEY answers 401 without it. The page then asks for the key
  // and keeps it in sessionStorage: this tab only, gone when it closes, never in a URL or a log.
  const KEY_STORE = "framing-api-key";
  class KeyNeeded extends Error {}

  function apiHeaders(headers) {
    const key = sessionStorage.getItem(KEY_STORE);
    return key ? { ...headers, authorization: `Bearer ${key}` } : headers;
  }

  function askForKey(refused) {
    if (refused) sessionStorage.removeItem(KEY_STORE);
    $("key-form").hidden = false;
    $("key-message").textContent = refused
      ? "The key was refused. Check it with the service's operator and enter it again."
      : "Ask the service's operator for it. It is kept for this browser tab only.";
    $("api-key").focus();
  }

  function wireKeyForm(onKey) {
    $("key-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const key = $("api-key").value.trim();
      if (!key) return;
      sessionStorage.setItem(KEY_STORE, key);
      $("api-key").value = "";
      $("key-form").hidden = true;
      onKey();
    });
  }

  // ------------------------------------------------------------------ schema and legend
  async function loadInfo() {
    for (let attempt = 0; attempt < INFO_RETRIES; attempt += 1) {
      try {
        const response = await fetch("info", { headers: apiHeaders({ accept: "application/json" }) });
        if (response.ok) return await response.json();
        if (response.status === 401) throw new KeyNeeded("an API key is needed");
        if (response.status !== 503) {
          const body = await response.text();
          throw new Error(`GET /info answered ${response.status}: ${body.slice(0, 300)}`);
        }
        $("model-tag").textContent = "The model is still loading…";
      } catch (err) {
        if (attempt === INFO_RETRIES - 1 || !(err instanceof TypeError)) throw err;
        $("model-tag").textContent = "Waiting for the server…";
      }
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
    throw new Error("the model did not finish loading");
  }

  function applySchema(info) {
    state.info = info;
    const schema = info.schema;
    const abbrs = abbreviations(schema.frames.map((f) => f.name));
    state.frames = schema.frames.map((f, i) => ({
      ...f,
      index: i,
      colour: PALETTE[i % PALETTE.length],
      abbr: abbrs[i],
    }));
    state.attributions = schema.attributions.map((a, i) => ({
      ...a,
      index: i,
      style: ATTRIBUTION_STYLES[i % ATTRIBUTION_STYLES.length],
      shade: ATTRIBUTION_SHADES[i % ATTRIBUTION_SHADES.length],
    }));
    state.frameByName = new Map(state.frames.map((f) => [f.name, f]));
    state.attributionByName = new Map(state.attributions.map((a) => [a.name, a]));
    Object.assign(state.limits, info.limits || {});
    $("model-tag").textContent = `Model ${info.model}`;
    for (const node of document.querySelectorAll(".side-neg")) node.textContent = schema.sides.negative;
    for (const node of document.querySelectorAll(".side-pos")) node.textContent = schema.sides.positive;
    renderLimits();
    renderLegend();
  }

  function frameTag(frame, low = false) {
    const tag = el("span", { class: "tag", text: frame.abbr + (low ? "?" : "") });
    setColour(tag, frame.colour);
    return tag;
  }

  function renderLegend() {
    const schema = state.info.schema;
    const sides = schema.sides;
    const frames = el("ul", { class: "legend-frames" });
    for (const f of state.frames) {
      const side = f.side ? `aligned with ${f.side}` : "neutral";
      const item = el("li", { class: "legend-frame", "data-frame": f.name }, [
        frameTag(f),
        el("span", { class: "legend-name", text: human(f.name) }),
        el("span", { class: "legend-side", text: side }),
      ]);
      if (f.description) item.append(el("span", { class: "legend-desc", text: f.description }));
      frames.append(item);
    }
    const attrs = el("ul", { class: "legend-attrs" });
    for (const a of state.attributions) {
      attrs.append(
        el("li", { class: "legend-attr", "data-attribution": a.name }, [
          el("span", { class: `sample ${a.style.cls}`, text: human(a.name) }),
          el("span", { class: "legend-side", text: a.style.text }),
          a.description ? el("span", { class: "legend-desc", text: a.description }) : null,
        ]),
      );
    }
    const low = el("li", { class: "legend-attr" }, [
      el("span", { class: "sample low-sample", text: "AB?" }),
      el("span", {
        class: "legend-desc",
        text: `low confidence: the most probable frame has under ${LOW_CONFIDENCE * 100}% (read its tooltip)`,
      }),
    ]);
    attrs.append(low);
    const sideLabels = sides.labels || {};
    const sideNote = el("p", { class: "hint" }, [
      `Slant: ${sides.negative} = −1 (${sideLabels[sides.negative] || "negative side"}), `,
      `${sides.positive} = +1 (${sideLabels[sides.positive] || "positive side"}).`,
    ]);
    // The same labels, one line, right above the highlighted sentences.
    $("legend-compact").replaceChildren(
      ...state.frames.map((f) => el("li", { "data-frame": f.name }, [frameTag(f), human(f.name)])),
      ...state.attributions.map((a) =>
        el("li", { "data-attribution": a.name }, [el("span", { class: `sample ${a.style.cls}`, text: human(a.name) })]),
      ),
      el("li", {}, [el("span", { class: "sample low-sample", text: "AB?" }), "\u00a0low confidence"]),
    );
    $("legend").replaceChildren(
      el("div", { class: "legend-block" }, [el("h3", { text: "Frames (colour and label)" }), frames]),
      el("div", { class: "legend-block" }, [el("h3", { text: "Attribution (text style)" }), attrs, sideNote]),
    );
  }

  function renderLimits() {
    const l = state.limits;
    $("limits-line").textContent =
      `Limits per request: ${int(l.max_articles)} articles, ${int(l.max_text_chars)} characters an article, ` +
      `${(l.max_body_bytes / 1e6).toFixed(1)} MB in all.`;
    for (const card of cards()) updateCounter(card);
  }

  // ------------------------------------------------------------------ article cards
  const cards = () => Array.from($("article-list").children);

  function addCard(values = {}, { focus = false } = {}) {
    const card = $("article-template").content.firstElementChild.cloneNode(true);
    card.querySelector(".source").value = values.source || "";
    card.querySelector(".title").value = values.title || "";
    const textArea = card.querySelector(".text");
    textArea.value = values.text || "";
    if (values.html) {
      // A saved web page: the server extracts its text (and title, date, URL); offsets refer to that text.
      textArea.readOnly = true;
      textArea.placeholder = `Web page ${values.origin}: the server extracts the article's text from it.`;
    }
    state.extra.set(card, { url: values.url, published: values.published, origin: values.origin, html: values.html });
    $("article-list").append(card);
    renumber();
    updateCounter(card);
    if (focus) card.querySelector(values.source ? ".text" : ".source").focus();
    return card;
  }

  function isBlank(card) {
    return ["source", "title", "text"].every((cls) => !card.querySelector(`.${cls}`).value.trim());
  }

  function renumber() {
    const all = cards();
    all.forEach((card, i) => {
      card.querySelector(".card-number").textContent = `Article ${i + 1}`;
      card.setAttribute("aria-label", `Article ${i + 1}`);
      for (const cls of ["source", "title", "text"]) {
        const input = card.querySelector(`.${cls}`);
        input.id = `article-${i + 1}-${cls}`;
      }
    });
    $("clear-articles").disabled = all.length === 0;
  }

  function updateCounter(card) {
    const text = card.querySelector(".text").value;
    const n = codePoints(text);
    const max = state.limits.max_text_chars;
    const counter = card.querySelector(".counter");
    counter.textContent = `${int(n)} / ${int(max)} characters`;
    counter.classList.toggle("over", n > max);
    const extra = state.extra.get(card) || {};
    const meta = [extra.origin, extra.published, extra.url].filter(Boolean).join(" · ");
    card.querySelector(".meta").textContent = meta;
  }

  function markInvalid(card, cls) {
    const input = card.querySelector(`.${cls}`);
    input.setAttribute("aria-invalid", "true");
    return input;
  }

  // Reads the cards, checks every limit the server enforces (so the user learns before
  // sending), and returns the articles to send or the problems to show.
  function collectArticles() {
    const l = state.limits;
    const articles = [];
    const problems = [];
    let firstInvalid = null;
    const invalid = (card, cls) => {
      const input = markInvalid(card, cls);
      firstInvalid = firstInvalid || input;
    };
    cards().forEach((card, i) => {
      if (isBlank(card)) return;
      const source = card.querySelector(".source").value.trim();
      const title = card.querySelector(".title").value.trim();
      const text = card.querySelector(".text").value;
      const page = (state.extra.get(card) || {}).html;
      const label = `Article ${i + 1}${source ? ` (${source})` : ""}`;
      if (page) {
        // checked by the server: the page's size, and whether it holds an article at all
      } else if (!text.trim()) {
        problems.push(`${label}: the text is empty; paste the article or remove the card.`);
        invalid(card, "text");
      } else if (codePoints(text) > l.max_text_chars) {
        problems.push(
          `${label}: the text has ${int(codePoints(text))} characters; the limit is ${int(l.max_text_chars)}. ` +
            "Split it into several articles with the same source.",
        );
        invalid(card, "text");
      }
      if (!source) {
        problems.push(`${label}: the source is missing; name the outlet (articles are profiled per source).`);
        invalid(card, "source");
      } else if (codePoints(source) > l.max_source_chars) {
        problems.push(`${label}: the source name is over ${int(l.max_source_chars)} characters.`);
        invalid(card, "source");
      }
      if (title && codePoints(title) > l.max_title_chars) {
        problems.push(`${label}: the title is over ${int(l.max_title_chars)} characters.`);
        invalid(card, "title");
      }
      const extra = state.extra.get(card) || {};
      const article = page ? { source, html: page } : { source, text };
      if (title) article.title = title;
      if (extra.url) article.url = extra.url;
      if (extra.published) article.published = extra.published;
      articles.push(article);
    });
    if (!articles.length) {
      return {
        articles,
        problems: ["Nothing to analyse yet: paste an article's text and its source, or load a file."],
        firstInvalid: cards()[0] ? cards()[0].querySelector(".text") : null,
        empty: true,
      };
    }
    if (articles.length > l.max_articles) {
      problems.unshift(
        `${int(articles.length)} articles; the server accepts at most ${int(l.max_articles)} per request. ` +
          `Remove ${int(articles.length - l.max_articles)} or analyse them in several rounds.`,
      );
    }
    const bytes = new TextEncoder().encode(JSON.stringify({ articles })).length;
    if (bytes > l.max_body_bytes) {
      problems.unshift(
        `The request would be ${(bytes / 1e6).toFixed(2)} MB; the server accepts at most ` +
          `${(l.max_body_bytes / 1e6).toFixed(2)} MB. Send fewer or shorter articles at a time.`,
      );
    }
    return { articles, problems, firstInvalid };
  }

  // ------------------------------------------------------------------ file loading
  const stem = (name) => name.replace(/\.[^.]+$/, "");
  const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;

  // One record from a .jsonl object or a .csv row -> an article, or a reason it is not one.
  function recordToArticle(record, fallbackSource, where, notes) {
    const text = record.text;
    if (typeof text !== "string" || !text.trim()) {
      const kind = typeof text === "string" ? "blank" : typeof text;
      const found = text === undefined ? 'no "text"' : `"text" is ${kind}`;
      return { error: `${found}; expected the article text as a non-empty string` };
    }
    let source = record.source;
    if (source === undefined || source === null || String(source).trim() === "") {
      source = fallbackSource;
      notes.push(`${where}: no source; used "${fallbackSource}"`);
    }
    const article = { source: String(source).trim(), text };
    if (typeof record.title === "string" && record.title.trim()) article.title = record.title.trim();
    if (typeof record.url === "string" && record.url.trim()) article.url = record.url.trim();
    if (record.published !== undefined && record.published !== null && record.published !== "") {
      if (typeof record.published === "string" && ISO_DATE.test(record.published.trim())) {
        article.published = record.published.trim();
      } else {
        notes.push(`${where}: published "${record.published}" is not a YYYY-MM-DD date; left out`);
      }
    }
    return { article };
  }

  function parseJsonl(text, file, fallbackSource, problems, notes) {
    const out = [];
    text.split(/\r?\n/).forEach((line, i) => {
      if (!line.trim()) return;
      const where = `${file}, line ${i + 1}`;
      let record;
      try {
        record = JSON.parse(line);
      } catch (err) {
        problems.push(`${where}: not valid JSON (${err.message}); expected one object per line`);
        return;
      }
      if (record === null || typeof record !== "object" || Array.isArray(record)) {
        const found = Array.isArray(record) ? "an array" : record === null ? "null" : typeof record;
        problems.push(`${where}: found ${found}; expected an object with "text" and "source"`);
        return;
      }
      const { article, error } = recordToArticle(record, fallbackSource, where, notes);
      if (error) problems.push(`${where}: ${error}`);
      else out.push({ ...article, origin: `${file}:${i + 1}` });
    });
    return out;
  }

  // RFC 4180 records (quoted fields may hold commas, quotes and newlines), with the line
  // each record starts on so problems can point at it.
  function csvRecords(text, delimiter) {
    const records = [];
    let field = "";
    let fields = [];
    let inQuotes = false;
    let line = 1;
    let startLine = 1;
    let quoteLine = 1;
    for (let i = 0; i < text.length; i += 1) {
      const ch = text[i];
      if (inQuotes) {
        if (ch === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 1;
          } else inQuotes = false;
        } else {
          if (ch === "\n") line += 1;
          field += ch;
        }
      } else if (ch === '"' && field === "") {
        inQuotes = true;
        quoteLine = line;
      } else if (ch === delimiter) {
        fields.push(field);
        field = "";
      } else if (ch === "\n" || ch === "\r") {
        if (ch === "\r" && text[i + 1] === "\n") i += 1;
        fields.push(field);
        records.push({ fields, line: startLine });
        fields = [];
        field = "";
        line += 1;
        startLine = line;
      } else field += ch;
    }
    if (inQuotes) return { records, unterminated: quoteLine };
    if (field !== "" || fields.length) {
      fields.push(field);
      records.push({ fields, line: startLine });
    }
    return { records, unterminated: null };
  }

  function sniffDelimiter(headerLine) {
    const counts = [",", ";", "\t"].map((d) => [d, headerLine.split(d).length - 1]);
    counts.sort((a, b) => b[1] - a[1]);
    return counts[0][1] > 0 ? counts[0][0] : ",";
  }

  function parseCsv(text, file, fallbackSource, problems, notes) {
    const delimiter = sniffDelimiter(text.split(/\r?\n/, 1)[0] || "");
    const { records, unterminated } = csvRecords(text, delimiter);
    const rows = records.filter((r) => r.fields.some((f) => f.trim() !== ""));
    if (!rows.length) {
      problems.push(`${file}: empty file; expected a header row with "text" and "source" columns`);
      return [];
    }
    const header = rows[0].fields.map((h) => h.trim().toLowerCase());
    if (!header.includes("text")) {
      problems.push(
        `${file}, line ${rows[0].line}: the header has no "text" column (found: ${header.join(", ") || "nothing"}); ` +
          'expected a header row with "text" and "source" columns',
      );
      return [];
    }
    if (!header.includes("source")) notes.push(`${file}: no "source" column; every row gets "${fallbackSource}"`);
    const out = [];
    for (const row of rows.slice(1)) {
      const where = `${file}, line ${row.line}`;
      if (row.fields.length !== header.length) {
        problems.push(
          `${where}: ${row.fields.length} fields, the header has ${header.length} ` +
            "(a field holding a comma, quote or line break must be in double quotes)",
        );
        continue;
      }
      const record = Object.fromEntries(header.map((h, k) => [h, row.fields[k]]));
      const { article, error } = recordToArticle(record, fallbackSource, where, notes);
      if (error) problems.push(`${where}: ${error}`);
      else out.push({ ...article, origin: `${file}:${row.line}` });
    }
    if (unterminated !== null) {
      problems.push(`${file}, line ${unterminated}: a quoted field is never closed; the rest of the file was not read`);
    }
    return out;
  }

  // A saved page says how it is encoded (<meta charset>); decode it that way, as a browser would.
  async function readPage(file) {
    const bytes = new Uint8Array(await file.arrayBuffer());
    const head = new TextDecoder("windows-1252").decode(bytes.slice(0, 4096));
    const declared = head.match(/<meta\b[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)/i);
    try {
      return new TextDecoder(declared ? declared[1] : "utf-8").decode(bytes);
    } catch {
      return new TextDecoder("utf-8").decode(bytes); // an unknown label: UTF-8, the web's default
    }
  }

  async function loadFiles(fileList) {
    const problems = [];
    const notes = [];
    const loaded = [];
    const chosenSource = $("file-source").value.trim();
    for (const file of Array.from(fileList)) {
      const ext = (file.name.match(/\.([^.]+)$/) || [, ""])[1].toLowerCase();
      const fallback = chosenSource || stem(file.name);
      if (!["txt", "html", "htm", "jsonl", "ndjson", "csv"].includes(ext)) {
        problems.push(`${file.name}: unsupported file type ".${ext}"; expected .txt, .html, .jsonl or .csv`);
        continue;
      }
      if (file.size > MAX_FILE_BYTES) {
        const mb = (file.size / 1e6).toFixed(1);
        problems.push(`${file.name}: ${mb} MB is too large for the page; use the command line`);
        continue;
      }
      let text;
      try {
        text = ext === "html" || ext === "htm" ? await readPage(file) : await file.text();
      } catch (err) {
        problems.push(`${file.name}: could not be read (${err.message})`);
        continue;
      }
      if (ext === "txt" || ext === "html" || ext === "htm") {
        if (!text.trim()) problems.push(`${file.name}: the file is empty`);
        else if (ext === "txt") loaded.push({ source: fallback, text, origin: file.name });
        else loaded.push({ source: fallback, html: text, origin: file.name });
      } else if (ext === "csv") {
        loaded.push(...parseCsv(text, file.name, fallback, problems, notes));
      } else {
        loaded.push(...parseJsonl(text, file.name, fallback, problems, notes));
      }
    }
    // An untouched empty card is replaced rather than left above the loaded ones.
    for (const card of cards()) if (isBlank(card) && loaded.length) card.remove();
    const room = Math.max(0, MAX_CARDS - cards().length);
    if (loaded.length > room) {
      problems.push(
        `${int(loaded.length - room)} articles were not loaded: the page holds at most ${int(MAX_CARDS)} ` +
          "(and sends at most " + `${int(state.limits.max_articles)} per request)`,
      );
    }
    for (const article of loaded.slice(0, room)) addCard(article);
    if (!cards().length) addCard();
    renumber();
    showFileMessages(Math.min(loaded.length, room), problems, notes);
  }

  function showFileMessages(nLoaded, problems, notes) {
    const box = $("file-messages");
    const parts = [el("strong", { text: `Loaded ${pluralise(nLoaded, "article")}.` })];
    if (problems.length) {
      parts.push(
        el("p", { text: `${pluralise(problems.length, "problem")} (these rows were skipped; the rest are loaded):` }),
        el("ul", { class: "file-problems" }, problems.map((p) => el("li", { text: p }))),
      );
    }
    if (notes.length) {
      const items = notes.map((n) => el("li", { text: n }));
      parts.push(el("p", { text: "Notes:" }), el("ul", { class: "file-notes" }, items));
    }
    box.replaceChildren(...parts);
    box.dataset.kind = problems.length ? "warning" : "ok";
    box.hidden = false;
  }

  // ------------------------------------------------------------------ calling the server
  function locationText(loc, articles) {
    if (!Array.isArray(loc)) return "";
    const parts = loc.filter((p) => p !== "body");
    if (parts[0] === "articles" && Number.isInteger(parts[1])) {
      const article = articles[parts[1]];
      const rest = parts.slice(2).join(" → ");
      return `Article ${parts[1] + 1}${article ? ` (${article.source})` : ""}${rest ? `, ${rest}` : ""}`;
    }
    return parts.join(" → ");
  }

  function showServerError(status, data, raw, articles) {
    const title =
      status === 413
        ? "The request is too large for the server (413)."
        : status >= 500
          ? `The server failed to analyse the articles (${status}).`
          : `The server refused the request (${status}).`;
    const lines = [];
    if (data && typeof data === "object") {
      if (data.error) lines.push(String(data.error));
      if (Array.isArray(data.detail)) {
        for (const d of data.detail.slice(0, 20)) {
          const where = locationText(d.loc, articles);
          lines.push(`${where ? `${where}: ` : ""}${d.msg || JSON.stringify(d)}`);
        }
      } else if (typeof data.detail === "string") lines.push(data.detail);
      if (data.fix) lines.push(`What to do: ${data.fix}`);
    } else if (raw && raw.trim()) {
      lines.push(raw.trim().slice(0, 500));
    }
    if (status >= 500) lines.push("Your articles are still here: try again in a moment. The server log says why.");
    showAlert(title, lines);
  }

  function setBusy(busy) {
    state.busy = busy;
    $("analyse").disabled = busy;
    $("analyse").setAttribute("aria-busy", String(busy));
    $("cancel").hidden = !busy;
    $("input-panel").classList.toggle("busy", busy);
  }

  async function analyse() {
    if (state.busy) return;
    clearAlert();
    if (!state.info) {
      showAlert("The page is still waiting for the server's label schema.", ["Try again in a few seconds."]);
      return;
    }
    const { articles, problems, firstInvalid, empty } = collectArticles();
    if (problems.length) {
      if (empty) showAlert(problems[0]);
      else showAlert("Please fix these before analysing:", problems);
      if (firstInvalid) firstInvalid.focus();
      return;
    }
    const nSources = new Set(articles.map((a) => a.source)).size;
    const what = `${pluralise(articles.length, "article")} from ${pluralise(nSources, "source")}`;
    const controller = new AbortController();
    state.controller = controller;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, REQUEST_TIMEOUT_MS);
    const t0 = performance.now();
    const seconds = () => Math.round((performance.now() - t0) / 1000);
    const ticker = setInterval(() => setStatus(`Analysing ${what}… ${seconds()} s`, true), 1000);
    setStatus(`Analysing ${what}…`, true);
    setBusy(true);
    try {
      let response;
      try {
        response = await fetch("score", {
          method: "POST",
          headers: apiHeaders({ "content-type": "application/json", accept: "application/json" }),
          body: JSON.stringify({ articles }),
          signal: controller.signal,
        });
      } catch (err) {
        if (timedOut) {
          setStatus("");
          showAlert(`No answer from the server after ${REQUEST_TIMEOUT_MS / 1000} s.`, [
            "Your articles are still here. Try fewer or shorter articles, or try again later.",
          ]);
        } else if (controller.signal.aborted) {
          setStatus("Cancelled. Your articles are unchanged.");
        } else {
          setStatus("");
          showAlert("Could not reach the server.", [
            `${err.message}. Check that the service is running and reachable, then press Analyse again.`,
            "Your articles are still here.",
          ]);
        }
        return;
      }
      const raw = await response.text();
      let data = null;
      try {
        data = JSON.parse(raw);
      } catch {
        data = null;
      }
      if (response.status === 401) {
        setStatus("");
        askForKey(Boolean(sessionStorage.getItem(KEY_STORE)));
        showAlert("The server needs an API key (401).", [
          "Enter the key above, then press Analyse again. Your articles are still here.",
        ]);
        return;
      }
      if (!response.ok) {
        setStatus("");
        showServerError(response.status, data, raw, articles);
        return;
      }
      if (!data || !Array.isArray(data.sentences) || !Array.isArray(data.articles) || !data.sources) {
        setStatus("");
        showAlert("The server's answer is not a /score result.", [raw.slice(0, 300)]);
        return;
      }
      state.result = data;
      state.sent = articles;
      renderResults();
      setStatus(
        `Analysed ${pluralise(data.sentences.length, "sentence")} in ${what} in ${seconds()} s.`,
      );
      $("results").scrollIntoView({ behavior: "smooth", block: "start" });
    } finally {
      clearTimeout(timer);
      clearInterval(ticker);
      state.controller = null;
      setBusy(false);
    }
  }

  // ------------------------------------------------------------------ results
  function frameOf(name) {
    // A label the schema does not know (should not happen) still gets a colour and a tag.
    if (!state.frameByName.has(name)) {
      const i = state.frames.length;
      const f = { name, index: i, colour: PALETTE[i % PALETTE.length], abbr: abbreviations([name])[0], side: null };
      state.frames.push(f);
      state.frameByName.set(name, f);
    }
    return state.frameByName.get(name);
  }
  function attributionOf(name) {
    if (!state.attributionByName.has(name)) {
      const i = state.attributions.length;
      const a = { name, index: i, style: ATTRIBUTION_STYLES[i % ATTRIBUTION_STYLES.length], shade: "#999999" };
      state.attributions.push(a);
      state.attributionByName.set(name, a);
    }
    return state.attributionByName.get(name);
  }

  function renderResults() {
    const data = state.result;
    $("results").hidden = false;
    const warnings = $("warnings");
    const notes = [
      ...(data.rejects || []).map((r) => `Article ${r.article + 1} (${r.source}) was not analysed: ${r.reason}`),
      ...(data.warnings || []),
    ];
    warnings.replaceChildren(...notes.map((w) => el("li", { text: w })));
    warnings.hidden = !notes.length;
    renderSources(data);
    renderArticles(data);
  }

  function bar(value, ci, colour, label) {
    const track = el("div", { class: "bar-track", role: "img", "aria-label": label });
    const fill = el("div", { class: "bar-fill" });
    fill.style.width = `${clamp01(value || 0) * 100}%`;
    setColour(fill, colour);
    track.append(fill);
    if (Array.isArray(ci) && ci[0] !== null && ci[1] !== null && !Number.isNaN(ci[0])) {
      const whisker = el("div", { class: "whisker" });
      whisker.style.left = `${clamp01(ci[0]) * 100}%`;
      whisker.style.width = `${Math.max(0, clamp01(ci[1]) - clamp01(ci[0])) * 100}%`;
      track.append(whisker);
    }
    return track;
  }

  function slantRow(kind, label, value, ci) {
    const pos = (v) => `${((clamp01((v + 1) / 2)) * 100).toFixed(2)}%`;
    const described = `${label} ${signed(value)} ${ciText(ci, signed)}`;
    const axis = el("div", { class: "slant-track", role: "img", "aria-label": described });
    for (const tick of [-1, -0.5, 0, 0.5, 1]) {
      const t = el("span", { class: tick === 0 ? "tick zero" : "tick" });
      t.style.left = pos(tick);
      axis.append(t);
    }
    if (Array.isArray(ci) && ci[0] !== null && ci[1] !== null && !Number.isNaN(ci[0])) {
      const whisker = el("span", { class: "slant-ci" });
      whisker.style.left = pos(ci[0]);
      whisker.style.width = `${(clamp01((ci[1] + 1) / 2) - clamp01((ci[0] + 1) / 2)) * 100}%`;
      axis.append(whisker);
    }
    if (value !== null && value !== undefined) {
      const dot = el("span", { class: `slant-dot ${kind}` });
      dot.style.left = pos(value);
      axis.append(dot);
    }
    return el("div", { class: `slant-row ${kind}` }, [
      el("div", { class: "slant-label" }, [
        el("span", { text: label }),
        el("span", { class: `value ${kind}-value`, "data-value": value ?? "", text: signed(value) }),
        el("span", { class: "ci muted", text: ciText(ci, signed) }),
      ]),
      axis,
    ]);
  }

  function renderSources(data) {
    const sides = state.info.schema.sides;
    const articlesPerSource = new Map();
    for (const a of data.articles) articlesPerSource.set(a.source, (articlesPerSource.get(a.source) || 0) + 1);
    const panels = [];
    for (const [name, prof] of Object.entries(data.sources)) {
      const card = el("article", { class: "source-card", "data-source": name });
      card.append(
        el("h4", { class: "source-name", text: name }),
        el("p", {
          class: "muted",
          text: `${pluralise(prof.n_sentences, "sentence")} · ` +
            `${pluralise(articlesPerSource.get(name) || 0, "article")}`,
        }),
      );
      // One stacked bar: the whole frame mix at a glance.
      const stack = el("div", { class: "stack", role: "img" });
      const parts = [];
      for (const f of state.frames) {
        const v = prof.frame_mean?.[f.name];
        if (v === undefined || v === null) continue;
        parts.push(`${human(f.name)} ${pct0(v)}`);
        const seg = el("span", { class: "stack-seg", "data-frame": f.name, text: v >= 0.09 ? f.abbr : "" });
        seg.style.width = `${clamp01(v) * 100}%`;
        setColour(seg, f.colour);
        stack.append(seg);
      }
      stack.setAttribute("aria-label", `Frame mix: ${parts.join(", ")}`);
      card.append(stack);
      // Per frame: mean with its CI, and the share of sentences it tops.
      const table = el("div", { class: "frame-rows" });
      for (const f of state.frames) {
        const v = prof.frame_mean?.[f.name];
        if (v === undefined) continue;
        const ci = prof.frame_mean_ci?.[f.name];
        const share = prof.frame_share?.[f.name];
        table.append(
          el("div", { class: "frame-row", "data-frame": f.name }, [
            el("span", { class: "frame-row-label" }, [frameTag(f), el("span", { text: human(f.name) })]),
            bar(v, ci, f.colour, `${human(f.name)} mean ${pct(v)} ${ciText(ci, pct0)}`),
            el("span", { class: "frame-row-value" }, [
              el("span", { class: "mean", text: pct0(v) }),
              el("span", { class: "muted", text: ` ${ciText(ci, pct0)}` }),
              share !== undefined ? el("span", { class: "share muted", text: ` (${pct0(share)})` }) : null,
            ]),
          ]),
        );
      }
      card.append(el("h5", { text: "Frame mean [95% CI] (share of sentences)" }), table);
      // Slant and adopted slant on one -1..+1 axis.
      const slant = el("div", { class: "slant" }, [
        el("div", { class: "slant-axis-labels", "aria-hidden": "true" }, [
          el("span", { class: "axis-neg", text: `${sides.negative} −1` }),
          el("span", { class: "axis-zero", text: "0" }),
          el("span", { class: "axis-pos", text: `+1 ${sides.positive}` }),
        ]),
        slantRow("slant", "Slant", prof.slant, prof.slant_ci),
      ]);
      if ("adopted_slant" in prof) {
        slant.append(slantRow("adopted", "Adopted slant", prof.adopted_slant, prof.adopted_slant_ci));
      }
      card.append(el("h5", { text: "Slant [95% CI]" }), slant);
      // Attribution mix: of the framing aligned with each side, how much is adopted, attributed, distanced.
      if (prof.attribution_mix) {
        const mix = el("div", { class: "mix" });
        for (const [side, shares] of Object.entries(prof.attribution_mix)) {
          const row = el("div", { class: "mix-row", "data-side": side });
          const segs = el("div", { class: "mix-bar", role: "img" });
          const texts = [];
          for (const a of state.attributions) {
            const v = shares[a.name];
            if (v === null || v === undefined) continue;
            texts.push(`${human(a.name)} ${pct0(v)}`);
            const seg = el("span", { class: "mix-seg" });
            seg.style.width = `${clamp01(v) * 100}%`;
            seg.style.background = a.shade;
            segs.append(seg);
          }
          segs.setAttribute("aria-label", texts.join(", "));
          row.append(
            el("div", { class: "mix-label" }, [
              el("strong", { text: side }),
              el("span", { class: "muted", text: ` framing, ${pct0(shares.mass)} of all` }),
            ]),
            segs,
            el("div", { class: "mix-text", text: texts.length ? texts.join(" · ") : "none of this framing" }),
          );
          mix.append(row);
        }
        card.append(el("h5", { text: "Whose voice carries each side's framing" }), mix);
      }
      panels.push(card);
    }
    $("source-panels").replaceChildren(...panels);
  }

  function renderArticles(data) {
    const bySentence = new Map();
    for (const s of data.sentences) {
      if (!bySentence.has(s.article)) bySentence.set(s.article, []);
      bySentence.get(s.article).push(s);
    }
    const out = [];
    for (const summary of data.articles) {
      const sent = state.sent[summary.article];
      const text = summary.extracted_text ?? (sent ? sent.text : ""); // a web page: offsets refer to its extracted text
      const sentences = (bySentence.get(summary.article) || []).slice().sort((a, b) => a.start - b.start);
      const box = el("article", { class: "article-result", "data-article": summary.article });
      const head = el("header", { class: "article-head" }, [
        el("span", { class: "source-chip", text: summary.source }),
        el("h4", { text: summary.title || `Article ${summary.article + 1}` }),
        el("span", { class: "muted", text: pluralise(summary.n_sentences, "sentence") }),
      ]);
      if (summary.non_english) {
        const note = `not English: ${summary.language_note || "labels unreliable"}`;
        head.append(el("span", { class: "badge warn", text: note }));
      }
      box.append(head);
      const body = el("div", { class: "article-text" });
      const unit = codePointToUnit(text);
      let pos = 0;
      for (const s of sentences) {
        const start = unit(s.start);
        const end = unit(s.end);
        if (start > pos) body.append(gapNode(text.slice(pos, start)));
        body.append(sentenceNode(s));
        pos = Math.max(pos, end);
      }
      if (pos < text.length) body.append(gapNode(text.slice(pos)));
      if (!sentences.length) body.append(el("p", { class: "muted", text: "No content sentences in this article." }));
      box.append(body);
      out.push(box);
    }
    $("article-results").replaceChildren(...out);
  }

  function gapNode(gap) {
    if (!/\S/.test(gap)) return document.createTextNode(gap);
    return el("span", { class: "unscored", title: "not scored (page debris or a repeated line)", text: gap });
  }

  function sentenceNode(s) {
    const frame = frameOf(s.frame);
    const attribution = attributionOf(s.attribution);
    const top = s.frame_scores?.[s.frame] ?? 0;
    const low = top < LOW_CONFIDENCE;
    const node = el("span", {
      class: `sentence ${attribution.style.cls}${low ? " low" : ""}`,
      tabindex: 0,
      "data-article": s.article,
      "data-index": s.sentence_index,
      "data-frame": s.frame,
      "data-attribution": s.attribution,
    });
    setColour(node, frame.colour);
    const label = `${human(s.frame)} ${pct0(top)}, ${human(s.attribution)}${low ? ", low confidence" : ""}: `;
    node.append(
      el("span", { class: "tag", "aria-hidden": "true", text: frame.abbr + (low ? "?" : "") }),
      el("span", { class: "sr-only", text: label }),
      el("span", { class: "s-text", text: s.text }),
    );
    return node;
  }

  // ------------------------------------------------------------------ tooltip
  let tipFor = null;
  let tipPinned = false;

  function tooltipContent(s) {
    const rows = (kind, scores, items, best) =>
      items.map((item) => {
        const p = scores?.[item.name];
        const meter = el("span", { class: "tt-meter" });
        const fill = el("span", { class: "tt-meter-fill" });
        fill.style.width = `${clamp01(p || 0) * 100}%`;
        if (kind === "frame") setColour(fill, item.colour);
        else fill.style.background = "#555";
        meter.append(fill);
        const cls = `tt-row${item.name === best ? " best" : ""}`;
        return el("div", { class: cls, "data-kind": kind, "data-label": item.name }, [
          kind === "frame" ? frameTag(item) : el("span", { class: `tt-attr ${item.style.cls}`, text: "Aa" }),
          el("span", { class: "tt-name", text: human(item.name) }),
          meter,
          el("span", { class: "pct", text: pct(p) }),
        ]);
      });
    const top = s.frame_scores?.[s.frame] ?? 0;
    const nodes = [
      el("div", { class: "tt-title", text: `Sentence ${s.sentence_index + 1}` }),
      el("div", { class: "tt-section", text: "Frame" }),
      ...rows("frame", s.frame_scores, state.frames, s.frame),
      el("div", { class: "tt-section", text: "Attribution" }),
      ...rows("attribution", s.attribution_scores, state.attributions, s.attribution),
    ];
    if (top < LOW_CONFIDENCE) {
      nodes.push(el("div", { class: "tt-note", text: "Low confidence: no frame reaches 50%; read it yourself." }));
    }
    return nodes;
  }

  function sentenceData(node) {
    const article = Number(node.dataset.article);
    const index = Number(node.dataset.index);
    return state.result.sentences.find((s) => s.article === article && s.sentence_index === index);
  }

  function showTip(node, pointer = null) {
    const s = sentenceData(node);
    if (!s) return;
    const tip = $("tooltip");
    tip.replaceChildren(...tooltipContent(s));
    tip.hidden = false;
    if (tipFor && tipFor !== node) tipFor.removeAttribute("aria-describedby");
    tipFor = node;
    node.setAttribute("aria-describedby", "tooltip");
    placeTip(node, pointer);
  }

  function placeTip(node, pointer = null) {
    const tip = $("tooltip");
    const rects = Array.from(node.getClientRects());
    let rect = rects[0] || node.getBoundingClientRect();
    if (pointer) rect = rects.find((r) => pointer.y >= r.top && pointer.y <= r.bottom) || rect;
    const margin = 8;
    const w = tip.offsetWidth;
    const h = tip.offsetHeight;
    let left = pointer ? pointer.x - w / 2 : rect.left;
    left = Math.max(margin, Math.min(left, window.innerWidth - w - margin));
    let top = rect.bottom + 6;
    if (top + h > window.innerHeight - margin && rect.top - h - 6 > margin) top = rect.top - h - 6;
    tip.style.left = `${left}px`;
    tip.style.top = `${Math.max(margin, top)}px`;
  }

  function hideTip() {
    $("tooltip").hidden = true;
    if (tipFor) tipFor.removeAttribute("aria-describedby");
    tipFor = null;
    tipPinned = false;
  }

  function wireTooltip() {
    const area = $("article-results");
    // Scrolling moves text under a resting mouse and the browser reports a mouseover at the
    // same spot; that must not take the tooltip away from the sentence a keyboard user focused.
    let lastMove = null;
    document.addEventListener("mousemove", (e) => {
      lastMove = { x: e.clientX, y: e.clientY };
    }, { passive: true });
    area.addEventListener("mouseover", (e) => {
      const node = e.target.closest(".sentence");
      if (!node || tipPinned) return;
      const still = lastMove && lastMove.x === e.clientX && lastMove.y === e.clientY;
      const focused = document.activeElement && document.activeElement.closest?.(".sentence");
      if (still && focused && tipFor === focused) return;
      showTip(node, { x: e.clientX, y: e.clientY });
    });
    area.addEventListener("mouseout", (e) => {
      const node = e.target.closest(".sentence");
      if (!node || tipPinned || node.contains(e.relatedTarget)) return;
      if (document.activeElement === tipFor) return; // the focused sentence keeps its tooltip
      hideTip();
    });
    area.addEventListener("focusin", (e) => {
      const node = e.target.closest(".sentence");
      if (node) showTip(node);
    });
    area.addEventListener("focusout", (e) => {
      if (!e.relatedTarget || !e.relatedTarget.closest?.(".sentence")) hideTip();
    });
    area.addEventListener("click", (e) => {
      const node = e.target.closest(".sentence");
      if (!node) return;
      if (tipPinned && tipFor === node) hideTip();
      else {
        showTip(node, { x: e.clientX, y: e.clientY });
        tipPinned = true;
      }
    });
    document.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && !$("tooltip").hidden) hideTip();
    });
    document.addEventListener("click", (e) => {
      if (tipPinned && !e.target.closest(".sentence") && !e.target.closest("#tooltip")) hideTip();
    });
    // The tooltip is fixed to the window: follow the sentence when the page scrolls.
    const follow = () => {
      if (tipFor && !$("tooltip").hidden) placeTip(tipFor);
    };
    window.addEventListener("scroll", follow, { passive: true });
    window.addEventListener("resize", follow);
  }

  // ------------------------------------------------------------------ downloads
  function csvCell(value) {
    if (value === null || value === undefined) return "";
    let s = String(value);
    // A cell starting with = + - @ is run as a formula by spreadsheets: make it text.
    if (typeof value === "string" && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  }

  function resultsCsv() {
    const data = state.result;
    const frames = state.frames.map((f) => f.name);
    const attrs = state.attributions.map((a) => a.name);
    const header = [
      "source", "article", "title", "sentence_index", "start", "end", "text", "frame", "attribution",
      "low_confidence", ...frames.map((f) => `frame_scores.${f}`), ...attrs.map((a) => `attribution_scores.${a}`),
    ];
    const titles = new Map(data.articles.map((a) => [a.article, a]));
    const lines = [header.join(",")];
    for (const s of data.sentences) {
      const art = titles.get(s.article) || {};
      const top = s.frame_scores?.[s.frame] ?? 0;
      const row = [
        art.source, s.article, art.title ?? "", s.sentence_index, s.start, s.end, s.text, s.frame, s.attribution,
        top < LOW_CONFIDENCE, ...frames.map((f) => s.frame_scores?.[f]), ...attrs.map((a) => s.attribution_scores?.[a]),
      ];
      lines.push(row.map(csvCell).join(","));
    }
    return `\ufeff${lines.join("\r\n")}\r\n`; // BOM: spreadsheets then read UTF-8 correctly
  }

  function download(content, type, ext) {
    const stamp = new Date().toISOString().slice(0, 19).replace(/[-:]/g, "").replace("T", "-");
    const url = URL.createObjectURL(new Blob([content], { type }));
    const a = el("a", { href: url, download: `framing-results-${stamp}.${ext}` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }

  // ------------------------------------------------------------------ start
  function wire() {
    $("add-article").addEventListener("click", () => addCard({}, { focus: true }));
    $("clear-articles").addEventListener("click", () => {
      $("article-list").replaceChildren();
      addCard({}, { focus: true });
      $("file-messages").hidden = true;
      clearAlert();
    });
    $("article-list").addEventListener("click", (e) => {
      const button = e.target.closest(".remove");
      if (!button) return;
      const card = button.closest(".article-card");
      const next = card.nextElementSibling || card.previousElementSibling;
      card.remove();
      if (!cards().length) addCard();
      renumber();
      (next || cards()[0]).querySelector(".source").focus();
    });
    $("article-list").addEventListener("input", (e) => {
      const card = e.target.closest(".article-card");
      if (card) updateCounter(card);
      if (e.target.hasAttribute("aria-invalid")) e.target.removeAttribute("aria-invalid");
    });
    $("article-list").addEventListener("keydown", (e) => {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        analyse();
      }
    });
    $("article-form").addEventListener("submit", (e) => {
      e.preventDefault();
      analyse();
    });
    $("cancel").addEventListener("click", () => state.controller?.abort());
    $("file-input").addEventListener("change", async (e) => {
      const files = e.target.files;
      if (files && files.length) await loadFiles(files);
      e.target.value = ""; // the same file can be loaded again
    });
    $("download-csv").addEventListener("click", () => download(resultsCsv(), "text/csv;charset=utf-8", "csv"));
    $("download-json").addEventListener("click", () =>
      download(`${JSON.stringify(state.result, null, 2)}\n`, "application/json", "json"),
    );
    wireTooltip();
  }

  async function start() {
    // On a phone the long legend would push the articles down: start it folded there.
    if (window.matchMedia("(max-width: 720px)").matches) $("legend-details").open = false;
    wire();
    addCard();
    renderLimits();
    wireKeyForm(() => {
      clearAlert();
      if (document.body.dataset.ready !== "true") loadSchema();
    });
    await loadSchema();
  }

  async function loadSchema() {
    try {
      applySchema(await loadInfo());
      document.body.dataset.ready = "true";
    } catch (err) {
      if (err instanceof KeyNeeded) {
        $("model-tag").textContent = "Waiting for an API key";
        askForKey(Boolean(sessionStorage.getItem(KEY_STORE)));
        return;
      }
      $("model-tag").textContent = "Model unavailable";
      $("legend").replaceChildren(el("p", { class: "muted", text: "The label schema could not be loaded." }));
      showAlert("Could not load the model's label schema from the server.", [
        `${err.message}.`,
        "Check that the service is running, then reload the page.",
      ]);
    }
  }

  start();
})();
