"""``nanonlp gpt finetune|chat``: a GPT fine-tuned on conversations, and a chat with it."""

from __future__ import annotations

import argparse
import io
import json
import os
import select
import sys
from collections.abc import Iterator

from nanonlp.cli.common import Command, add_train_flags, prefixed, say
from nanonlp.cliargs import add_config_args, config_from_args
from nanonlp.errors import DataError
from nanonlp.gpt import chat as C
from nanonlp.training import TrainConfig
from nanonlp.training.device import pick_device
from nanonlp.training.distributed import session
from nanonlp.training.driver import fit


def _finetune_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="the GPT to start from (OUT/best of `gpt train`, or a "
                                      "`gpt import`ed GPT-2); its tokenizer must be BPE")
    p.add_argument("--chat", required=True, metavar="FILE",
                   help="conversations, one JSON object per line: {\"messages\": [{\"role\": "
                        "\"system\"|\"user\"|\"assistant\", \"content\": \"...\"}, ...]}")
    p.add_argument("--dev", metavar="FILE", help="held-out conversations (default: 10%% of "
                                                 "--chat, the same ones every run)")
    add_train_flags(p, "gpt finetune")
    add_config_args(p, TrainConfig, prefix="train", defaults=C.CHAT_TRAIN)


def _finetune(args: argparse.Namespace) -> None:
    train = prefixed(args, "train")
    with session(train.get("device", "auto")) as dist:
        trainer = C.make_trainer(args.checkpoint, args.chat, args.dev, train,
                                 resume=args.resume, dist=dist)
        if dist.is_main:
            for split, n in trainer.data.dropped.items():
                if n:
                    say(f"{n:,} {split} conversation(s) longer than the block "
                        f"({trainer.model.config.block_size} tokens) left out")
        result = fit(trainer, "gpt finetune (chat)", budget_min=args.budget_min,
                     info={"checkpoint": args.checkpoint, "chat": args.chat, "dev": args.dev})
        if dist.is_main:
            say(result.summary())
            say(f"chat with it: nanonlp gpt chat {result.out / 'best'}")


def _chat_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="a chat model (OUT/best of `gpt finetune --chat`)")
    p.add_argument("--jsonl", action="store_true",
                   help="read one whole conversation per stdin line ({\"messages\": [...]}, the "
                        "last message the user's), answer each on its own, print one "
                        "{\"reply\": \"...\"} line per input, in order")
    p.add_argument("--device", default="cpu", help="cpu, cuda, mps or auto")
    add_config_args(p, C.ChatConfig)


JSONL_BATCH = 32  # conversations answered together at most (C.replies batches equal lengths)


def arrived_lines(stream, most: int) -> Iterator[list[str]]:
    """The lines of a text stream in batches of at most ``most``: each batch is the lines that
    have arrived (at least one), so a file is answered ``most`` lines at a time, and a script
    that writes one line and waits for its answer gets it. Lines keep no newline.

    >>> list(arrived_lines(io.StringIO("a\\nb\\nc"), 2))
    [['a', 'b'], ['c']]
    """
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, io.UnsupportedOperation):
        fd = None
    if fd is None:  # an in-memory stream: all of it has arrived
        lines = stream.read().splitlines()
        for i in range(0, len(lines), most):
            yield lines[i:i + most]
        return
    # read the descriptor itself: what the text wrapper buffers, select() cannot see
    buf, eof, n = b"", False, 0
    while True:
        # wait for one whole line, then take whatever else has already arrived
        while not eof and (b"\n" not in buf or (buf.count(b"\n") < most
                                                 and select.select([fd], [], [], 0)[0])):
            data = os.read(fd, 1 << 16)
            eof = not data
            buf += data
        lines = buf.split(b"\n")
        buf = lines.pop()  # a line not ended yet (at the end of the input, the last line)
        if eof and buf:
            lines.append(buf)
        texts = []
        for line in lines:
            n += 1
            try:
                texts.append(line.decode("utf-8").removesuffix("\r"))
            except UnicodeDecodeError:
                raise DataError(f"<stdin>:{n}: not UTF-8 text") from None
        for i in range(0, len(texts), most):
            yield texts[i:i + most]
        if eof:
            return


def _chat(args: argparse.Namespace) -> None:
    cfg = config_from_args(args, C.ChatConfig)
    model, tok = C.load_chat(args.checkpoint, pick_device(args.device))
    if args.jsonl:
        n = 0
        for lines in arrived_lines(sys.stdin, JSONL_BATCH):
            batch, bad = [], None
            for line in lines:
                n += 1
                try:
                    if line.strip():
                        messages = C.check_conversation(json.loads(line), f"<stdin>:{n}")
                        if messages[-1]["role"] != "user":
                            raise DataError(f"<stdin>:{n}: the last message must be the "
                                            "user's (the one to answer)")
                        batch.append(messages)
                except json.JSONDecodeError as e:
                    bad = DataError(f"<stdin>:{n}: not valid JSON ({e.msg})")
                except DataError as e:
                    bad = e
                if bad is not None:
                    break
            # the lines before a bad one are answered first
            for answer in C.replies(model, tok, batch, cfg):
                say(json.dumps({"reply": answer}, ensure_ascii=False))
            if bad is not None:
                raise bad
        return
    talk = C.Chat(model, tok, cfg)
    interactive = sys.stdin.isatty()
    while True:
        if interactive:
            sys.stdout.write("you> ")
            sys.stdout.flush()
        line = sys.stdin.readline()
        if not line:  # end of input (Ctrl-D)
            return
        if not line.strip():
            continue
        sys.stdout.write("assistant> " if interactive else "")
        for piece in talk.say(line.rstrip("\n")):
            sys.stdout.write(piece)
            sys.stdout.flush()
        sys.stdout.write("\n")


COMMANDS: list[Command] = [
    Command(("gpt", "finetune"), "fine-tune a GPT on conversations (a chat assistant)",
            _finetune, _finetune_args,
            "Supervised fine-tuning: each conversation is rendered with one chat template "
            "(<|system_start|> ... <|assistant_end|>, special tokens added to the checkpoint's "
            "BPE tokenizer, new embedding rows the mean of the old), and the loss counts the "
            "assistant's tokens only. A conversation longer than the block is left out and "
            "counted. Writes what every trainer writes (OUT/best, OUT/last, metrics.jsonl, "
            "loss.png); multi-process: torchrun --nproc_per_node N -m nanonlp gpt finetune ..."),
    Command(("gpt", "chat"), "chat with a fine-tuned GPT (streamed; or --jsonl for scripts)",
            _chat, _chat_args,
            "A multi-turn chat on stdin/stdout: each line you type is a user message; the "
            "answer streams as it is generated, and the KV cache of the conversation is kept "
            "from turn to turn. --temperature 0 is greedy. A template token typed as text "
            "stays text."),
]
