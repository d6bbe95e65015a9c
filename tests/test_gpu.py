"""The CUDA paths: the same model gives the same answers on the GPU as on the CPU, mixed-precision
training learns, and a checkpoint written on the GPU reloads on the CPU. Skipped without CUDA
(CI has none; these ran on a lent H200, see BENCHMARKS.md)."""

import pytest
import torch

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

TEXT = "the quick brown fox jumps over the lazy dog. "


def test_gpt_logits_and_greedy_match_cpu():
    from nanonlp.gpt.config import GPTConfig
    from nanonlp.gpt.model import GPT
    from nanonlp.gpt.sample import generate

    torch.backends.cuda.matmul.allow_tf32 = False  # compare in true float32
    torch.backends.cudnn.allow_tf32 = False
    for kw in (dict(), dict(norm="rmsnorm", pos="rotary", qk_norm=True)):
        cfg = GPTConfig(vocab_size=50, block_size=16, n_layer=2, n_head=2, n_embd=32, **kw)
        cpu = GPT(cfg, torch.Generator().manual_seed(0)).eval()
        gpu = GPT(cfg, torch.Generator().manual_seed(0)).eval().cuda()
        x = torch.randint(0, 50, (4, 16), generator=torch.Generator().manual_seed(1))
        a = cpu(x)[0]
        b = gpu(x.cuda())[0].cpu()
        torch.testing.assert_close(b, a, atol=1e-4, rtol=1e-4)
        prompt = [1, 2, 3]
        assert list(generate(gpu, prompt, 20, temperature=0)) == \
            list(generate(cpu, prompt, 20, temperature=0))


def test_gpt_bf16_training_on_gpu_learns_and_reloads_on_cpu(tmp_path):
    from nanonlp.gpt.data import PrepareConfig, prepare
    from nanonlp.gpt.model import load_gpt
    from nanonlp.gpt.train import make_trainer

    (tmp_path / "t.txt").write_text(TEXT * 60, encoding="utf-8")
    prepare(PrepareConfig(source=str(tmp_path / "t.txt"), out=str(tmp_path / "d")))
    trainer = make_trainer(tmp_path / "d", "tiny",
                           model=dict(block_size=len(TEXT), n_embd=48, n_head=4),
                           train=dict(max_steps=150, batch_size=8, lr=1e-2, min_lr=1e-3,
                                      warmup_steps=10, eval_interval=150, eval_steps=2,
                                      device="cuda", dtype="bfloat16",
                                      out=str(tmp_path / "run")))
    assert trainer.device.type == "cuda"
    recs = list(trainer.run())
    assert recs[-1].eval["val"] < 0.2  # the repeated sentence is learnt in bf16 autocast
    assert torch.backends.cuda.matmul.allow_tf32  # the trainer turned TF32 on
    torch.backends.cuda.matmul.allow_tf32 = False  # compare in true float32
    gpu_model = trainer.model.eval()
    cpu_model = load_gpt(tmp_path / "run" / "last")  # weights saved from the GPU
    x = torch.randint(0, cpu_model.config.vocab_size, (2, 20),
                      generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(gpu_model(x.cuda())[0].float().cpu(), cpu_model(x)[0],
                               atol=1e-4, rtol=1e-4)


def test_bert_matches_cpu_and_ignores_padding_on_gpu():
    from nanonlp.bert.config import BertConfig
    from nanonlp.bert.model import BertForMaskedLM

    torch.backends.cuda.matmul.allow_tf32 = False
    for prenorm in (False, True):
        cfg = BertConfig(vocab_size=40, block_size=16, n_layer=2, n_head=2, n_embd=32,
                         dropout=0.0, prenorm=prenorm)
        cpu = BertForMaskedLM(cfg, torch.Generator().manual_seed(0)).eval()
        gpu = BertForMaskedLM(cfg, torch.Generator().manual_seed(0)).eval().cuda()
        x = torch.randint(4, 40, (3, 10), generator=torch.Generator().manual_seed(1))
        torch.testing.assert_close(gpu(x.cuda())[0].cpu(), cpu(x)[0], atol=1e-4, rtol=1e-4)
        padded = torch.cat([x, torch.full((3, 6), cfg.pad_id)], 1).cuda()
        torch.testing.assert_close(gpu(padded)[0][:, :10], gpu(x.cuda())[0],
                                   atol=1e-5, rtol=1e-5)


def test_seq2seq_beam_search_matches_cpu():
    from nanonlp.seq2seq.config import Seq2SeqConfig
    from nanonlp.seq2seq.model import Seq2Seq
    from nanonlp.seq2seq.translate import beam_search
    from nanonlp.seq2seq.vocab import EOS, PAD

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    cfg = Seq2SeqConfig(src_vocab=30, tgt_vocab=30, emb_dim=16, hidden=24, attn_dim=16,
                        max_len=12)
    cpu = Seq2Seq(cfg, torch.Generator().manual_seed(0)).eval()
    gpu = Seq2Seq(cfg, torch.Generator().manual_seed(0)).eval().cuda()
    src = torch.tensor([[5, 6, 7, 8, EOS], [9, 10, EOS, PAD, PAD]])
    for a, b in zip(beam_search(gpu, src.cuda(), beam=3), beam_search(cpu, src, beam=3),
                    strict=True):
        assert a.tokens == b.tokens
        assert a.score == pytest.approx(b.score, abs=1e-4)
