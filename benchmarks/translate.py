"""Translation benchmark: (a) the PyTorch seq2seq tutorial vs ours at the same wall-clock
budget on our eng-fra held-out split; (b) Multi30k de->en test2016 BLEU of our best config.

(a) The anchor is the architecture and recipe of the PyTorch tutorial "NLP From Scratch:
Translation with a Sequence to Sequence Network and Attention" (``EncoderRNN`` +
``BahdanauAttention`` + ``AttnDecoderRNN``, hidden 128, dropout 0.1, every sentence padded to
MAX_LENGTH = 10 with the SOS id and no masks, NLLLoss over all 10 positions, Adam 1e-3 for
encoder and decoder, batch 32, greedy decoding), written out below. Ours is the ``tutorial``
preset (bi-GRU 256, masks, label smoothing, length-bucketed batches of 64, AdamW + cosine,
best-on-val checkpoint, beam 5). Both train on the same training pairs (the tutorial filter,
French -> English) as two processes started together, each on one thread, for the same
budget, and are scored with sacreBLEU on the same held-out test sources against all of each
source's references. The tutorial builds its vocabulary from every pair and so has no
unknown word; here both vocabularies come from the training split, and the anchor maps an
unseen test word to an added UNK id (the only change to the tutorial's code).

(b) The ``multi30k`` preset trained for ``--budget-min`` minutes (the issue asks for 2 hours;
the default here is shorter), then beam 5 on test2016. The anchor figure is the published
GRU + attention result (bentrevett/pytorch-seq2seq notebook 3, 28.3 BLEU, GPU).

    python benchmarks/translate.py --budget-a-min 12 --budget-min 22 --record
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from harness import data_dir, parser, record, result

PUBLISHED_M30K = 28.3


# --------------------------------------------------------------------------------------------
# the tutorial's model, as written there (modulo names of globals)

def tutorial_modules():
    import torch
    import torch.nn.functional as F
    from torch import nn

    SOS_token, EOS_token = 0, 1

    class EncoderRNN(nn.Module):
        def __init__(self, input_size, hidden_size, dropout_p=0.1):
            super().__init__()
            self.hidden_size = hidden_size
            self.embedding = nn.Embedding(input_size, hidden_size)
            self.gru = nn.GRU(hidden_size, hidden_size, batch_first=True)
            self.dropout = nn.Dropout(dropout_p)

        def forward(self, input):
            embedded = self.dropout(self.embedding(input))
            output, hidden = self.gru(embedded)
            return output, hidden

    class BahdanauAttention(nn.Module):
        def __init__(self, hidden_size):
            super().__init__()
            self.Wa = nn.Linear(hidden_size, hidden_size)
            self.Ua = nn.Linear(hidden_size, hidden_size)
            self.Va = nn.Linear(hidden_size, 1)

        def forward(self, query, keys):
            scores = self.Va(torch.tanh(self.Wa(query) + self.Ua(keys)))
            scores = scores.squeeze(2).unsqueeze(1)
            weights = F.softmax(scores, dim=-1)
            context = torch.bmm(weights, keys)
            return context, weights

    class AttnDecoderRNN(nn.Module):
        def __init__(self, hidden_size, output_size, dropout_p=0.1, max_length=10):
            super().__init__()
            self.embedding = nn.Embedding(output_size, hidden_size)
            self.attention = BahdanauAttention(hidden_size)
            self.gru = nn.GRU(2 * hidden_size, hidden_size, batch_first=True)
            self.out = nn.Linear(hidden_size, output_size)
            self.dropout = nn.Dropout(dropout_p)
            self.max_length = max_length

        def forward(self, encoder_outputs, encoder_hidden, target_tensor=None):
            batch_size = encoder_outputs.size(0)
            decoder_input = torch.empty(batch_size, 1, dtype=torch.long).fill_(SOS_token)
            decoder_hidden = encoder_hidden
            decoder_outputs, attentions = [], []
            for i in range(self.max_length):
                decoder_output, decoder_hidden, attn_weights = self.forward_step(
                    decoder_input, decoder_hidden, encoder_outputs)
                decoder_outputs.append(decoder_output)
                attentions.append(attn_weights)
                if target_tensor is not None:
                    decoder_input = target_tensor[:, i].unsqueeze(1)  # teacher forcing
                else:
                    _, topi = decoder_output.topk(1)
                    decoder_input = topi.squeeze(-1).detach()
            decoder_outputs = torch.cat(decoder_outputs, dim=1)
            decoder_outputs = F.log_softmax(decoder_outputs, dim=-1)
            attentions = torch.cat(attentions, dim=1)
            return decoder_outputs, decoder_hidden, attentions

        def forward_step(self, input, hidden, encoder_outputs):
            embedded = self.dropout(self.embedding(input))
            query = hidden.permute(1, 0, 2)
            context, attn_weights = self.attention(query, encoder_outputs)
            input_gru = torch.cat((embedded, context), dim=2)
            output, hidden = self.gru(input_gru, hidden)
            output = self.out(output)
            return output, hidden, attn_weights

    return EncoderRNN, AttnDecoderRNN, SOS_token, EOS_token


class Lang:
    """The tutorial's ``Lang`` (SOS 0, EOS 1), plus UNK 2 for words unseen in training."""

    def __init__(self):
        self.word2index, self.index2word, self.n_words = {}, {0: "SOS", 1: "EOS", 2: "UNK"}, 3

    def add_sentence(self, sentence):
        for word in sentence.split(" "):
            if word not in self.word2index:
                self.word2index[word] = self.n_words
                self.index2word[self.n_words] = word
                self.n_words += 1


def run_anchor(train_pairs, test_sources, budget_s, seed=0):
    import numpy as np
    import torch
    from torch import nn, optim

    EncoderRNN, AttnDecoderRNN, _SOS, EOS = tutorial_modules()
    MAX_LENGTH, hidden_size, batch_size = 10, 128, 32
    torch.manual_seed(seed)
    inp, out = Lang(), Lang()
    for s, t in train_pairs:
        inp.add_sentence(s)
        out.add_sentence(t)

    def ids(lang, sentence):
        return [lang.word2index.get(w, 2) for w in sentence.split(" ")]

    n = len(train_pairs)
    input_ids = np.zeros((n, MAX_LENGTH), dtype=np.int32)
    target_ids = np.zeros((n, MAX_LENGTH), dtype=np.int32)
    for idx, (s, t) in enumerate(train_pairs):
        a, b = [*ids(inp, s), EOS], [*ids(out, t), EOS]
        input_ids[idx, :len(a)] = a
        target_ids[idx, :len(b)] = b
    data = torch.utils.data.TensorDataset(torch.LongTensor(input_ids),
                                          torch.LongTensor(target_ids))
    loader = torch.utils.data.DataLoader(data, sampler=torch.utils.data.RandomSampler(data),
                                         batch_size=batch_size)
    encoder = EncoderRNN(inp.n_words, hidden_size)
    decoder = AttnDecoderRNN(hidden_size, out.n_words, max_length=MAX_LENGTH)
    enc_opt = optim.Adam(encoder.parameters(), lr=0.001)
    dec_opt = optim.Adam(decoder.parameters(), lr=0.001)
    criterion = nn.NLLLoss()
    start, steps, epochs, loss_v = time.perf_counter(), 0, 0, float("nan")
    while time.perf_counter() - start < budget_s:
        for input_tensor, target_tensor in loader:
            enc_opt.zero_grad()
            dec_opt.zero_grad()
            encoder_outputs, encoder_hidden = encoder(input_tensor)
            decoder_outputs, _, _ = decoder(encoder_outputs, encoder_hidden, target_tensor)
            loss = criterion(decoder_outputs.view(-1, decoder_outputs.size(-1)),
                             target_tensor.view(-1))
            loss.backward()
            enc_opt.step()
            dec_opt.step()
            steps += 1
            loss_v = float(loss.detach())
            if time.perf_counter() - start >= budget_s:
                break
        epochs += 1
    train_s = time.perf_counter() - start
    encoder.eval()
    decoder.eval()
    hyps = []
    with torch.no_grad():
        for s in test_sources:
            x = torch.tensor([([*ids(inp, s), EOS])[:MAX_LENGTH]])
            eo, eh = encoder(x)
            do, _, _ = decoder(eo, eh)
            words = []
            for i in do.argmax(-1)[0].tolist():
                if i == EOS:
                    break
                words.append(out.index2word[i])
            hyps.append(" ".join(words))
    return {"hyps": hyps, "steps": steps, "epochs": epochs, "train_s": train_s,
            "final_loss": loss_v, "params": sum(p.numel() for p in encoder.parameters())
            + sum(p.numel() for p in decoder.parameters())}


def run_ours(preset, budget_s, out, split="test", beam=5, train_over=None):
    from nanonlp.seq2seq.train import configs, evaluate, make_trainer, prepare
    from nanonlp.seq2seq.translate import Translator

    dcfg, mcfg, tcfg = configs(preset=preset, train=dict(out=out, max_steps=10 ** 6, device="cpu",
                                                  **(train_over or {})))
    t0 = time.perf_counter()
    prep = prepare(dcfg, tcfg.seed)
    prep_s = time.perf_counter() - t0
    trainer = make_trainer(preset=preset, model=mcfg, train=tcfg, prepared=prep)
    start = time.perf_counter()
    last = list(trainer.run(budget_min=budget_s / 60))[-1]
    train_s = time.perf_counter() - start
    tr = Translator.load(Path(out) / "best")
    rep = evaluate(tr, prep.pairs[split], split, beam=beam)
    greedy = evaluate(tr, prep.pairs[split], split, beam=1)
    return {"bleu": rep.bleu, "chrf": rep.chrf, "bleu_greedy": greedy.bleu,
            "sentences": rep.sentences, "steps": trainer.step, "train_s": train_s,
            "prep_s": prep_s, "best_val": trainer.best_val, "final_loss": last.loss,
            "params": trainer.model.num_params(), "stats": prep.stats,
            "samples": rep.samples, "signature": rep.bleu_signature,
            "batch_size": tcfg.batch_size}


def worker(args) -> None:
    import torch

    torch.set_num_threads(args.threads)
    out = Path(args.out)
    if args.worker == "anchor":
        from nanonlp.seq2seq.config import DataConfig, presets
        from nanonlp.seq2seq.data import group_references, read_splits

        cfg = DataConfig(**presets("tutorial")["data"])
        pairs = read_splits(cfg)
        sources, refs = group_references(pairs["test"])
        res = run_anchor([tuple(p) for p in pairs["train"]], sources, args.budget_s)
        from nanonlp.seq2seq.train import score

        res["bleu"], res["chrf"], res["signature"] = score(res["hyps"], refs)
        res["sentences"] = len(sources)
        res["samples"] = [{"source": sources[i], "reference": refs[i][0],
                           "translation": res["hyps"][i]} for i in range(5)]
        del res["hyps"]
    else:
        res = run_ours(args.worker, args.budget_s, str(out / "run"))
    (out / "result.json").write_text(json.dumps(res, indent=1))


def spawn(name, budget_s, folder, threads=1):
    folder.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, __file__, "--worker", name, "--budget-s", str(budget_s),
           "--out", str(folder), "--threads", str(threads)]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    return subprocess.Popen(cmd, env=env)


def collect(proc, folder):
    if proc.wait() != 0:
        sys.exit(f"worker in {folder} failed (exit {proc.returncode})")
    return json.loads((folder / "result.json").read_text())


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--budget-a-min", type=float, default=12.0,
                   help="(a): minutes of training for the anchor and for ours (default 12)")
    p.add_argument("--budget-min", type=float, default=22.0,
                   help="(b): minutes of Multi30k training (the issue's target: 120)")
    p.add_argument("--part", choices=("a", "b", "both"), default="both")
    p.add_argument("--work", default=None, help="scratch folder (default: a temporary one)")
    p.add_argument("--a-from", default=None, metavar="DIR",
                   help="take (a) from an earlier run's --work folder instead of rerunning it")
    p.add_argument("--b-from", default=None, metavar="DIR",
                   help="take (b) from an earlier run's --work folder instead of rerunning it")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--budget-s", type=float, help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    p.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    args = p.parse_args()
    data_dir()
    if args.worker:
        worker(args)
        return
    import tempfile

    work = Path(args.work or tempfile.mkdtemp(prefix="bench_translate_"))
    a_s = 60 if args.quick else args.budget_a_min * 60
    b_s = 60 if args.quick else args.budget_min * 60
    rows, notes = [], []
    if args.part in ("a", "both"):
        # the two processes start together and share the machine's load for the same budget
        if args.a_from:
            anchor, ours = (json.loads((Path(args.a_from) / n / "result.json").read_text())
                            for n in ("anchor", "tutorial"))
            a_s = ours["train_s"]
        else:
            procs = [spawn(n, a_s, work / n) for n in ("anchor", "tutorial")]
            anchor, ours = (collect(pr, work / n) for pr, n in zip(procs, ("anchor", "tutorial")))
        case = f"eng-fra tutorial filter fr->en, test {ours['sentences']} sources, " \
               f"{a_s / 60:.0f} min each"
        rows.append(result("translate", case, "BLEU", ours["bleu"], anchor["bleu"],
                           "PyTorch tutorial seq2seq (greedy)", better="higher"))
        rows.append(result("translate", case, "chrF", ours["chrf"], anchor["chrf"],
                           "PyTorch tutorial seq2seq (greedy)", better="higher"))
        rows.append(result("translate", case, "BLEU, ours greedy", ours["bleu_greedy"],
                           anchor["bleu"], "PyTorch tutorial seq2seq (greedy)",
                           better="higher"))
        notes.append(
            f"(a) Side by side, one thread each, {a_s / 60:.0f} min of training each: anchor "
            f"{anchor['steps']:,} steps of batch 32 ({anchor['epochs']} epochs, "
            f"{anchor['params']:,} parameters, final loss {anchor['final_loss']:.3f}); ours "
            f"{ours['steps']:,} steps of batch {ours['batch_size']} ({ours['params']:,} "
            f"parameters, best val loss {ours['best_val']:.3f}). Data: "
            f"{ours['stats']['pairs']} pairs (train/val/test by hash of the normalised French "
            f"sentence, heldout 0.05, split_seed 0), vocabularies {ours['stats']['src_vocab']} "
            f"fr / {ours['stats']['tgt_vocab']} en. BLEU {ours['signature']}, multi-reference. "
            f"Target +3 BLEU: {'met' if ours['bleu'] - anchor['bleu'] >= 3 else 'NOT met'} "
            f"({ours['bleu'] - anchor['bleu']:+.1f}). Sample (ours): "
            f"{ours['samples'][0]['source']!r} -> {ours['samples'][0]['translation']!r}.")
    if args.part in ("b", "both"):
        # one thread: on a shared, overloaded machine two torch threads spin-wait on each
        # other (a 22-minute run with 2 threads managed 163 steps)
        threads = 1
        if args.b_from:
            m = json.loads((Path(args.b_from) / "multi30k" / "result.json").read_text())
        else:
            m = collect(spawn("multi30k", b_s, work / "multi30k", threads), work / "multi30k")
        case = f"multi30k de->en test2016, {m['train_s'] / 60:.0f} min CPU training"
        rows.append(result("translate", case, "BLEU", m["bleu"], PUBLISHED_M30K,
                           "published GRU+attention (bentrevett, GPU)", better="higher"))
        rows.append(result("translate", case, "train_min", m["train_s"] / 60, 120.0,
                           "the issue's 2 h budget", better="lower"))
        notes.append(
            f"(b) {threads} thread(s), {m['steps']:,} steps of batch {m['batch_size']} "
            f"({m['params']:,} parameters), best val loss {m['best_val']:.3f}; beam 5 BLEU "
            f"{m['bleu']:.2f} (greedy {m['bleu_greedy']:.2f}), chrF {m['chrf']:.1f}; "
            f"lowercased, tokenised text on both sides ({m['signature']}; our regex "
            f"tokeniser, not bentrevett's spaCy one, so the two figures are close but not "
            f"strictly comparable). Vocabularies "
            f"{m['stats']['src_vocab']} de / {m['stats']['tgt_vocab']} en (min_freq 2). "
            f"Target 25 BLEU in 2 h: {'met' if m['bleu'] >= 25 else 'not met'} within "
            f"{m['train_s'] / 60:.0f} min (run `--part b --budget-min 120` for the full "
            "budget).")
    if args.a_from or args.b_from:
        notes.append("Figures read back from the result files of earlier runs of this script "
                     "(--a-from / --b-from; (a) and (b) ran at different times, one after the "
                     "other, with the same code).")
    notes.append("Other agents' jobs shared the 2 CPU cores during these runs, so absolute "
                 "speeds are noisy; (a) is fair because both sides ran at the same time.")
    if args.record and not args.quick:
        record("translate", rows, "\n\n".join(notes))
    else:
        print("\n\n".join(notes))



if __name__ == "__main__":
    main()
