"""`nanonlp gpt import` at the GPT-2 124M shape: import cost, then the imported model's forward
and greedy generation against ``transformers.GPT2LMHeadModel`` on the same weights.

The HF folder is ``GPT2LMHeadModel(GPT2Config()).save_pretrained(tmp)`` (the 124M shape: 12
layers, 768 wide, 12 heads, 50,257 ids, 1,024 positions; random weights, safetensors), made
here, so nothing downloads. Every timed side runs with one torch thread.

* import: ``nanonlp gpt import HF_DIR OUT`` as its own process: wall-clock and peak RSS
  (``ru_maxrss`` of ``RUSAGE_CHILDREN``, read by a small launcher process), against
  ``GPT2LMHeadModel.from_pretrained(HF_DIR).save_pretrained(COPY)`` in its own process (the
  same read-then-write; a load alone leaves the mapped weights untouched); the peak RSS is
  also set against a bare ``python -c "import torch"`` (the floor every torch process pays).
* forward: the imported checkpoint (``nanonlp.gpt.load``) and HF's model, eval mode, no grad,
  on the same random batch (4 x 256 tokens); calls alternate ours / HF and the medians count.
  The logits' largest difference is printed.
* generate: greedy (``generate(..., temperature=0, use_cache=True)``, our KV cache) against
  ``model.generate(max_new_tokens=128, do_sample=False)`` from the same 8-token prompt, both
  stopping at the config's ``eos_token_id`` as HF does; alternated, medians; the output ids
  must be identical (``ids_equal`` in the row; the script exits 1 if not). Target: >= 1.0x HF.

    python benchmarks/gpt_import.py [--quick] [--record]
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from harness import ROOT, alternate, parser, record, result

NAME = "gpt-import"
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
       "PYTHONPATH": str(ROOT / "src")}
#: HF's nearest equivalent of an import: read the folder, write it out again
HF_COPY = ("import sys, torch; torch.set_num_threads(1); from transformers import "
           "GPT2LMHeadModel; GPT2LMHeadModel.from_pretrained(sys.argv[1])"
           ".save_pretrained(sys.argv[2])")


#: runs argv[1:] and prints its peak RSS (kB). The child is forked from this small process, not
#: from the benchmark's: Linux carries the forking process's RSS high-water mark across exec,
#: so a child of the benchmark (torch and transformers loaded) would report at least that much
LAUNCHER = ("import resource, subprocess, sys; "
            "rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode; "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(rc)")


def child(cmd: list[str]) -> tuple[float, float]:
    """Run cmd as its own process: (wall seconds, peak RSS in MB of that process)."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", LAUNCHER, *cmd], env=ENV, capture_output=True,
                          text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode:
        sys.exit(f"{' '.join(cmd[:6])} failed:\n{proc.stderr[-2000:]}")
    return seconds, int(proc.stdout.split()[-1]) / 1024  # Linux: kilobytes


def main():
    args = parser(__doc__.splitlines()[0]).parse_args()
    from transformers import GPT2Config, GPT2LMHeadModel

    import nanonlp.gpt
    from nanonlp.gpt.sample import generate

    torch.set_num_threads(1)
    torch.manual_seed(0)
    if args.quick:
        shape = {"n_layer": 2, "n_embd": 64, "n_head": 2, "vocab_size": 1000, "n_positions": 256,
                 "bos_token_id": 999, "eos_token_id": 999}
        B, T, new, reps, imports = 2, 64, 32, 3, 1
    else:
        shape = {}  # GPT2Config's defaults: the 124M shape
        B, T, new, reps, imports = 4, 256, 128, 5, 3
    hf_cfg = GPT2Config(**shape)
    case = (f"{hf_cfg.n_layer}x{hf_cfg.n_head}x{hf_cfg.n_embd}, vocab {hf_cfg.vocab_size:,}"
            + (" (GPT-2 124M shape)" if not shape else " (quick)"))
    tmp = Path(tempfile.mkdtemp(prefix="nanonlp-gpt-import-bench-"))
    rows = []
    try:
        hf_dir, out = tmp / "hf", tmp / "ours"
        GPT2LMHeadModel(hf_cfg).save_pretrained(hf_dir)  # safetensors
        size_mb = (hf_dir / "model.safetensors").stat().st_size / 2**20

        # import: each its own process, alternated; medians (peak RSS: the largest seen)
        ours_s, ours_rss, hf_s, hf_rss, torch_rss = [], [], [], [], []
        for _ in range(imports):
            shutil.rmtree(out, ignore_errors=True)
            shutil.rmtree(tmp / "hf-copy", ignore_errors=True)
            s, r = child([sys.executable, "-m", "nanonlp", "gpt", "import", str(hf_dir),
                          str(out)])
            ours_s.append(s)
            ours_rss.append(r)
            s, r = child([sys.executable, "-c", HF_COPY, str(hf_dir), str(tmp / "hf-copy")])
            hf_s.append(s)
            hf_rss.append(r)
            torch_rss.append(child([sys.executable, "-c", "import torch"])[1])
        floor = max(torch_rss)
        rows.append(result(NAME, case, "import_s (own process)", statistics.median(ours_s),
                           statistics.median(hf_s), "HF from_pretrained + save_pretrained, "
                           "own process", better="lower", weights_mb=round(size_mb, 1)))
        rows.append(result(NAME, case, "peak_rss_mb (own process)", max(ours_rss), max(hf_rss),
                           "HF from_pretrained + save_pretrained, own process", better="lower",
                           bare_torch_rss_mb=round(floor, 1), weights_mb=round(size_mb, 1)))
        rows.append(result(NAME, case, "peak_rss_mb (own process)", max(ours_rss), floor,
                           "bare `python -c 'import torch'`", better="lower"))

        # forward: same weights, same batch
        ours = nanonlp.gpt.load(out).eval()
        hf = GPT2LMHeadModel.from_pretrained(hf_dir).eval()
        x = torch.randint(hf_cfg.vocab_size, (B, T), generator=torch.Generator().manual_seed(1))
        with torch.no_grad():
            diff = float((ours(x)[0] - hf(input_ids=x).logits).abs().max())
            print(f"forward logits: largest |ours - HF| = {diff:.3g}", flush=True)
            med = alternate({"ours": lambda: ours(x), "hf": lambda: hf(input_ids=x)}, reps)
        rows.append(result(NAME, f"{case}, forward {B}x{T}, eval, no grad", "tokens_per_s",
                           B * T / med["ours"], B * T / med["hf"], "HF GPT2LMHeadModel",
                           better="higher", max_logit_diff=float(f"{diff:.3g}")))

        # greedy generation, same prompt, both stopping at eos as HF's generate does
        prompt = torch.randint(hf_cfg.vocab_size, (8,),
                               generator=torch.Generator().manual_seed(2)).tolist()
        eos = [hf_cfg.eos_token_id] if hf_cfg.eos_token_id is not None else []
        got = {}

        def run_ours():
            got["ours"] = list(generate(ours, prompt, new, temperature=0, use_cache=True,
                                        stop_ids=eos))

        def run_hf():
            ids = torch.tensor([prompt])
            with torch.no_grad():
                y = hf.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=new,
                                do_sample=False, pad_token_id=hf_cfg.eos_token_id or 0)
            tail = y[0, len(prompt):].tolist()
            got["hf"] = tail[:-1] if tail and tail[-1] in eos else tail  # ours omits eos

        med = alternate({"ours": run_ours, "hf": run_hf}, max(2, reps - 2))
        equal = got["ours"] == got["hf"]
        n_ours, n_hf = len(got["ours"]), len(got["hf"])
        print(f"greedy ids identical: {equal} ({n_ours} and {n_hf} new tokens)", flush=True)
        rows.append(result(NAME, f"{case}, greedy {new} new tokens, prompt {len(prompt)}, "
                           "KV cache", "tokens_per_s", n_ours / med["ours"], n_hf / med["hf"],
                           "HF generate(do_sample=False)", better="higher", ids_equal=equal,
                           new_tokens=n_ours))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if not equal:
        sys.exit("greedy ids differ between ours and HF: nothing recorded")
    if args.record:
        record(NAME, rows, notes=(
            "Random weights at the GPT-2 124M shape, saved locally by "
            "`GPT2LMHeadModel(GPT2Config()).save_pretrained` (safetensors). One torch thread "
            "everywhere. Import rows: each side its own process (median wall-clock of "
            f"{imports}, alternated; peak RSS: `getrusage(RUSAGE_CHILDREN)` in a small launcher "
            "process, the largest of the runs); HF's "
            "anchor is `from_pretrained(HF_DIR).save_pretrained(COPY)`, the same read then "
            "write. Forward and "
            "generation alternate ours / HF call by call and take medians; greedy output ids "
            "are checked identical (the script refuses to record otherwise)."))


if __name__ == "__main__":
    main()
