// BERT page: fill-mask, and a fine-tuned classifier's label or tags when one is loaded.
"use strict";

async function fill() {
  const r = await NN.guarded(() => NN.api("/api/bert/fill", {
    model: NN.$("fill-model").value, text: NN.$("fill-text").value,
    top_k: Number(NN.$("fill-k").value)}));
  if (!r) return;
  NN.$("fill-out").replaceChildren(...r.masks.map((fills, m) => NN.el("div", {class: "mask"},
    NN.el("h2", {}, `[MASK] ${m + 1}`),
    NN.el("table", {class: "results"}, ...fills.map(f => NN.el("tr", {class: "fill"},
      NN.el("td", {class: "mono fill-token"}, JSON.stringify(f.token)),
      NN.el("td", {class: "mono"}, f.p.toFixed(3)),
      NN.el("td", {class: "barcell"}, NN.bar(f.p))))))));
}

async function classify() {
  const r = await NN.guarded(() => NN.api("/api/bert/classify", {
    model: NN.$("classify-model").value, text: NN.$("classify-text").value}));
  if (!r) return;
  NN.$("classify-out").replaceChildren(...r.probabilities.map(p => NN.el("tr",
    {class: p.label === r.label ? "chosen label" : "label"}, NN.el("td", {}, p.label),
    NN.el("td", {class: "mono"}, p.p.toFixed(3)), NN.el("td", {class: "barcell"}, NN.bar(p.p)))));
}

async function tag() {
  const r = await NN.guarded(() => NN.api("/api/bert/tag", {
    model: NN.$("tag-model").value, text: NN.$("tag-text").value}));
  if (!r) return;
  const parts = [];
  for (const w of r.words) {
    if (w.tag === "O") { parts.push(w.word + " "); continue; }
    const mark = NN.el("mark", {class: "ent"}, w.word, NN.el("span", {class: "label"}, w.tag));
    mark.style.background = NN.labelColour(w.tag.replace(/^[BI]-/, ""));
    parts.push(mark, " ");
  }
  NN.$("tag-out").replaceChildren(...parts);
}

document.addEventListener("DOMContentLoaded", async () => {
  const models = await NN.init("bert");
  const of = task => models.filter(m => m.task === task).map(m => m.name);
  for (const [task, card, select] of [["mlm", "fill-card", "fill-model"],
      ["sequence", "classify-card", "classify-model"], ["token", "tag-card", "tag-model"]]) {
    NN.fillSelect(select, of(task));
    NN.$(card).classList.toggle("hidden", !of(task).length);
  }
  if (!models.length) NN.$("fill-card").classList.add("hidden");
  NN.$("fill-go").addEventListener("click", fill);
  NN.$("classify-go").addEventListener("click", classify);
  NN.$("tag-go").addEventListener("click", tag);
  if (of("mlm").length) fill();
});
