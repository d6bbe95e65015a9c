// Search page: the nearest lines of an index to a typed query, with their cosine.
"use strict";

async function search() {
  const r = await NN.guarded(() => NN.api("/api/search", {
    model: NN.$("model").value, query: NN.$("query").value, top_k: Number(NN.$("k").value)}));
  if (!r) { NN.$("out").replaceChildren(); return; }  // no rows of an earlier query
  NN.$("out").replaceChildren(
    NN.el("tr", {}, NN.el("th", {}, "line"), NN.el("th", {}, "text"),
          NN.el("th", {}, "cosine"), NN.el("th")),
    ...r.results.map(x => NN.el("tr", {class: "hit"},
      NN.el("td", {class: "mono"}, String(x.line)), NN.el("td", {class: "hit-text"}, x.text),
      NN.el("td", {class: "mono hit-cosine"}, x.cosine.toFixed(4)),
      NN.el("td", {class: "barcell"}, NN.bar(x.cosine)))));
}

function describe(models) {
  const m = models.find(x => x.name === NN.$("model").value);
  NN.$("about").textContent = m ? `${m.lines.toLocaleString()} lines, ${m.dim} wide, `
    + `${m.pooling} pooling, embedded by ${m.checkpoint}` : "";
}

document.addEventListener("DOMContentLoaded", async () => {
  const models = await NN.init("index", "model");
  NN.$("go").addEventListener("click", search);
  NN.$("query").addEventListener("keydown", ev => { if (ev.key === "Enter") search(); });
  NN.$("model").addEventListener("change", () => describe(models));
  const most = NN.health ? NN.health.limits.max_top_k : 50;
  NN.$("k").max = most;
  NN.$("k").value = Math.min(10, most);
  describe(models);
});
