"""Muon: momentum orthogonalised by Newton-Schulz, for the hidden weight matrices of a network
(Jordan et al. 2024, "Muon: An optimizer for hidden layers in neural networks"), with AdamW
(Loshchilov & Hutter 2019) for every other parameter, in one ``torch.optim.Optimizer``.

The idea, in the paper's order:

1. For a weight matrix W (out, in), SGD with momentum keeps ``B_t = mu B_{t-1} + G_t``. Its
   update matrices are nearly low-rank in practice: a few directions dominate, and the rare
   directions that matter for learning get a tiny share of the step.
2. Muon replaces the update by its nearest semi-orthogonal matrix: for ``B = U S V^T``, the
   update is ``U V^T`` (every singular value set to 1), so every direction the momentum
   points in moves by the same amount.
3. ``U V^T`` is not computed with an SVD (slow, and poorly suited to bfloat16 on a GPU) but
   with five steps of a quintic Newton-Schulz iteration, :func:`newton_schulz`, which is
   matrix products only.
4. The orthogonal update has a fixed size whatever the gradient's scale, so the learning rate
   is the step size itself; it is scaled by ``sqrt(max(1, out / in))`` so that tall matrices
   (e.g. an MLP's expansion ``c_fc``, 4C x C) move their outputs as much as square ones do.

Which parameters (:func:`muon_params`): Muon is for the 2-D weights of hidden ``nn.Linear``
layers. Embeddings are not matrix multiplications of a dense input: each step updates only
the rows of the tokens that occurred, and orthogonalising would spread the step over every
row. The output layer (``lm_head``, a classifier) maps to logits whose scale the loss sees
directly, and the paper finds AdamW trains it better. Biases and norm gains are vectors:
there is nothing to orthogonalise. All of these stay on AdamW, in the same optimizer, with
the run's ``lr`` and ``weight_decay``; the Muon matrices take ``muon_lr`` and no weight decay
(the paper's reference optimizer has none).

Deliberately left out: the distributed variant that shards the Newton-Schulz work over
processes (under DDP every process here orthogonalises every matrix on the same averaged
gradient: the same result, more arithmetic), and 3-D or 4-D (convolution) weights.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
import torch.nn as nn

from nanonlp.errors import ConfigError

#: the quintic's coefficients (a, b, c): p(s) = a s + b s^3 + c s^5 is applied to every
#: singular value s at once. a = 3.4445 is the slope at 0: small singular values grow ~3.4x a
#: step, so five steps lift one at 1/400 of the largest into range. b and c were tuned
#: (Jordan et al.) so that p maps all of (0, 1] into a band around 1 quickly, instead of
#: converging to exactly 1 slowly: p(1) = 0.70, and five steps of p from any s >= 0.002 (after
#: the Frobenius normalisation) end within about [0.68, 1.21] (:data:`NS_BAND`).
NS_COEFFS = (3.4445, -4.7750, 2.0315)
#: where five steps put every singular value >= 0.002 ||G||_F (measured on random and
#: ill-conditioned matrices, float32 and bfloat16: tests/test_muon.py)
NS_BAND = (0.6, 1.25)
#: bfloat16 against float32 Newton-Schulz: ||Q_bf16 - Q_fp32||_F / ||Q_fp32||_F stays below
#: this (measured 0.022-0.036 on 64x256 to 768x3072 random matrices; cosine above 0.999)
NS_BF16_REL_DIFF = 0.05
#: the default names of output layers, which stay on AdamW (a model may set ``output_layers``)
OUTPUT_LAYERS = ("lm_head", "classifier", "out", "decoder")


def newton_schulz(G: torch.Tensor, steps: int = 5, dtype: torch.dtype = torch.bfloat16,
                  eps: float = 1e-7) -> torch.Tensor:
    """An approximately semi-orthogonal matrix with G's singular vectors: ``U S' V^T`` for
    ``G = U S V^T``, every singular value S'_i in :data:`NS_BAND` (a tiny one, below
    0.002 ``||G||_F``, ends smaller but larger than it was). Computed in ``dtype``
    (bfloat16 in the paper: the band, not precision, is the point), returned in G's dtype.

    >>> Q = newton_schulz(torch.diag(torch.tensor([4.0, 1.0, 0.25])), dtype=torch.float32)
    >>> [round(float(s), 2) for s in torch.linalg.svdvals(Q)]
    [1.02, 0.74, 0.74]
    """
    a, b, c = NS_COEFFS
    X = G.to(dtype)
    tall = X.size(-2) > X.size(-1)
    if tall:
        X = X.mT  # work on the wide side: X X^T is then the smaller Gram matrix
    # ||X||_2 <= ||X||_F: after this every singular value is in [0, 1], where p is designed
    X = X / (X.norm(dim=(-2, -1), keepdim=True) + eps)
    for _ in range(steps):
        A = X @ X.mT  # (m, m): U S^2 U^T
        B = b * A + c * A @ A  # U (b S^2 + c S^4) U^T
        X = a * X + B @ X  # U (a S + b S^3 + c S^5) V^T: p applied to every singular value
    if tall:
        X = X.mT
    return X.to(G.dtype)


def shape_scale(shape: torch.Size | tuple[int, ...]) -> float:
    """The learning-rate factor of a weight (out, in): ``sqrt(max(1, out / in))``.

    An orthogonal update has spectral norm ~1; a tall matrix's update then changes the
    (longer) output vector by less per unit of input than a square one, and this factor
    evens that out (Jordan et al.'s reference implementation).

    >>> shape_scale((512, 128)), shape_scale((128, 512)), shape_scale((128, 128))
    (2.0, 1.0, 1.0)
    """
    return max(1.0, shape[-2] / shape[-1]) ** 0.5


def muon_params(model: nn.Module) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """Split trainable parameters into (Muon's, AdamW's): Muon takes the 2-D weights of
    ``nn.Linear`` layers, except the model's output layers (``model.output_layers``, module
    names, else :data:`OUTPUT_LAYERS`) and weights shared with an embedding (a tied head)."""
    outputs = set(getattr(model, "output_layers", OUTPUT_LAYERS))
    embedded = {id(m.weight) for m in model.modules() if isinstance(m, nn.Embedding)}
    hidden = {id(m.weight) for name, m in model.named_modules()
              if isinstance(m, nn.Linear) and name.rsplit(".", 1)[-1] not in outputs
              and m.weight.dim() == 2 and id(m.weight) not in embedded}
    muon, adamw = [], []
    for p in model.parameters():  # deduplicated: a tied weight appears once
        if p.requires_grad:
            (muon if id(p) in hidden else adamw).append(p)
    return muon, adamw


class Muon(torch.optim.Optimizer):
    """Muon for the param groups with ``muon=True``, AdamW for the others.

    Group options: ``lr``, ``weight_decay``; Muon groups ``momentum`` (mu), ``nesterov``,
    ``ns_steps``, ``ns_dtype`` (a dtype name); AdamW groups ``betas``, ``eps``. The state is
    tensors only (``momentum_buffer``; ``step``, ``exp_avg``, ``exp_avg_sq`` as torch's
    AdamW names them), so checkpoints store it as they store AdamW's.
    """

    def __init__(self, groups: Iterable[dict], lr: float = 0.02, *, momentum: float = 0.95,
                 nesterov: bool = True, ns_steps: int = 5, ns_dtype: str = "bfloat16",
                 betas: tuple[float, float] = (0.9, 0.95), eps: float = 1e-8,
                 weight_decay: float = 0.0):
        defaults = dict(lr=lr, muon=False, momentum=momentum, nesterov=nesterov,
                        ns_steps=ns_steps, ns_dtype=ns_dtype, betas=betas, eps=eps,
                        weight_decay=weight_decay)
        super().__init__(list(groups), defaults)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if group["muon"]:
                self._muon_update(params, group)
            else:
                for p in params:
                    self._adamw_update(p, group)
        return loss

    def _muon_update(self, params: list[torch.Tensor], group: dict) -> None:
        """Momentum, then Newton-Schulz, then the step, for a group's matrices. Matrices of one
        shape are orthogonalised together, as one batch of matrix products (as
        modded-nanogpt does): a small model's step then makes a few larger calls instead of
        many small ones (on a 4-layer chat GPT, 4 batches instead of 16 matrices)."""
        mu, lr, decay = group["momentum"], group["lr"], group["weight_decay"]
        by_shape: dict[tuple, list[tuple[torch.Tensor, torch.Tensor]]] = {}
        for p in params:
            state = self.state[p]
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = torch.zeros_like(p)
            buf = state["momentum_buffer"]
            buf.mul_(mu).add_(p.grad)  # B_t = mu B_{t-1} + G_t
            # Nesterov looks ahead: G_t + mu B_t
            g = p.grad.add(buf, alpha=mu) if group["nesterov"] else buf
            by_shape.setdefault((p.shape, p.dtype, p.device), []).append((p, g))
        for same in by_shape.values():
            updates = newton_schulz(torch.stack([g for _, g in same]), group["ns_steps"],
                                    getattr(torch, group["ns_dtype"]))
            for (p, _), update in zip(same, updates, strict=True):
                if decay:
                    p.mul_(1 - lr * decay)
                p.add_(update, alpha=-lr * shape_scale(p.shape))

    def _adamw_update(self, p: torch.Tensor, group: dict) -> None:
        """torch's AdamW step (decoupled decay, bias-corrected moments), written out."""
        state = self.state[p]
        if "step" not in state:
            state["step"] = torch.tensor(0.0)
            state["exp_avg"] = torch.zeros_like(p)
            state["exp_avg_sq"] = torch.zeros_like(p)
        state["step"] += 1
        t, g = float(state["step"]), p.grad
        (beta1, beta2), lr = group["betas"], group["lr"]
        p.mul_(1 - lr * group["weight_decay"])
        state["exp_avg"].lerp_(g, 1 - beta1)  # m_t = b1 m + (1 - b1) g
        state["exp_avg_sq"].mul_(beta2).addcmul_(g, g, value=1 - beta2)  # v_t
        # the step m_t / (1 - b1^t) / (sqrt(v_t / (1 - b2^t)) + eps), as torch orders it
        denom = (state["exp_avg_sq"].sqrt() / math.sqrt(1 - beta2 ** t)).add_(group["eps"])
        p.addcdiv_(state["exp_avg"], denom, value=-lr / (1 - beta1 ** t))


def make_muon(model: nn.Module, lr: float, muon_lr: float, weight_decay: float,
              betas: tuple[float, float], momentum: float = 0.95,
              ns_dtype: torch.dtype | None = None) -> Muon:
    """Muon over :func:`muon_params`: the hidden matrices at ``muon_lr``, the rest AdamW at
    ``lr``, with weight decay on its matrices (embeddings, an untied head) only, as
    :func:`nanonlp.training.schedule.param_groups` does for AdamW alone.

    Newton-Schulz runs in ``ns_dtype``; by default bfloat16 on CUDA (the paper) and float32
    elsewhere. The Trainer passes its autocast dtype: a float32 run stays float32 throughout
    (a CPU without native bfloat16 would only be slower in it), a bfloat16 run orthogonalises
    in bfloat16 too (1.3x faster on a 2-core EPYC with AVX-512 BF16).
    """
    hidden, rest = muon_params(model)
    if not hidden:
        raise ConfigError(f"optimizer muon needs 2-D hidden weight matrices, and this "
                          f"{type(model).__name__} has none (use --train.optimizer adamw)")
    if ns_dtype is None:
        ns_dtype = torch.bfloat16 if hidden[0].device.type == "cuda" else torch.float32
    return Muon([
        {"params": hidden, "muon": True, "lr": muon_lr, "weight_decay": 0.0,
         "ns_dtype": str(ns_dtype).removeprefix("torch.")},
        {"params": [p for p in rest if p.dim() >= 2], "weight_decay": weight_decay},
        {"params": [p for p in rest if p.dim() < 2], "weight_decay": 0.0},
    ], lr=lr, momentum=momentum, betas=betas)
