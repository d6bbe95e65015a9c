// nanonlp playground: what every page shares. Plain JS, no build step, no dependencies.
// Text from models and users is only ever set as textContent, never parsed as HTML.
"use strict";

const PAGES = [
  ["/bpe", "Tokenizer", "bpe"], ["/vectors", "Word vectors", "vectors"], ["/ner", "NER", "ner"],
  ["/translate", "Translation", "translate"], ["/gpt", "GPT", "gpt"], ["/chat", "Chat", "chat"],
  ["/bert", "BERT", "bert"], ["/search", "Search", "index"],
];
const PALETTE = ["#a6cee3", "#b2df8a", "#fdbf6f", "#cab2d6", "#fb9a99", "#ffff99", "#8dd3c7",
                 "#bebada", "#80b1d3", "#fccde5", "#d9d9d9", "#ccebc5"];

const NN = {
  health: null,

  // the element with this id
  $(id) { return document.getElementById(id); },

  // a new element: el("td", {class: "x"}, "text", child, ...)
  el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v; else if (k === "text") e.textContent = v;
      else e.setAttribute(k, v);
    }
    for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(c));
    return e;
  },

  // POST body as JSON (GET without one); the parsed answer, or an Error with the server's message
  async api(path, body) {
    const init = body === undefined ? {} : {
      method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)};
    this.busy++;
    try {
      const r = await fetch(path, init);
      let data;
      try { data = await r.json(); } catch (e) { data = {error: `HTTP ${r.status}`}; }
      if (!r.ok) throw new Error(data.error || `HTTP ${r.status}`);
      return data;
    } finally {
      this.busy--;
    }
  },

  // requests in flight plus renders scheduled: 0 once the page shows its latest answer
  busy: 0,

  // the page's frame: navigation, health, the model select of `kind` filled in
  async init(kind, selectId) {
    this.nav(kind);
    this.tipInit();
    try { this.health = await this.api("/api/health"); }
    catch (e) { this.error(`server not reachable: ${e.message}`); return []; }
    this.navCounts();
    const models = this.ofKind(kind);
    if (selectId) this.fillSelect(selectId, models.map(m => m.name));
    const none = this.$("none");
    if (none && !models.length && kind !== "bpe") none.classList.remove("hidden");
    return models;
  },

  nav(active) {
    const header = document.querySelector("header");
    header.append(this.el("a", {class: "brand", href: "/"}, "nanonlp playground"));
    const nav = this.el("nav");
    for (const [href, title, kind] of PAGES) {
      const a = this.el("a", {href, "data-kind": kind}, title);
      if (kind === active) a.classList.add("active");
      nav.append(a);
    }
    header.append(nav);
  },

  // the loaded models a page of `kind` offers: a chat model is a GPT with chat.json
  ofKind(kind) {
    return this.health.models.filter(m => kind === "chat" ? m.kind === "gpt" && m.chat
                                                          : m.kind === kind);
  },

  navCounts() {
    for (const a of document.querySelectorAll("header nav a")) {
      const kind = a.dataset.kind;
      const n = kind === "bpe" ? this.health.tokenizers.length : this.ofKind(kind).length;
      a.append(this.el("span", {class: "count"}, String(n)));
    }
  },

  // split a server-sent event stream (a fetch response) into {event, data} records
  async* events(response) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const {value, done} = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, {stream: true});
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        let event = "message", data = "";
        for (const line of block.split("\n")) {
          if (line.startsWith("event: ")) event = line.slice(7);
          else if (line.startsWith("data: ")) data += line.slice(6);
        }
        yield {event, data: JSON.parse(data)};
      }
    }
  },

  fillSelect(id, names) {
    const sel = this.$(id);
    sel.replaceChildren(...names.map(n => this.el("option", {value: n}, n)));
  },

  // one error line under the page title (cleared by the next success)
  error(message) {
    const box = this.$("error");
    box.textContent = message;
    box.classList.toggle("hidden", !message);
  },

  // run an async action with the error box cleared first and filled on failure
  async guarded(action) {
    this.error("");
    try { return await action(); } catch (e) { this.error(e.message); return null; }
  },

  colour(i) { return PALETTE[((i % PALETTE.length) + PALETTE.length) % PALETTE.length]; },

  // label -> colour, stable within a page
  labelColours: {},
  labelColour(label) {
    if (!(label in this.labelColours)) {
      this.labelColours[label] = this.colour(Object.keys(this.labelColours).length);
    }
    return this.labelColours[label];
  },

  // a token's text with whitespace made visible
  visible(text) {
    return text.replace(/\n/g, "\u21b5\n").replace(/\t/g, "\u2192");
  },

  // tooltip: elements carry their text in a WeakMap, shown on hover
  tips: new WeakMap(),
  tipInit() {
    const tip = this.el("div", {id: "tip", class: "hidden"});
    document.body.append(tip);
    document.addEventListener("mouseover", ev => {
      const t = ev.target.closest && ev.target.closest("[data-tip]");
      const text = t && this.tips.get(t);
      if (!text) { tip.classList.add("hidden"); return; }
      tip.textContent = text;
      tip.classList.remove("hidden");
      const r = t.getBoundingClientRect();
      tip.style.left = Math.min(r.left, window.innerWidth - 330) + "px";
      tip.style.top = (r.bottom + 6) + "px";
    });
  },
  setTip(element, text) { element.setAttribute("data-tip", ""); this.tips.set(element, text); },

  bar(fraction) {
    const b = this.el("div", {class: "bar"});
    b.style.width = (100 * Math.max(0, Math.min(1, fraction))).toFixed(1) + "%";
    return b;
  },

  // a heatmap as SVG: rows x cols weights >= 0, labels on the left and on top
  heatmap(container, rowLabels, colLabels, weights, cell = 22) {
    const ns = "http://www.w3.org/2000/svg";
    const left = 8 + 7 * Math.max(4, ...rowLabels.map(s => s.length));
    const top = 8 + 7 * Math.max(4, ...colLabels.map(s => s.length));
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("width", left + cell * colLabels.length + 10);
    svg.setAttribute("height", top + cell * rowLabels.length + 10);
    const text = (x, y, s, rotate) => {
      const t = document.createElementNS(ns, "text");
      t.setAttribute("x", x); t.setAttribute("y", y);
      if (rotate) t.setAttribute("transform", `rotate(-60 ${x} ${y})`);
      else t.setAttribute("text-anchor", "end");
      t.textContent = s;
      svg.append(t);
    };
    rowLabels.forEach((s, i) => text(left - 4, top + cell * i + cell * 0.65, s, false));
    colLabels.forEach((s, j) => text(left + cell * j + cell * 0.6, top - 4, s, true));
    // each row's strongest cell gets the full colour (a long causal row spreads thin, and
    // the first row of one is always 1); the titles keep the true weights
    const peaks = weights.map(row => Math.max(1e-9, ...row));
    weights.forEach((row, i) => row.forEach((w, j) => {
      const peak = peaks[i];
      const r = document.createElementNS(ns, "rect");
      r.setAttribute("x", left + cell * j); r.setAttribute("y", top + cell * i);
      r.setAttribute("width", cell - 1); r.setAttribute("height", cell - 1);
      const shade = Math.round(255 * (1 - Math.max(0, Math.min(1, w / peak))));
      r.setAttribute("fill", `rgb(${shade},${shade},255)`);
      r.setAttribute("class", "cell");
      const title = document.createElementNS(ns, "title");
      title.textContent = `${rowLabels[i]} -> ${colLabels[j]}: ${w.toFixed(3)}`;
      r.append(title);
      svg.append(r);
    }));
    container.replaceChildren(svg);
    return svg;
  },

  debounce(fn, ms) {
    let timer = null;
    return (...args) => {
      if (timer === null) this.busy++;
      clearTimeout(timer);
      timer = setTimeout(() => { timer = null; this.busy--; fn(...args); }, ms);
    };
  },
};
