"""The chat endpoint: the answer to a conversation, streamed as server-sent events.

The server keeps no conversation: the page sends every message of it with each turn, and the
request renders them with the chat template and streams the reply of a fresh
:class:`~nanonlp.gpt.chat.Chat` seeded from the request, as :func:`nanonlp.gpt.chat.reply`
computes it (the test checks they are equal). A turn therefore re-reads the whole conversation
(capped: ``MAX_MESSAGES`` messages, ``max_text_chars`` characters in all) instead of
keeping a KV cache between requests; what that costs is one prompt's forward pass, and what it
buys is that concurrent chats, or two tabs of one, share nothing.

A chat model is a GPT checkpoint with ``chat.json`` (``gpt finetune --chat`` writes it); the
registry lists it among the GPTs with ``chat: true``, so the GPT page samples it and shows its
attention, and this page talks to it.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator, Sequence
from typing import Any

from starlette.routing import Route

from nanonlp.gpt.chat import Chat, ChatConfig, check_conversation, render
from nanonlp.gpt.model import GPT
from nanonlp.serve.api import ApiError, Streams, endpoint, float_field, int_field, run_limited
from nanonlp.serve.bpe import describe
from nanonlp.serve.config import ServeConfig
from nanonlp.serve.models import Loaded, Models, NotLoaded

MAX_MESSAGES = 64  # messages one request may send (the page's whole conversation)


class ReadOnly:
    """The shared model as a :class:`~nanonlp.gpt.chat.Chat` sees it: calls go through, the
    two writes a new Chat makes do not (``eval()``, and the decoding layout, which
    :func:`~nanonlp.serve.models.load` applied once at start)."""

    def __init__(self, model: GPT):
        self.model, self.config = model, model.config

    def eval(self) -> ReadOnly:
        return self

    def modules(self):
        return iter(())  # decoding_layout_ finds nothing to lay out: it was done at load

    def parameters(self):
        return self.model.parameters()

    def forward_cached(self, idx, cache=None):
        return self.model.forward_cached(idx, cache)


def chat_model(models: Models, body: dict) -> Loaded:
    """The chat model the body's ``model`` names (the first chat model when absent); a GPT
    without ``chat.json`` is refused by name (404)."""
    name = body.get("model")
    if name is not None and not isinstance(name, str):
        raise ApiError(400, f"'model' must be a string, got {type(name).__name__}")
    if name:
        entry = models.get("gpt", name)
        if not entry.info.get("chat"):
            raise NotLoaded(f"GPT {name!r} is not a chat model (no chat.json); fine-tune one "
                            "with `nanonlp gpt finetune CKPT --chat train.jsonl`")
        return entry
    for entry in models.by_kind["gpt"].values():
        if entry.info.get("chat"):
            return entry
    raise NotLoaded("no chat model is loaded (start the server with --gpt CKPT, a checkpoint "
                    "of `nanonlp gpt finetune --chat`, or a runs folder that holds one)")


def messages_field(body: dict, max_chars: int) -> list[dict[str, str]]:
    """The conversation to answer: checked as ``gpt chat --jsonl`` checks a line, at most
    ``MAX_MESSAGES`` messages and ``max_chars`` characters of content in all, the last
    message the user's and not blank.

    >>> messages_field({"messages": [{"role": "user", "content": "hi"}]}, 10)
    [{'role': 'user', 'content': 'hi'}]
    >>> messages_field({"messages": [{"role": "user", "content": "hi"}] * 2}, 3)
    Traceback (most recent call last):
    nanonlp.serve.api.ApiError: the messages hold 4 characters, over the limit of 3
    """
    value = body.get("messages")
    if isinstance(value, list) and len(value) > MAX_MESSAGES:
        raise ApiError(413, f"{len(value)} messages, over the limit of {MAX_MESSAGES} "
                            "(start a new conversation)")
    messages = check_conversation({"messages": value}, "'messages'")
    chars = sum(len(m["content"]) for m in messages)
    if chars > max_chars:
        raise ApiError(413, f"the messages hold {chars:,} characters, over the limit of "
                            f"{max_chars:,}")
    if messages[-1]["role"] != "user":
        raise ApiError(400, "the last message must be the user's (the one to answer), got "
                            f"{messages[-1]['role']!r}")
    if not messages[-1]["content"].strip():
        raise ApiError(400, "the last message is empty: say something")
    return messages


def stream_reply(model: GPT, tok, messages: Sequence[dict[str, str]], config: ChatConfig,
                 deadline: float) -> Iterator[dict[str, Any]]:
    """The records of one answer: ``prompt`` (the rendered conversation's tokens, which the
    model reads), ``text`` pieces as :meth:`Chat.say` streams them, then ``done`` (why it
    stopped: ``stop`` at ``<|assistant_end|>``, ``length`` or ``time``, and how many tokens).
    The tokens are :func:`nanonlp.gpt.chat.reply`'s: the earlier turns are fed first, then
    the last user message is said."""
    *before, last = messages
    chat = Chat(ReadOnly(model), tok, dataclasses.replace(config, system=None))
    history = render(tok, before)[0]
    prompt = history + render(tok, [last], reply=True)[0]
    yield {"event": "prompt", "tokens": describe(tok, prompt),
           "block_size": model.config.block_size}
    chat.extend(before)  # the earlier turns, as reply() feeds them
    for piece in chat.say(last["content"]):
        yield {"event": "text", "text": piece}
        if time.monotonic() > deadline:
            break
    # chat.ids is the prompt, then each answer token once the next one was asked for, then
    # <|assistant_end|> once the turn is closed (a generated token is never that one)
    grown = len(chat.ids) - len(prompt)
    if grown > 0 and chat.ids[-1] == chat.end:  # the answer ended on its own
        n = grown - 1
        reason = "length" if n >= config.max_new_tokens else "stop"
    else:  # cut at the time limit, at a piece whose token was yielded but not yet fed
        n, reason = grown + 1, "time"
    yield {"event": "done", "reason": reason, "n_tokens": n}


def routes(models: Models, config: ServeConfig, streams: Streams | None = None
           ) -> list[Route]:
    streams = streams or Streams(config.max_streams)

    @endpoint(config)
    async def api_chat(request, body):
        entry = chat_model(models, body)
        messages = messages_field(body, config.max_text_chars)
        settings = ChatConfig(
            temperature=float_field(body, "temperature", ChatConfig.temperature, 0.0, 5.0),
            top_k=int_field(body, "top_k", ChatConfig.top_k, 1, entry.obj.config.vocab_size,
                            optional=True),
            seed=int_field(body, "seed", ChatConfig.seed, 0, 2 ** 63 - 1),
            max_new_tokens=int_field(body, "max_new_tokens",
                                     min(ChatConfig.max_new_tokens, config.max_new_tokens), 1,
                                     config.max_new_tokens))
        streams.check()
        deadline = time.monotonic() + config.request_timeout_s
        events = stream_reply(entry.obj, entry.tokenizer, messages, settings, deadline)
        first = await run_limited(lambda: next(events), config.request_timeout_s)
        return streams.response("/api/chat", first, events)

    return [Route("/api/chat", api_chat, methods=["POST"])]
