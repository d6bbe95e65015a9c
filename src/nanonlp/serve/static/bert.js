// BERT page: fill-mask, a fine-tuned classifier's label or tags, and a sentence encoder's
// similarity of two texts, each when a model that answers it is loaded.
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

async function similarity() {
  const r = await NN.guarded(() => NN.api("/api/bert/similarity", {
    model: NN.$("sim-model").value, a: NN.$("sim-a").value, b: NN.$("sim-b").value}));
  if (!r) return;
  NN.$("sim-out").replaceChildren("cosine ", NN.el("b", {id: "sim-cosine"}, r.cosine.toFixed(4)),
    ` (${r.pooling} pooling)`);
}

document.addEventListener("DOMContentLoaded", async () => {
  const models = await NN.init("bert");
  // a sentence-transformers folder has no trained MLM head: its fills would be noise
  const headless = models.filter(m => m.embedding && !m.embedding.mlm_head).map(m => m.name);
  const of = task => models.filter(m => task === "similarity" ? m.embedding
    : m.task === task && !headless.includes(m.name)).map(m => m.name);
  if (headless.length) {
    NN.$("nohead").textContent = `Fill-mask needs a masked-LM head, which ${headless.join(", ")} `
      + `${headless.length > 1 ? "lack" : "lacks"}: a sentence-transformers folder holds the `
      + "encoder only, so it offers similarity, not fill-mask.";
    NN.$("nohead").classList.remove("hidden");
  }
  for (const [task, card, select] of [["mlm", "fill-card", "fill-model"],
      ["sequence", "classify-card", "classify-model"], ["token", "tag-card", "tag-model"],
      ["similarity", "similarity-card", "sim-model"]]) {
    NN.fillSelect(select, of(task));
    NN.$(card).classList.toggle("hidden", !of(task).length);
  }
  if (!models.length) NN.$("fill-card").classList.add("hidden");
  NN.$("fill-go").addEventListener("click", fill);
  NN.$("classify-go").addEventListener("click", classify);
  NN.$("tag-go").addEventListener("click", tag);
  NN.$("sim-go").addEventListener("click", similarity);
  if (of("mlm").length) fill();
});
