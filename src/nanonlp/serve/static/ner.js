// NER page: entity spans coloured by type (displaCy style) and a table of the spans.
"use strict";

async function tag() {
  const text = NN.$("text").value;
  const r = await NN.guarded(() => NN.api("/api/ner/tag", {model: NN.$("model").value, text}));
  if (!r) return;
  for (const label of r.labels) NN.labelColour(label);
  const parts = [];
  let at = 0;
  for (const e of r.entities) {
    if (e.start > at) parts.push(document.createTextNode(text.slice(at, e.start)));
    const mark = NN.el("mark", {class: "ent", "data-label": e.label}, text.slice(e.start, e.end),
                       NN.el("span", {class: "label"}, e.label));
    mark.style.background = NN.labelColour(e.label);
    parts.push(mark);
    at = e.end;
  }
  if (at < text.length) parts.push(document.createTextNode(text.slice(at)));
  NN.$("ents").replaceChildren(...parts);
  NN.$("spans").replaceChildren(
    NN.el("tr", {}, ...["start", "end", "label", "text"].map(h => NN.el("th", {}, h))),
    ...r.entities.map(e => NN.el("tr", {class: "span"}, NN.el("td", {}, String(e.start)),
      NN.el("td", {}, String(e.end)), NN.el("td", {}, e.label), NN.el("td", {}, e.text))));
  const legend = Object.keys(NN.labelColours).map(label => {
    const s = NN.el("span", {}, label);
    s.style.background = NN.labelColour(label);
    return s;
  });
  NN.$("legend").replaceChildren(...legend);
}

document.addEventListener("DOMContentLoaded", async () => {
  const models = await NN.init("ner", "model");
  NN.$("go").addEventListener("click", tag);
  if (models.length) tag();
});
