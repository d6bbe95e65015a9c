// GPT page: a generation streamed over server-sent events (read from fetch, so the request
// can be a POST with a JSON body), each token's probability on hover, and attention.
"use strict";

let controller = null;
let tokens = [];  // {id, text, prompt: bool, el} for the prompt and every generated token
let selected = null;

function tip(t) {
  const alts = t.alternatives.map(a => `  ${JSON.stringify(a.text).padEnd(12)} ${a.p.toFixed(3)}`);
  return `token ${JSON.stringify(t.token)} (id ${t.id})\np ${t.p.toFixed(4)} under the model\n` +
         `p ${t.p_sampled.toFixed(4)} as sampled\nmost likely:\n${alts.join("\n")}`;
}

function addToken(t, prompt) {
  const s = NN.el("span", {class: prompt ? "tok prompt" : "tok gen", "data-id": String(t.id)},
                  NN.visible(prompt ? t.text : t.token));
  if (!prompt) {
    // lighter = less likely under the model
    const a = 0.15 + 0.6 * t.p;
    s.style.background = `rgba(47, 111, 222, ${a.toFixed(2)})`;
    NN.setTip(s, tip(t));
  } else {
    NN.setTip(s, `prompt token id ${t.id}`);
  }
  NN.$("out").append(s);
  tokens.push({id: t.id, text: prompt ? t.text : t.token, prompt, el: s});
}

function numberOrNull(id) {
  const v = NN.$(id).value.trim();
  return v === "" ? null : Number(v);
}

async function generate() {
  NN.error("");
  tokens = []; selected = null;
  NN.$("out").replaceChildren();
  NN.$("stats").textContent = "";
  const body = {model: NN.$("model").value, prompt: NN.$("prompt").value,
                max_new_tokens: Number(NN.$("max_new_tokens").value),
                temperature: Number(NN.$("temperature").value), top_k: numberOrNull("top_k"),
                top_p: numberOrNull("top_p"), seed: Number(NN.$("seed").value)};
  controller = new AbortController();
  NN.$("go").disabled = true; NN.$("stop").disabled = false;
  const started = performance.now();
  let n = 0;
  try {
    const r = await fetch("/api/gpt/generate", {method: "POST", body: JSON.stringify(body),
      headers: {"Content-Type": "application/json"}, signal: controller.signal});
    if (!r.ok) {
      const e = await r.json().catch(() => ({error: `HTTP ${r.status}`}));
      throw new Error(e.error);
    }
    for await (const {event, data} of NN.events(r)) {
      if (event === "prompt") data.tokens.forEach(t => addToken(t, true));
      else if (event === "token") { addToken(data, false); n++; }
      else if (event === "error") throw new Error(data.error);
      else if (event === "done") {
        const secs = (performance.now() - started) / 1000;
        NN.$("stats").textContent = `${data.n_tokens} tokens in ${secs.toFixed(2)} s ` +
          `(${(data.n_tokens / secs).toFixed(1)} tokens/s), stopped: ${data.reason}`;
        NN.$("out").dataset.done = "1";
      }
      NN.$("stats").dataset.count = String(n);
    }
  } catch (e) {
    if (e.name !== "AbortError") NN.error(e.message);
  } finally {
    NN.$("go").disabled = false; NN.$("stop").disabled = true;
  }
  if (tokens.length) attention();
}

async function attention() {
  if (!tokens.length) return;
  const head = NN.$("head").value;
  const r = await NN.guarded(() => NN.api("/api/gpt/attention", {
    model: NN.$("model").value, ids: tokens.map(t => t.id), layer: Number(NN.$("layer").value),
    head: head === "mean" ? null : Number(head)}));
  if (!r) return;
  const strip = NN.$("attn-strip");
  const spans = r.tokens.map((t, i) => {
    const s = NN.el("span", {class: "tok attn-tok"}, NN.visible(t.text));
    s.addEventListener("click", () => shade(r, spans, i));
    return s;
  });
  strip.replaceChildren(...spans);
  shade(r, spans, selected === null || selected >= spans.length ? spans.length - 1 : selected);
  const labels = r.tokens.map(t => JSON.stringify(t.text).slice(1, -1).slice(0, 8));
  const from = Math.max(0, labels.length - 48);  // the map of the last 48 tokens stays readable
  NN.heatmap(NN.$("attn-map"), labels.slice(from), labels.slice(from),
             r.weights.slice(from).map(row => row.slice(from)), 16);
}

function shade(r, spans, i) {
  selected = i;
  const row = r.weights[i];
  const top = Math.max(1e-9, ...row);  // the most attended token in full colour
  spans.forEach((s, j) => {
    s.classList.toggle("selected", j === i);
    s.style.background = `rgba(214, 69, 65, ${(j <= i ? row[j] / top : 0).toFixed(3)})`;
    NN.setTip(s, j <= i ? `attention from token ${i}: ${row[j].toFixed(4)}` : "after the token");
  });
}

document.addEventListener("DOMContentLoaded", async () => {
  const models = await NN.init("gpt", "model");
  const fillShape = () => {
    const m = models.find(x => x.name === NN.$("model").value);
    if (!m) return;
    NN.fillSelect("layer", [...Array(m.n_layer).keys()].map(String));
    NN.fillSelect("head", ["mean", ...[...Array(m.n_head).keys()].map(String)]);
    NN.$("max_new_tokens").max = NN.health.limits.max_new_tokens;
  };
  fillShape();
  NN.$("model").addEventListener("change", fillShape);
  NN.$("go").addEventListener("click", generate);
  NN.$("stop").addEventListener("click", () => controller && controller.abort());
  NN.$("attn-go").addEventListener("click", attention);
  NN.$("layer").addEventListener("change", attention);
  NN.$("head").addEventListener("change", attention);
});
