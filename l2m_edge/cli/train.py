"""`l2m-edge train`: L2M-GAN training on a face folder or SynthFaces, resumable."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from l2m_edge.training_config import LossWeights, TrainConfig

from .app import app, console, err_console, finite


@app.command()
def train(
    data: str = typer.Option(TrainConfig.data, "--data", help="Face folder (StarGAN v2 layout or attribute file) or 'synth' for SynthFaces."),
    preset: str = typer.Option(TrainConfig.preset, "--preset", "-p", help="Model preset (see `l2m-edge info`); NAME:field=value varies one, e.g. mobile:w_hpf=1 (high-pass skips with face masks)."),
    synth_size: Optional[int] = typer.Option(None, "--synth-size", help="SynthFaces training faces (default: the data module's)."),
    attr: str = typer.Option(TrainConfig.attribute, "--attr", help="Attribute whose two states are the domains (e.g. smile, Smiling, Eyeglasses)."),
    iters: int = typer.Option(TrainConfig.iters, "--iters", help="Train until this step."),
    out: Path = typer.Option(..., "--out", help="Run directory (states, samples, scalars.csv, editor_last.safetensors)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out from its newest saved state."),
    batch: int = typer.Option(TrainConfig.batch_size, "--batch", help="Global batch: under torchrun it is split evenly over the ranks."),
    seed: int = typer.Option(TrainConfig.seed, "--seed"),
    lr: float = typer.Option(TrainConfig.lr, "--lr", callback=finite(above=0), help="Adam learning rate of the editor (paper: 1e-4)."),
    lr_d: Optional[float] = typer.Option(None, "--lr-d", callback=finite(above=0), help="Discriminator learning rate (default: --lr)."),
    ema: float = typer.Option(TrainConfig.ema_beta, "--ema", callback=finite(at_least=0), help="EMA decay of the saved editor."),
    r1_every: int = typer.Option(TrainConfig.r1_every, "--r1-every", help="Lazy R1: apply the penalty every k-th step, scaled by k."),
    sample_every: int = typer.Option(TrainConfig.sample_every, "--sample-every"),
    save_every: int = typer.Option(TrainConfig.save_every, "--save-every"),
    log_every: int = typer.Option(TrainConfig.log_every, "--log-every"),
    keep: int = typer.Option(TrainConfig.keep, "--keep", help="Saved training states to keep."),
    threads: Optional[int] = typer.Option(None, "--threads", help="torch CPU threads per rank (default: torch's choice; torchrun sets 1)."),
    device: str = typer.Option(TrainConfig.device, "--device", help="auto (CUDA when present) | cpu | cuda | cuda:N; under torchrun each rank takes cuda:LOCAL_RANK."),
    precision: Optional[str] = typer.Option(None, "--precision", help="fp32 | bf16 (autocast; losses and R1 in fp32) | fp64 (to verify, not to train). Default: bf16 on GPUs that have it, else fp32."),
    channels_last: Optional[bool] = typer.Option(None, "--channels-last/--no-channels-last", help="NHWC activations (default: on for CUDA, off on the CPU)."),
    compile_: bool = typer.Option(TrainConfig.compile, "--compile", help="torch.compile the style encoder, generator and discriminator (R1 steps stay eager)."),
    workers: Optional[int] = typer.Option(None, "--workers", help="Loader processes per rank (0: read in the training process; default: from the cores and device)."),
    lambda_adv: float = typer.Option(LossWeights.adv, "--lambda-adv", callback=finite(at_least=0)),
    lambda_r1: float = typer.Option(LossWeights.r1, "--lambda-r1", callback=finite(at_least=0), help="R1 γ."),
    lambda_cyc: float = typer.Option(LossWeights.cyc, "--lambda-cyc", callback=finite(at_least=0)),
    lambda_sty: float = typer.Option(LossWeights.sty, "--lambda-sty", callback=finite(at_least=0)),
    lambda_orth: float = typer.Option(LossWeights.orth, "--lambda-orth", callback=finite(at_least=0)),
    lambda_un: float = typer.Option(LossWeights.un, "--lambda-un", callback=finite(at_least=0), help="Not in the paper: keep s_un of the fake equal to the source's."),
    lambda_rec: float = typer.Option(LossWeights.rec, "--lambda-rec", callback=finite(at_least=0), help="Not in the paper: α=0 reconstruction |G(x,s) − x|₁."),
    lambda_preserve: float = typer.Option(LossWeights.preserve, "--lambda-preserve", callback=finite(at_least=0), help="Not in the paper: minimal edit |G(x,s') − x|₁."),
) -> None:
    """Train an L2M-GAN editor; rerun with --resume after an interruption to continue exactly.

    Several GPUs or machines: `torchrun --nproc_per_node N l2m-edge train …` (data parallel).
    """
    import torch

    from l2m_edge.train import train as run_training

    if threads is not None:
        torch.set_num_threads(threads)
    weights = LossWeights(adv=lambda_adv, r1=lambda_r1, cyc=lambda_cyc, sty=lambda_sty, orth=lambda_orth,
                          un=lambda_un, rec=lambda_rec, preserve=lambda_preserve)
    config = TrainConfig(out=out, iters=iters, data=data, synth_size=synth_size, attribute=attr, preset=preset, batch_size=batch, seed=seed, lr=lr,
                         lr_d=lr_d, ema_beta=ema, r1_every=r1_every, weights=weights, sample_every=sample_every,
                         save_every=save_every, log_every=log_every, keep=keep, device=device, precision=precision,
                         channels_last=channels_last, compile=compile_, workers=workers)
    result = run_training(config, resume=resume, console=err_console)
    if result.rank == 0:
        console.print(f"trained to step {result.step} in {result.seconds / 60:.1f} min; editor: {result.editor_path}")
