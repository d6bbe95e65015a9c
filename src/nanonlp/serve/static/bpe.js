// Tokenizer page: the same text through two tokenizers, side by side.
"use strict";

async function render(panel) {
  const name = NN.$(`tok-${panel}`).value;
  const box = NN.$(`tokens-${panel}`);
  if (!name) { box.replaceChildren(); return; }
  const body = {model: name, text: NN.$("text").value, allow_special: NN.$("special").checked};
  const r = await NN.guarded(() => NN.api("/api/bpe/tokenize", body));
  if (!r) return;
  const spans = r.tokens.map((t, i) => {
    const s = NN.el("span", {class: "tok", "data-id": String(t.id)}, NN.visible(t.text));
    s.style.background = NN.colour(i);
    if (t.special) s.classList.add("special");
    NN.setTip(s, `id ${t.id}${t.special ? "  (special)" : ""}\nbytes ${t.bytes}\n` +
                 `text ${JSON.stringify(t.text)}`);
    return s;
  });
  box.replaceChildren(...spans);
  NN.$(`stats-${panel}`).replaceChildren(
    NN.el("b", {}, String(r.n_tokens)), " tokens, ", NN.el("b", {}, String(r.n_chars)),
    " characters, ", NN.el("b", {}, String(r.n_bytes)), " bytes",
    r.bytes_per_token ? `, ${r.bytes_per_token} bytes/token` : "");
  NN.$(`ids-${panel}`).textContent = JSON.stringify(r.ids);
}

const renderBoth = () => { render(0); render(1); };

document.addEventListener("DOMContentLoaded", async () => {
  await NN.init("bpe");
  if (!NN.health) return;
  const names = NN.health.tokenizers;
  if (!names.length) { NN.$("none").classList.remove("hidden"); return; }
  NN.fillSelect("tok-0", names);
  NN.fillSelect("tok-1", names);
  NN.$("tok-1").value = names[Math.min(1, names.length - 1)];
  NN.$("text").addEventListener("input", NN.debounce(renderBoth, 120));
  NN.$("special").addEventListener("change", renderBoth);
  NN.$("tok-0").addEventListener("change", () => render(0));
  NN.$("tok-1").addEventListener("change", () => render(1));
  renderBoth();
});
