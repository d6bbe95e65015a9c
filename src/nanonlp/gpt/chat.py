"""From language model to assistant: conversations, one chat template, supervised fine-tuning
on the assistant's tokens only, and a chat that keeps its KV cache from turn to turn.

This is the supervised step of Ouyang et al. 2022 (InstructGPT) as nanochat teaches it. A
conversation is a list of messages ``{"role": "system"|"user"|"assistant", "content": ...}``
(the JSONL that OpenAI fine-tuning files and HF chat data sets use). :func:`render` turns it
into token ids with six special tokens marking where each role's turn starts and ends::

    <|system_start|>Be brief.<|system_end|><|user_start|>Hi<|user_end|>
    <|assistant_start|>Hello!<|assistant_end|>

and a mask that is 1 on the assistant's content and its end token. The fine-tuning loss is the
next-token cross-entropy at those positions only: the model learns to answer, not to predict
what users type. A template token inside a message's text is encoded as ordinary text, never
as a control token (tiktoken's rule for untrusted text), so a user cannot forge a turn.

The special tokens are added to a byte-level BPE tokenizer after its last id
(:func:`with_chat_tokens`); the model's embedding grows to match, each new row the mean of the
old ones (:func:`resize_vocab`), so a new token starts as an average token rather than noise.

An HF export (``gpt export``) carries the template as ``chat_template`` in
``tokenizer_config.json`` (:func:`write_chat_template`). Left out: reinforcement learning from
feedback, tool use, and padded batches (:func:`replies` batches only prompts of one length).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from nanonlp.bpe.formats import TOKENIZER_FILE, load_tokenizer
from nanonlp.errors import ConfigError, DataError
from nanonlp.fileio import iter_json_lines
from nanonlp.gpt.model import GPT, load_gpt
from nanonlp.gpt.sample import decoding_layout_, pick, stream_text
from nanonlp.training import TrainConfig, Trainer
from nanonlp.training.buckets import LengthOrder
from nanonlp.training.config import overrides, resume_configs
from nanonlp.training.distributed import DistInfo

ROLES = ("system", "user", "assistant")
TURN = {role: (f"<|{role}_start|>", f"<|{role}_end|>") for role in ROLES}  # role -> markers
CHAT_TOKENS = [marker for pair in TURN.values() for marker in pair]
CHAT_FILE = "chat.json"  # beside a chat model's weights: its template, so `gpt chat` knows it

#: supervised fine-tuning: a small learning rate on a pretrained model, no weight decay on
#: few examples, and an evaluation on held-out conversations every 100 steps
CHAT_TRAIN = dict(max_steps=500, batch_size=16, lr=1e-4, min_lr=1e-5, warmup_steps=20,
                  weight_decay=0.0, eval_interval=100, eval_steps=10, out="runs/gpt-chat")


# ----------------------------------------------------------------------------------------------
# conversations and the template


def check_conversation(value: Any, where: str) -> list[dict[str, str]]:
    """The messages of one JSONL record ``{"messages": [...]}``, checked: each a role in
    ``ROLES`` and a string content.

    >>> check_conversation({"messages": [{"role": "user", "content": "hi"},
    ...                                  {"role": "assistant", "content": "hello"}]}, "c:1")
    [{'role': 'user', 'content': 'hi'}, {'role': 'assistant', 'content': 'hello'}]
    """
    messages = value.get("messages") if isinstance(value, dict) else None
    if not isinstance(messages, list) or not messages:
        raise DataError(f"{where}: expected {{\"messages\": [{{\"role\", \"content\"}}, ...]}}")
    out = []
    for k, m in enumerate(messages, 1):
        if not isinstance(m, dict) or "role" not in m or "content" not in m:
            raise DataError(f"{where}: message {k} needs a \"role\" and a \"content\"")
        if m["role"] not in ROLES:
            raise DataError(f"{where}: message {k} has role {m['role']!r}; roles are "
                            f"{', '.join(ROLES)}")
        if not isinstance(m["content"], str):
            raise DataError(f"{where}: message {k}'s content is not a string")
        out.append({"role": m["role"], "content": m["content"]})
    return out


def read_conversations(path: str | os.PathLike) -> list[list[dict[str, str]]]:
    """Every conversation of a JSONL file, checked line by line; each needs an assistant turn
    (there is nothing to learn from one without)."""
    out = []
    for where, value in iter_json_lines(path):
        messages = check_conversation(value, where)
        if not any(m["role"] == "assistant" for m in messages):
            raise DataError(f"{where}: no assistant turn (nothing to learn from)")
        out.append(messages)
    if not out:
        raise DataError(f"{os.fspath(path)}: no conversations (an empty file)")
    return out


def with_chat_tokens(tok):
    """``tok`` with the chat template's six special tokens (ids after its last one); a
    tokenizer that has them already comes back as it is. Byte-level BPE only: a character
    tokenizer cannot spell the users' text."""
    from nanonlp.bpe.tokenizer import Tokenizer

    if all(t in tok.special_tokens for t in CHAT_TOKENS):
        return tok
    if not isinstance(tok, Tokenizer):
        raise ConfigError(f"chat needs a byte-level BPE tokenizer (any text can be spelled), "
                          f"this checkpoint has a {type(tok).__name__}; prepare the base "
                          "model's data with `gpt prepare --tokenizer BPE.model`")
    specials, next_id = dict(tok.special_tokens), tok.vocab_size
    for t in CHAT_TOKENS:
        if t not in specials:
            specials[t], next_id = next_id, next_id + 1
    return Tokenizer(tok.merges, tok.pattern, specials, tok.ids)


def render(tok, messages: Sequence[dict[str, str]], *, reply: bool = False
           ) -> tuple[list[int], list[int]]:
    """The ids of a conversation and the training mask (1: an assistant token the loss
    counts). ``reply`` ends with ``<|assistant_start|>``, the prompt for the next answer.

    >>> from nanonlp.bpe import Tokenizer
    >>> tok = with_chat_tokens(Tokenizer())  # bytes only, no merges
    >>> ids, mask = render(tok, [{"role": "user", "content": "hi"},
    ...                          {"role": "assistant", "content": "yo"}])
    >>> [tok.decode([i]) for i in ids]  # doctest: +NORMALIZE_WHITESPACE
    ['<|user_start|>', 'h', 'i', '<|user_end|>',
     '<|assistant_start|>', 'y', 'o', '<|assistant_end|>']
    >>> mask
    [0, 0, 0, 0, 0, 1, 1, 1]
    """
    sid = tok.special_tokens
    ids: list[int] = []
    mask: list[int] = []
    for m in messages:
        start, end = TURN[m["role"]]
        # the text is text: a "<|user_end|>" inside it is spelled out, never a control token
        body = tok.encode(m["content"], allowed_special=(), disallowed_special=())
        learn = int(m["role"] == "assistant")
        ids += [sid[start], *body, sid[end]]
        mask += [0, *[learn] * len(body), learn]  # the end token too: the model learns to stop
    if reply:
        ids.append(sid[TURN["assistant"][0]])
        mask.append(0)
    return ids, mask


def parse(tok, ids: Sequence[int]) -> list[dict[str, str]]:
    """The messages of rendered ids: :func:`render`'s inverse.

    >>> from nanonlp.bpe import Tokenizer
    >>> tok = with_chat_tokens(Tokenizer())
    >>> talk = [{"role": "user", "content": "<|user_end|> x"},
    ...         {"role": "assistant", "content": "ok"}]
    >>> parse(tok, render(tok, talk)[0]) == talk
    True
    """
    marker = {tok.special_tokens[t]: t for t in CHAT_TOKENS}
    out, role, body = [], None, []
    for i in ids:
        t = marker.get(i)
        if t is None:
            body.append(i)
        elif t.endswith("_start|>"):
            role, body = t[2:-len("_start|>")], []
        elif role is not None:
            out.append({"role": role, "content": tok.decode(body)})
            role, body = None, []
    return out


#: the same template in Jinja, for transformers' ``apply_chat_template`` (an HF export)
CHAT_TEMPLATE = ("{% for m in messages %}{{ '<|' + m['role'] + '_start|>' + m['content'] + "
                 "'<|' + m['role'] + '_end|>' }}{% endfor %}"
                 "{% if add_generation_prompt %}{{ '<|assistant_start|>' }}{% endif %}")


def write_chat_template(folder: str | os.PathLike) -> Path:
    """``tokenizer_config.json`` with :data:`CHAT_TEMPLATE`, beside an exported
    ``tokenizer.json``: transformers' ``apply_chat_template`` then renders the ids
    :func:`render` does (for text without template tokens in it: HF's tokenizer matches
    special tokens anywhere, ours never inside a message)."""
    from nanonlp.fileio import atomic_write

    path = Path(folder) / "tokenizer_config.json"
    with atomic_write(path) as f:
        json.dump({"tokenizer_class": "PreTrainedTokenizerFast", "chat_template": CHAT_TEMPLATE,
                   "eos_token": TURN["assistant"][1]}, f, indent=1)
    return path


# ----------------------------------------------------------------------------------------------
# fine-tuning


def encode_conversations(tok, conversations: Sequence[Sequence[dict[str, str]]],
                         block_size: int) -> tuple[list[tuple[list[int], list[int]]], int]:
    """``(inputs, targets)`` rows, targets -1 where the loss does not count (a next token
    that is not the assistant's); also how many conversations were dropped for being longer
    than ``block_size`` (cut, they would teach answers with their ends missing)."""
    rows, dropped = [], 0
    for messages in conversations:
        ids, mask = render(tok, messages)
        if len(ids) - 1 > block_size:
            dropped += 1
            continue
        targets = [nxt if learn else -1 for nxt, learn in zip(ids[1:], mask[1:], strict=True)]
        rows.append((ids[:-1], targets))
    return rows, dropped


class ChatData:
    """Encoded conversations per split in length-bucketed batches
    (:mod:`nanonlp.training.buckets`: neighbours in length order, so a batch pads little),
    padded to the longest of a batch with id 0 and target -1, which the loss skips.
    ``dropped`` counts, per split, the conversations longer than the block."""

    def __init__(self, splits: dict[str, list[tuple[list[int], list[int]]]], seed: int = 0):
        g = torch.Generator().manual_seed(seed)
        self.order: dict[str, LengthOrder] = {}
        for split, rows in splits.items():
            if not rows:
                raise DataError(f"{split}: no conversation fits the model's block_size")
            self.order[split] = LengthOrder([len(ids) for ids, _ in rows], g)
        self.splits = splits
        self.dropped: dict[str, int] = {}

    def batch(self, split: str, batch_size: int, generator: torch.Generator
              ) -> tuple[tuple[torch.Tensor], torch.Tensor]:
        rows = [self.splits[split][i] for i in self.order[split].draw(batch_size, generator)]
        T = max(len(ids) for ids, _ in rows)
        x = torch.zeros((len(rows), T), dtype=torch.long)  # (B, T)
        y = torch.full((len(rows), T), -1, dtype=torch.long)  # (B, T)
        for b, (ids, targets) in enumerate(rows):
            x[b, :len(ids)] = torch.tensor(ids)
            y[b, :len(targets)] = torch.tensor(targets)
        return (x,), y


@torch.no_grad()
def resize_vocab(model: GPT, vocab_size: int) -> GPT:
    """A copy of ``model`` with ``vocab_size`` token rows: the old rows kept, each new row
    the mean of the old ones (the output layer too, when it is not tied to them)."""
    old = model.config.vocab_size
    if vocab_size <= old:
        return model
    config = model.config.__class__(**{**model.config.to_dict(), "vocab_size": vocab_size})
    bigger = GPT(config)
    state = model.state_dict()
    for name, value in bigger.state_dict().items():
        mine = state[name]
        if mine.shape == value.shape:
            value.copy_(mine)
        else:  # a (vocab, C) matrix: the old rows, then their mean
            value[:old] = mine
            value[old:] = mine.mean(0, keepdim=True)
    return bigger


def make_trainer(checkpoint: str | os.PathLike, chat: str | os.PathLike,
                 dev: str | os.PathLike | None = None,
                 train: dict[str, Any] | TrainConfig | None = None, *,
                 resume: str | os.PathLike | None = None, dist: DistInfo | None = None,
                 dev_fraction: float = 0.1) -> Trainer:
    """A :class:`Trainer` fine-tuning the GPT ``checkpoint`` on the conversations of ``chat``
    (held-out ``dev``, or ``dev_fraction`` of ``chat``), the loss on assistant tokens only.
    The checkpoint's tokenizer gains the template's tokens and travels with the result."""
    from nanonlp.datasets.labelled import holdout

    convs = {"train": read_conversations(chat)}
    if dev is not None:
        convs["val"] = read_conversations(dev)
    else:
        convs["val"] = holdout(convs["train"], dev_fraction, "val")
        convs["train"] = holdout(convs["train"], dev_fraction, "train")
    if resume is not None:  # the interrupted run's recipe, not the defaults
        _, tcfg = resume_configs(resume, "gpt", overrides(train))
    else:
        tcfg = TrainConfig(**{**CHAT_TRAIN, **overrides(train)})
    tok = with_chat_tokens(load_tokenizer(checkpoint))
    model = resize_vocab(load_gpt(checkpoint), tok.vocab_size)
    splits, dropped = {}, {}
    for s, conversations in convs.items():
        splits[s], dropped[s] = encode_conversations(tok, conversations, model.config.block_size)
    data = ChatData(splits, tcfg.seed)
    data.dropped = dropped
    files = {TOKENIZER_FILE: tok.model_text().encode("utf-8"),
             CHAT_FILE: json.dumps({"template": "nanonlp-chat", "tokens": CHAT_TOKENS},
                                   indent=1).encode()}
    return Trainer(model, data, tcfg, kind="gpt", model_config=model.config.to_dict(),
                   extra_files=files, resume_from=resume, dist=dist)


# ----------------------------------------------------------------------------------------------
# chatting


@dataclass
class ChatConfig:
    system: str | None = None  # a system message that opens the conversation
    temperature: float = 0.7  # 0: greedy (always the likeliest token)
    top_k: int | None = 50  # sample among the k likeliest tokens (None: all)
    seed: int = 1337  # seeds the sampling
    max_new_tokens: int = 256  # the longest answer, in tokens

    def __post_init__(self):
        if not (math.isfinite(self.temperature) and self.temperature >= 0):
            raise ConfigError(f"temperature must be a finite number >= 0, got {self.temperature}")
        if self.top_k is not None and self.top_k < 1:
            raise ConfigError(f"top_k must be >= 1 (or None), got {self.top_k}")
        if self.max_new_tokens < 1:
            raise ConfigError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")


def load_chat(checkpoint: str | os.PathLike, device: str | torch.device = "cpu"):
    """The model and tokenizer of a checkpoint ``gpt finetune --chat`` wrote."""
    if not (Path(checkpoint) / CHAT_FILE).is_file():
        raise DataError(f"{checkpoint}: not a chat model (no {CHAT_FILE}); fine-tune one with "
                        "`nanonlp gpt finetune CKPT --chat train.jsonl`")
    tok = load_tokenizer(checkpoint)
    missing = [t for t in CHAT_TOKENS if t not in tok.special_tokens]
    if missing:
        raise DataError(f"{checkpoint}: its tokenizer lacks {missing[0]}")
    return load_gpt(checkpoint, device), tok


class Chat:
    """A conversation with a chat model. :meth:`say` streams the answer to a user message;
    the KV cache of everything said so far is kept, so each turn runs only its new tokens
    through the model (until the conversation outgrows the block, when the cache is refilled
    from its last ``block_size`` tokens)."""

    def __init__(self, model: GPT, tok, config: ChatConfig | None = None):
        self.model, self.tok, self.config = model, tok, config or ChatConfig()
        self.generator = torch.Generator().manual_seed(self.config.seed)
        self.ids: list[int] = []
        self.cache = None
        self.end = tok.special_tokens[TURN["assistant"][1]]
        model.eval()
        if next(model.parameters()).device.type == "cpu":
            decoding_layout_(model)
        if self.config.system:
            self.ids += render(tok, [{"role": "system", "content": self.config.system}])[0]

    @torch.no_grad()
    def _feed(self, new: list[int]) -> torch.Tensor:
        """Run ``new`` ids after the conversation so far; the logits of the last position."""
        block, dev = self.model.config.block_size, next(self.model.parameters()).device
        self.ids += new
        seen = 0 if self.cache is None else self.cache[0][0].shape[2]
        if self.cache is None or seen + len(new) > block:  # start, or the window slides
            logits, self.cache = self.model.forward_cached(
                torch.tensor([self.ids[-block:]], device=dev))
        else:
            logits, self.cache = self.model.forward_cached(torch.tensor([new], device=dev),
                                                           self.cache)
        return logits[0, -1].float().cpu()

    def extend(self, messages: Sequence[dict[str, str]]) -> None:
        """Put earlier turns of a conversation into the chat (and its cache) as they were
        said, e.g. to answer a conversation that a page or a script holds."""
        if messages:
            self._feed(render(self.tok, messages)[0])

    def say(self, text: str) -> Iterator[str]:
        """Stream the answer to the user message ``text``, as text pieces."""
        c = self.config
        prompt = render(self.tok, [{"role": "user", "content": text}], reply=True)[0]
        logits = self._feed(prompt)
        answer: list[int] = []

        def tokens() -> Iterator[int]:
            nonlocal logits
            for _ in range(c.max_new_tokens):
                nxt = pick(logits, c.temperature, c.top_k, None, self.generator)
                if nxt == self.end:
                    break
                answer.append(nxt)
                yield nxt
                logits = self._feed([nxt])
            self._feed([self.end])  # the turn is closed in the cache too

        yield from stream_text(self.tok, tokens())


def reply(model: GPT, tok, messages: Sequence[dict[str, str]],
          config: ChatConfig | None = None) -> str:
    """The answer to a whole conversation (its last message is the user's), for scripts."""
    chat = Chat(model, tok, dataclasses.replace(config or ChatConfig(), system=None))
    *before, last = _user_last(messages)
    chat.extend(before)
    return "".join(chat.say(last["content"]))


def replies(model: GPT, tok, conversations: Sequence[Sequence[dict[str, str]]],
            config: ChatConfig | None = None, batch_size: int = 32) -> list[str]:
    """:func:`reply` to each conversation, in order, batched: conversations whose prompts
    have the same number of tokens are run through the model together, ``batch_size`` at a
    time, with no padding, so each answer is the one :func:`reply` gives alone (each row
    samples with its own generator, seeded as :func:`reply` seeds it). A prompt too long to
    answer inside the block is answered alone (its window slides)."""
    config = dataclasses.replace(config or ChatConfig(), system=None)
    block = model.config.block_size
    prompts = []
    for messages in conversations:
        *before, last = _user_last(messages)
        prompts.append(render(tok, before)[0] + render(tok, [last], reply=True)[0])
    out: list[str | None] = [None] * len(prompts)
    same_length: dict[int, list[int]] = {}
    for i, p in enumerate(prompts):
        if len(p) + config.max_new_tokens > block:
            out[i] = reply(model, tok, conversations[i], config)
        else:
            same_length.setdefault(len(p), []).append(i)
    for rows in same_length.values():
        for k in range(0, len(rows), batch_size):
            chunk = rows[k:k + batch_size]
            for i, ids in zip(chunk, _decode_together(model, tok, [prompts[i] for i in chunk],
                                                      config)):
                out[i] = "".join(stream_text(tok, ids))
    return out


@torch.no_grad()
def _decode_together(model: GPT, tok, prompts: list[list[int]], c: ChatConfig
                     ) -> list[list[int]]:
    """The answer ids of prompts of one length, decoded in one batch with the KV cache; a
    row leaves the batch (and its cache rows) when it ends its turn."""
    model.eval()
    dev = next(model.parameters()).device
    end = tok.special_tokens[TURN["assistant"][1]]
    gens = [torch.Generator().manual_seed(c.seed) for _ in prompts]
    answers: list[list[int]] = [[] for _ in prompts]
    live = list(range(len(prompts)))  # the rows still answering, in cache order
    logits, cache = model.forward_cached(torch.tensor(prompts, device=dev))
    for step in range(c.max_new_tokens):
        last = logits[:, -1].float().cpu()
        nxt = {r: pick(last[j], c.temperature, c.top_k, None, gens[r])
               for j, r in enumerate(live)}
        keep = [j for j, r in enumerate(live) if nxt[r] != end]
        live = [live[j] for j in keep]
        if not live:
            break
        for r in live:
            answers[r].append(nxt[r])
        if step == c.max_new_tokens - 1:
            break  # (the answers are as long as they may be: no need to run their last ids)
        if len(keep) < len(nxt):
            sel = torch.tensor(keep, device=dev)
            cache = [(k.index_select(0, sel), v.index_select(0, sel)) for k, v in cache]
        logits, cache = model.forward_cached(
            torch.tensor([[nxt[r]] for r in live], device=dev), cache)
    return answers


def _user_last(messages: Sequence[dict[str, str]]) -> Sequence[dict[str, str]]:
    """``messages``, checked to end with the user's message (the one to answer)."""
    if not messages or messages[-1]["role"] != "user":
        raise DataError("the last message must be the user's (the one to answer)")
    return messages
