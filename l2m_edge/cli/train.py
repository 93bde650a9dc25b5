"""`l2m-edge train`: L2M-GAN training on a face folder or SynthFaces, resumable."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .app import app, console, err_console, finite


@app.command()
def train(
    data: str = typer.Option("synth", "--data", help="Face folder (StarGAN v2 layout or attribute file) or 'synth' for SynthFaces."),
    preset: str = typer.Option("demo", "--preset", "-p", help="Model preset (see `l2m-edge info`); NAME:field=value varies one, e.g. mobile:w_hpf=1 (high-pass skips with face masks)."),
    synth_size: Optional[int] = typer.Option(None, "--synth-size", help="SynthFaces training faces (default: the data module's)."),
    attr: str = typer.Option("smile", "--attr", help="Attribute whose two states are the domains (e.g. smile, Smiling, Eyeglasses)."),
    iters: int = typer.Option(10000, "--iters", help="Train until this step."),
    out: Path = typer.Option(..., "--out", help="Run directory (states, samples, scalars.csv, editor_last.safetensors)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out from its newest saved state."),
    batch: int = typer.Option(8, "--batch", help="Global batch: under torchrun it is split evenly over the ranks."),
    seed: int = typer.Option(0, "--seed"),
    lr: float = typer.Option(1e-4, "--lr", callback=finite(above=0), help="Adam learning rate of the editor (paper: 1e-4)."),
    lr_d: Optional[float] = typer.Option(None, "--lr-d", callback=finite(above=0), help="Discriminator learning rate (default: --lr)."),
    ema: float = typer.Option(0.999, "--ema", callback=finite(at_least=0), help="EMA decay of the saved editor."),
    r1_every: int = typer.Option(1, "--r1-every", help="Lazy R1: apply the penalty every k-th step, scaled by k."),
    sample_every: int = typer.Option(500, "--sample-every"),
    save_every: int = typer.Option(500, "--save-every"),
    log_every: int = typer.Option(10, "--log-every"),
    keep: int = typer.Option(3, "--keep", help="Saved training states to keep."),
    threads: Optional[int] = typer.Option(None, "--threads", help="torch CPU threads per rank (default: torch's choice; torchrun sets 1)."),
    device: str = typer.Option("auto", "--device", help="auto (CUDA when present) | cpu | cuda | cuda:N; under torchrun each rank takes cuda:LOCAL_RANK."),
    precision: Optional[str] = typer.Option(None, "--precision", help="fp32 | bf16 (autocast; losses and R1 in fp32) | fp64 (to verify, not to train). Default: bf16 on GPUs that have it, else fp32."),
    channels_last: Optional[bool] = typer.Option(None, "--channels-last/--no-channels-last", help="NHWC activations (default: on for CUDA, off on the CPU)."),
    compile_: bool = typer.Option(False, "--compile", help="torch.compile the style encoder, generator and discriminator (R1 steps stay eager)."),
    workers: Optional[int] = typer.Option(None, "--workers", help="Loader processes per rank (0: read in the training process; default: from the cores and device)."),
    lambda_adv: float = typer.Option(1.0, "--lambda-adv", callback=finite(at_least=0)),
    lambda_r1: float = typer.Option(1.0, "--lambda-r1", callback=finite(at_least=0), help="R1 γ."),
    lambda_cyc: float = typer.Option(1.0, "--lambda-cyc", callback=finite(at_least=0)),
    lambda_sty: float = typer.Option(1.0, "--lambda-sty", callback=finite(at_least=0)),
    lambda_orth: float = typer.Option(1.0, "--lambda-orth", callback=finite(at_least=0)),
    lambda_un: float = typer.Option(0.0, "--lambda-un", callback=finite(at_least=0), help="Not in the paper: keep s_un of the fake equal to the source's."),
    lambda_rec: float = typer.Option(0.0, "--lambda-rec", callback=finite(at_least=0), help="Not in the paper: α=0 reconstruction |G(x,s) − x|₁."),
    lambda_preserve: float = typer.Option(0.0, "--lambda-preserve", callback=finite(at_least=0), help="Not in the paper: minimal edit |G(x,s') − x|₁."),
) -> None:
    """Train an L2M-GAN editor; rerun with --resume after an interruption to continue exactly.

    Several GPUs or machines: `torchrun --nproc_per_node N l2m-edge train …` (data parallel).
    """
    import torch

    from l2m_edge.train import LossWeights, TrainConfig
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
