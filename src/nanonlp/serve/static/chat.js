// Chat page: the conversation lives here, in the page; each message sends all of it to the
// server (which keeps nothing between requests) and the answer streams back as server-sent
// events. Everything typed or generated is set as textContent, never parsed as HTML.
"use strict";

let messages = [];  // {role: "user" | "assistant", content} turns said so far
let controller = null;
let conversation = 0;  // a new conversation drops what an answer still streaming would add

function bubble(role, text) {
  const b = NN.el("div", {class: `turn ${role}`}, text);
  NN.$("turns").append(b);
  b.scrollIntoView({block: "nearest"});
  return b;
}

function numberOrNull(id) {
  const v = NN.$(id).value.trim();
  return v === "" ? null : Number(v);
}

// the tokens the model reads: the rendered conversation, its template tokens outlined
function showPrompt(data) {
  const n = data.tokens.length, block = data.block_size;
  NN.$("prompt").replaceChildren(...data.tokens.map(t => {
    const s = NN.el("span", {class: t.special ? "tok special" : "tok prompt"},
                    NN.visible(t.text));
    NN.setTip(s, `token id ${t.id}${t.special ? " (template)" : ""}`);
    return s;
  }));
  NN.$("context").textContent = `${n} tokens before the answer; the model's block is ` +
    `${block}` + (n > block ? `: it reads the last ${block} of them` : "");
}

async function send() {
  const text = NN.$("message").value;
  if (!text.trim() || controller) return;
  NN.error("");
  messages.push({role: "user", content: text});
  const asked = bubble("user", text);
  NN.$("message").value = "";
  const answer = bubble("assistant", "");
  answer.classList.add("streaming");
  const system = NN.$("system").value.trim();
  const body = {model: NN.$("model").value,
                messages: [...(system ? [{role: "system", content: system}] : []), ...messages],
                max_new_tokens: Number(NN.$("max_new_tokens").value),
                temperature: Number(NN.$("temperature").value), top_k: numberOrNull("top_k"),
                seed: Number(NN.$("seed").value)};
  controller = new AbortController();
  NN.$("send").disabled = true; NN.$("stop").disabled = false;
  NN.busy++;
  const started = performance.now(), mine = conversation;
  let said = "", finished = false, stopped = false;
  try {
    const r = await fetch("/api/chat", {method: "POST", body: JSON.stringify(body),
      headers: {"Content-Type": "application/json"}, signal: controller.signal});
    if (!r.ok) {
      const e = await r.json().catch(() => ({error: `HTTP ${r.status}`}));
      throw new Error(e.error);
    }
    for await (const {event, data} of NN.events(r)) {
      if (event === "prompt") showPrompt(data);
      else if (event === "text") { said += data.text; answer.textContent = said; }
      else if (event === "error") throw new Error(data.error);
      else if (event === "done") {
        finished = true;
        const secs = (performance.now() - started) / 1000;
        NN.$("stats").textContent = `${data.n_tokens} tokens in ${secs.toFixed(2)} s ` +
          `(${(data.n_tokens / secs).toFixed(1)} tokens/s), stopped: ${data.reason}`;
      }
    }
  } catch (e) {
    stopped = e.name === "AbortError";
    if (!stopped) NN.error(e.message);
  } finally {
    answer.classList.remove("streaming");
    // an answer cut short by Stop stays part of the conversation; a failed turn is taken
    // back, its message returned to the box; a conversation cleared meanwhile gets neither
    if (mine === conversation && (finished || (stopped && said))) {
      messages.push({role: "assistant", content: said});
      const turns = NN.$("turns");
      turns.dataset.answers = String(Number(turns.dataset.answers || 0) + 1);
    } else if (mine === conversation) {
      messages.pop();
      asked.remove(); answer.remove();
      NN.$("message").value = text;
    }
    controller = null;
    NN.$("send").disabled = false; NN.$("stop").disabled = true;
    NN.busy--;
  }
}

function clear() {
  conversation++;
  if (controller) controller.abort();
  messages = [];
  NN.$("turns").replaceChildren();
  NN.$("turns").dataset.answers = "0";
  NN.$("prompt").replaceChildren();
  NN.$("context").textContent = NN.$("stats").textContent = "";
  NN.error("");
}

document.addEventListener("DOMContentLoaded", async () => {
  const models = await NN.init("chat", "model");
  if (NN.health) {  // the server's cap is the box's most, and its value when that is less
    const box = NN.$("max_new_tokens"), cap = NN.health.limits.max_new_tokens;
    box.max = cap;
    box.value = Math.min(Number(box.value), cap);
  }
  NN.$("send").disabled = !models.length;
  NN.$("send").addEventListener("click", send);
  NN.$("stop").addEventListener("click", () => controller && controller.abort());
  NN.$("clear").addEventListener("click", clear);
  NN.$("message").addEventListener("keydown", ev => {
    if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); send(); }
  });
});
