// Home page: one card per part, with the models loaded for it.
"use strict";

const ABOUT = {
  bpe: "Typed text as coloured tokens with ids and bytes, two tokenizers side by side.",
  vectors: "Nearest neighbours, analogies and a 2-D projection of chosen words.",
  ner: "Entity spans coloured by type, displaCy style, and a table of the spans.",
  translate: "Beam hypotheses with their scores and the attention of the chosen one.",
  gpt: "Generation streamed token by token, each token's probability and alternatives, "
       + "attention by layer and head.",
  chat: "A conversation with a GPT fine-tuned to chat, streamed turn by turn, and the chat "
        + "template's tokens it reads.",
  bert: "Fill-mask with probabilities; a fine-tuned classifier's label or tags; the "
        + "similarity of two texts by a sentence encoder.",
  index: "The lines of an index nearest to a query by meaning, with their cosine.",
};

document.addEventListener("DOMContentLoaded", async () => {
  await NN.init(null);
  if (!NN.health) return;
  const cards = PAGES.map(([href, title, kind]) => {
    const names = kind === "bpe" ? NN.health.tokenizers
      : NN.ofKind(kind).map(m => m.name);
    return NN.el("div", {class: "card part", "data-kind": kind},
      NN.el("h2", {}, title), NN.el("div", {}, ABOUT[kind]),
      names.length ? NN.el("ul", {class: "models"}, ...names.map(n => NN.el("li", {}, n)))
        : NN.el("p", {class: "models"}, "nothing loaded for this part"),
      NN.el("a", {class: "open", href}, names.length ? "open \u2192" : "see the page \u2192"));
  });
  NN.$("parts").replaceChildren(...cards);
});
