"""SAE training throughput: sae-lens's `SAETrainer` step against a bare-torch TopK step of the
same shape (docs/ARCHITECTURE.md promises ≥ 80% on a GPU).

    .venv/bin/python benchmarks/sae.py [--shape 384,3072,24] [--batch 1024] [--steps 30]

Prints tokens/s for both and their ratio; asserts nothing.
"""

from __future__ import annotations

import argparse
import platform
import time

import torch

from safer_engine.sae.train import sae_lens_config


def bare_step_fn(d_in: int, d_sae: int, k: int, device: str):  # type: ignore[no-untyped-def]
    """Encode, TopK, decode, MSE, backward, Adam: the minimum any TopK SAE step does."""
    w_enc = torch.nn.Parameter(torch.randn(d_in, d_sae, device=device) / d_in**0.5)
    b_enc = torch.nn.Parameter(torch.zeros(d_sae, device=device))
    w_dec = torch.nn.Parameter(torch.randn(d_sae, d_in, device=device) / d_sae**0.5)
    b_dec = torch.nn.Parameter(torch.zeros(d_in, device=device))
    optimiser = torch.optim.Adam([w_enc, b_enc, w_dec, b_dec], lr=4e-4)

    def step(x: torch.Tensor) -> None:
        pre = torch.relu((x - b_dec) @ w_enc + b_enc)
        values, indices = pre.topk(k, dim=-1)
        z = torch.zeros_like(pre).scatter(-1, indices, values)
        loss = ((z @ w_dec + b_dec - x) ** 2).sum(-1).mean()
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()

    return step


def sae_lens_step_fn(d_in: int, d_sae: int, k: int, batch: int, device: str):  # type: ignore[no-untyped-def]
    from sae_lens.config import LoggingConfig, SAETrainerConfig
    from sae_lens.saes.topk_sae import TopKTrainingSAE
    from sae_lens.training.sae_trainer import SAETrainer

    sae = TopKTrainingSAE(sae_lens_config(d_in, d_sae, k, device, "bench", 0))
    config = SAETrainerConfig(
        total_training_samples=10**9,
        train_batch_size_samples=batch,
        lr=4e-4,
        lr_end=4e-5,
        device=device,
        logger=LoggingConfig(log_to_wandb=False),
    )
    trainer = SAETrainer(config, sae.to(device), iter(()))
    return trainer.step


def timed(step, x: torch.Tensor, steps: int) -> float:  # type: ignore[no-untyped-def]
    for _ in range(3):
        step(x)
    if x.is_cuda:
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(steps):
        step(x)
    if x.is_cuda:
        torch.cuda.synchronize()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shape", default="384,3072,24", help="d_in,d_sae,k")
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args()
    d_in, d_sae, k = (int(v) for v in args.shape.split(","))
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)
    x = torch.randn(args.batch, d_in, device=device)
    bare = timed(bare_step_fn(d_in, d_sae, k, device), x, args.steps)
    ours = timed(sae_lens_step_fn(d_in, d_sae, k, args.batch, device), x, args.steps)
    tokens = args.batch * args.steps
    where = (
        torch.cuda.get_device_name(0)
        if device == "cuda"
        else (f"CPU ({platform.machine()}, {torch.get_num_threads()} threads)")
    )
    print(f"device: {where}; torch {torch.__version__}; fp32")
    print(f"shape: {d_in} → {d_sae}, k={k}, batch {args.batch}, {args.steps} timed steps")
    print(f"bare-torch TopK step: {tokens / bare:,.0f} tokens/s")
    print(f"sae-lens SAETrainer step: {tokens / ours:,.0f} tokens/s = {bare / ours:.0%} of bare")


if __name__ == "__main__":
    main()
