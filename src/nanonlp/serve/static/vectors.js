// Word vectors page: neighbours, analogies, a 2-D projection drawn as SVG.
"use strict";

function resultRows(table, results) {
  const top = results.length ? Math.max(...results.map(r => r.score)) : 1;
  table.replaceChildren(
    NN.el("tr", {}, NN.el("th", {}, "word"), NN.el("th", {}, "score"), NN.el("th")),
    ...results.map(r => NN.el("tr", {class: "result"}, NN.el("td", {class: "word"}, r.word),
      NN.el("td", {class: "mono"}, r.score.toFixed(3)),
      NN.el("td", {class: "barcell"}, NN.bar(top > 0 ? r.score / top : 0)))));
}

async function similar() {
  const r = await NN.guarded(() => NN.api("/api/vectors/similar", {
    model: NN.$("model").value, positive: NN.$("positive").value,
    negative: NN.$("negative").value, topn: Number(NN.$("topn").value)}));
  if (r) resultRows(NN.$("similar-out"), r.results);
}

async function analogy() {
  const r = await NN.guarded(() => NN.api("/api/vectors/analogy", {
    model: NN.$("model").value, a: NN.$("a").value, b: NN.$("b").value, c: NN.$("c").value,
    method: NN.$("method").value, topn: 5}));
  if (r) resultRows(NN.$("analogy-out"), r.results);
}

async function project() {
  const r = await NN.guarded(() => NN.api("/api/vectors/project", {
    model: NN.$("model").value, words: NN.$("words").value}));
  if (!r) return;
  const ns = "http://www.w3.org/2000/svg";
  const W = 760, H = 460, pad = 40;
  const xs = r.points.map(p => p.x), ys = r.points.map(p => p.y);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const sx = x => pad + (W - 2 * pad) * (x - x0) / ((x1 - x0) || 1);
  const sy = y => H - pad - (H - 2 * pad) * (y - y0) / ((y1 - y0) || 1);
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("width", W); svg.setAttribute("height", H);
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  for (const p of r.points) {
    const c = document.createElementNS(ns, "circle");
    c.setAttribute("cx", sx(p.x)); c.setAttribute("cy", sy(p.y)); c.setAttribute("r", 4);
    c.setAttribute("fill", "#2f6fde"); c.setAttribute("class", "point");
    const t = document.createElementNS(ns, "text");
    t.setAttribute("x", sx(p.x) + 6); t.setAttribute("y", sy(p.y) - 4);
    t.setAttribute("class", "point-label");
    t.textContent = p.word;
    svg.append(c, t);
  }
  NN.$("project-out").replaceChildren(svg);
}

document.addEventListener("DOMContentLoaded", async () => {
  const models = await NN.init("vectors", "model");
  NN.$("similar-go").addEventListener("click", similar);
  NN.$("analogy-go").addEventListener("click", analogy);
  NN.$("project-go").addEventListener("click", project);
  for (const [id, go] of [["positive", similar], ["negative", similar], ["c", analogy],
                          ["words", project]]) {
    NN.$(id).addEventListener("keydown", ev => { if (ev.key === "Enter") go(); });
  }
  if (!models.length) return;
  // start from words this model has: its most frequent ones
  const r = await NN.guarded(() => NN.api("/api/vectors/words", {model: NN.$("model").value}));
  if (r && r.words.length) {
    const w = r.showcase.length >= 6 ? r.showcase : r.words.slice(0, 24);
    NN.$("positive").value = w[0];
    const trio = ["man", "king", "woman"].every(x => w.includes(x)) ? ["man", "king", "woman"]
      : w.slice(0, 3);
    [NN.$("a").value, NN.$("b").value, NN.$("c").value] = trio;
    NN.$("words").value = w.join(", ");
  }
});
