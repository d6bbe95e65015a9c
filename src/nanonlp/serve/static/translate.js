// Translation page: beam hypotheses with scores; the chosen one's attention as a heatmap.
"use strict";

let hyps = [];

function choose(i) {
  for (const [j, row] of [...NN.$("hyps").querySelectorAll("tr.hyp")].entries()) {
    row.classList.toggle("chosen", i === j);
  }
  const h = hyps[i];
  NN.heatmap(NN.$("heatmap"), h.target_pieces, h.source_pieces, h.attention);
}

async function translate() {
  const r = await NN.guarded(() => NN.api("/api/translate", {
    model: NN.$("model").value, text: NN.$("text").value, beam: Number(NN.$("beam").value),
    alpha: Number(NN.$("alpha").value)}));
  if (!r) return;
  hyps = r.hypotheses;
  NN.$("hyps").replaceChildren(
    NN.el("tr", {}, ...["#", "translation", "log p", "normalised"].map(h => NN.el("th", {}, h))),
    ...hyps.map((h, i) => {
      const row = NN.el("tr", {class: "hyp clickable"}, NN.el("td", {}, String(i + 1)),
        NN.el("td", {class: "hyp-text"}, h.text), NN.el("td", {class: "mono"}, h.score.toFixed(3)),
        NN.el("td", {class: "mono"}, h.norm_score === null ? "-" : h.norm_score.toFixed(3)));
      row.addEventListener("click", () => choose(i));
      return row;
    }));
  if (hyps.length) choose(0);
}

document.addEventListener("DOMContentLoaded", async () => {
  const models = await NN.init("translate", "model");
  NN.$("go").addEventListener("click", translate);
  NN.$("text").addEventListener("keydown", ev => { if (ev.key === "Enter") translate(); });
  if (models.length) translate();
});
