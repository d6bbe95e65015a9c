"""Export to transformers: GPT2LMHeadModel.from_pretrained(folder) gives our logits, and the
tokenizer.json encodes like our tokenizer."""

import pytest
import torch

from nanonlp.bpe import BPEConfig, CharTokenizer, Tokenizer
from nanonlp.errors import ConfigError
from nanonlp.gpt.config import GPTConfig
from nanonlp.gpt.export import export_hf
from nanonlp.gpt.model import GPT

transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")


@pytest.mark.parametrize("options", [dict(), dict(bias=True, tie_weights=False)])
def test_hf_logits_equal_ours(tmp_path, options):
    cfg = GPTConfig(vocab_size=40, block_size=16, n_layer=2, n_head=4, n_embd=32, **options)
    model = GPT(cfg, torch.Generator().manual_seed(7)).eval()
    with torch.no_grad():  # non-trivial norms and biases, so a missed copy would show
        for p in model.parameters():
            if p.dim() == 1:
                p.add_(0.1 * torch.randn(p.shape, generator=torch.Generator().manual_seed(1)))
    text = "hello, world\nhi"
    tok = CharTokenizer.train(text)
    export_hf(model, tmp_path / "hf", tok)
    hf = transformers.GPT2LMHeadModel.from_pretrained(tmp_path / "hf").eval()
    x = torch.randint(0, 40, (3, 16), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        assert torch.allclose(hf(x).logits, model(x)[0], atol=1e-5)
    hft = tokenizers.Tokenizer.from_file(str(tmp_path / "hf" / "tokenizer.json"))
    assert hft.encode(text).ids == tok.encode(text)
    assert hft.decode(tok.encode(text)) == text


def test_bpe_tokenizer_json(tmp_path):
    tok = Tokenizer.train(["low lower lowest " * 20], BPEConfig(vocab_size=270))
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=8, n_layer=1, n_head=1,
                          n_embd=8))
    export_hf(model, tmp_path / "hf", tok)
    hft = tokenizers.Tokenizer.from_file(str(tmp_path / "hf" / "tokenizer.json"))
    assert hft.encode("lowest low").ids == tok.encode("lowest low")


def test_incompatible_options_refused(tmp_path):
    model = GPT(GPTConfig(vocab_size=10, block_size=8, n_layer=1, n_head=2, n_embd=8,
                          pos="rotary"))
    with pytest.raises(ConfigError, match=r"GPT-2 cannot hold this model \(pos=rotary\)"):
        export_hf(model, tmp_path / "hf")
    assert not (tmp_path / "hf").exists()  # nothing created for a model that cannot export
