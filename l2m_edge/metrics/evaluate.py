"""`evaluate`: score an editor on held-out data with the attribute classifier.

Data is any map-style data set of `(image [3,H,W] in [−1,1], label)` or
`(image, label, region)` items, where `region` [H,W] (bool, True = the attribute's pixels,
as SynthFaces knows them) turns on PSNR/SSIM outside the region. Everything is batched,
seeded and needs no gradients.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from l2m_edge.errors import CheckpointError, DataError
from l2m_edge.model.editor import Editor

from .classifier import AttributeClassifier
from .fid import frechet_distance, inception_features, load_inception
from .image_metrics import batch_psnr, cosine_similarity, masked_psnr, masked_ssim, mean_abs_error
from .progress import progress_bar

NO_REGION = "not computed: this data has no known attribute region (SynthFaces has)"
NO_FID_WEIGHTS = "not computed: no weights given (pass --inception-weights)"


@dataclass
class Sample:
    """A batch as the metrics see it: images, labels, and attribute regions where known."""

    images: torch.Tensor
    labels: torch.Tensor
    regions: torch.Tensor | None
    masks: torch.Tensor | None = None  # [N,2,H,W]: high-pass models' face masks, where the data has landmarks


def pick_indices(size: int, n: int, seed: int) -> list[int]:
    """n distinct indices of a data set of `size` items, seeded; all of them when n ≥ size."""
    if size == 0:
        raise DataError("the evaluation data set is empty")
    if n >= size:
        return list(range(size))
    generator = torch.Generator().manual_seed(seed)
    return sorted(torch.randperm(size, generator=generator)[:n].tolist())


def collate(data: Dataset, indices: Sequence[int]) -> Sample:
    """Stack the chosen items into one batch; regions only if every item carries one."""
    items = [data[i] for i in indices]
    images = torch.stack([torch.as_tensor(item[0], dtype=torch.float32) for item in items])
    labels = torch.tensor([int(item[1]) for item in items], dtype=torch.long)
    regions = None
    if all(len(item) > 2 and item[2] is not None for item in items):
        regions = torch.stack([torch.as_tensor(item[2]).to(torch.bool) for item in items])
    masks = torch.stack([torch.as_tensor(item[3]) for item in items]) if all(len(item) > 3 for item in items) else None
    return Sample(images, labels, regions, masks)


def direction_name(domains: Sequence[str], source: int, target: int) -> str:
    return f"{domains[source]}->{domains[target]}"


def summarize(values: Sequence[float] | torch.Tensor) -> dict[str, float | int]:
    """mean / median / min / max / n of per-image values (inf stays inf: a perfect score)."""
    array = np.asarray(torch.as_tensor(values, dtype=torch.float64).cpu(), dtype=np.float64)
    if array.size == 0:
        return {"n": 0}
    return {
        "mean": float(array.mean()),
        "median": float(np.median(array)),
        "min": float(array.min()),
        "max": float(array.max()),
        "n": int(array.size),
    }


@torch.no_grad()
def edit(
    editor: Editor, images: torch.Tensor, source: torch.Tensor, target: torch.Tensor, strength: float, masks: torch.Tensor | None = None
) -> torch.Tensor:
    """The exported inference path at one strength for a whole batch (masks: high-pass models only)."""
    alpha = torch.full((images.shape[0],), float(strength), dtype=images.dtype, device=images.device)
    if editor.config.uses_masks and masks is None:
        raise DataError(
            "this model has high-pass skips (w_hpf > 0) and needs face masks: give data with landmarks "
            "(SynthFaces, or a face folder through `eval_dataset(..., masks=True)`)"
        )
    return editor(images, source, target, alpha, masks if editor.config.uses_masks else None)


@torch.no_grad()
def s_un(editor: Editor, images: torch.Tensor, domain: torch.Tensor) -> torch.Tensor:
    """The attribute-irrelevant code P(E(x, domain))."""
    return editor.decomposer(editor.style(images, domain))[0]


@torch.no_grad()
def attribute_hits(classifier: AttributeClassifier, edited: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1.0 where the classifier puts the image in the given domain, else 0.0 → [N] (on the CPU)."""
    return (classifier.predict_domain(edited).argmax(1).cpu() == target.cpu()).float()


def preservation_outside(sources: torch.Tensor, edited: torch.Tensor, regions: torch.Tensor) -> tuple[list[float], list[float]]:
    """Per-image PSNR and SSIM of source vs edit over the pixels outside each attribute region."""
    psnr, ssim = [], []
    for source, result, region in zip(sources.cpu(), edited.cpu(), regions.cpu()):
        psnr.append(masked_psnr(source, result, ~region))
        ssim.append(masked_ssim(source, result, ~region))
    return psnr, ssim


def _check_compatible(editor: Editor, classifier: AttributeClassifier) -> None:
    """Label i must mean the same domain to both, or accuracies would be silently inverted."""
    if tuple(classifier.domains) != tuple(editor.domains):
        raise CheckpointError(
            f"the classifier's domains {list(classifier.domains)} are not the editor's {list(editor.domains)}; "
            f"train a classifier on the editor's data and attribute (`l2m-edge classifier train`)"
        )


@torch.no_grad()
def evaluate(
    editor: Editor,
    classifier: AttributeClassifier,
    data: Dataset,
    n: int = 500,
    batch_size: int = 32,
    seed: int = 0,
    inception_weights: str | os.PathLike | None = None,
    progress: bool = False,
    data_name: str = "",
) -> dict[str, Any]:
    """All metrics of one editor on n held-out items, as a JSON-ready dict.

    - attribute_accuracy[src->tgt]: classifier says "target" for the α = 1 edit, per direction;
    - preservation: PSNR/SSIM outside the attribute region (source vs α = 1 edit, where the
      region is known) and the cosine of s_un before/after the edit (any data);
    - reconstruction: L1 and PSNR of the α = 0 output against the input;
    - cycle: PSNR of the reverse edit (target → source) against the source;
    - classifier_accuracy_on_sources: how far the yardstick itself can be trusted on this data.
    """
    _check_compatible(editor, classifier)
    editor.eval()
    classifier.eval()
    torch.manual_seed(seed)
    device = next(editor.parameters()).device
    indices = pick_indices(len(data), n, seed)  # type: ignore[arg-type]
    domains = list(editor.domains)
    num_domains = len(domains)

    correct: dict[str, list[float]] = {}
    source_correct: list[float] = []
    psnr_out: list[float] = []
    ssim_out: list[float] = []
    cosine: list[float] = []
    recon_l1: list[float] = []
    recon_psnr: list[float] = []
    cycle_psnr: list[float] = []
    has_regions = True
    fid_fakes: list[torch.Tensor] = []
    fid_reals: list[torch.Tensor] = []
    inception = load_inception(inception_weights).to(device) if inception_weights is not None else None

    batches = [indices[i : i + batch_size] for i in range(0, len(indices), batch_size)]
    with progress_bar("evaluating", len(indices), enabled=progress) as advance:
        for chunk in batches:
            sample = collate(data, chunk)
            x, src = sample.images.to(device), sample.labels.to(device)
            m = None if sample.masks is None else sample.masks.to(device)
            has_regions = has_regions and sample.regions is not None
            source_correct += attribute_hits(classifier, x, src).tolist()

            recon = edit(editor, x, src, src, 0.0, m)
            recon_l1 += mean_abs_error(recon, x).tolist()
            recon_psnr += batch_psnr(recon, x).tolist()
            s_un_source = s_un(editor, x, src)

            for offset in range(1, num_domains):
                tgt = (src + offset) % num_domains
                edited = edit(editor, x, src, tgt, 1.0, m)
                hits = attribute_hits(classifier, edited, tgt)
                for i in range(len(chunk)):
                    key = direction_name(domains, int(src[i]), int(tgt[i]))
                    correct.setdefault(key, []).append(float(hits[i]))
                cosine += cosine_similarity(s_un_source, s_un(editor, edited, tgt)).tolist()
                cycle_psnr += batch_psnr(edit(editor, edited, tgt, src, 1.0, m), x).tolist()  # the edit keeps the face's geometry
                if sample.regions is not None:
                    psnr, ssim = preservation_outside(x, edited, sample.regions)
                    psnr_out += psnr
                    ssim_out += ssim
                if inception is not None:
                    fid_fakes.append(inception_features(inception, edited).cpu())
            if inception is not None:
                fid_reals.append(inception_features(inception, x).cpu())
            advance(len(chunk))

    accuracy = {key: {"accuracy": float(np.mean(v)), "n": len(v)} for key, v in sorted(correct.items())}
    report: dict[str, Any] = {
        "n": len(indices),
        "seed": seed,
        "data": data_name,
        "attribute": editor.attribute,
        "domains": domains,
        "img_size": editor.config.img_size,
        "preset": editor.config.name,
        "classifier_accuracy_on_sources": float(np.mean(source_correct)),
        "attribute_accuracy": accuracy,
        "attribute_accuracy_mean": float(np.mean([a["accuracy"] for a in accuracy.values()])),
        "preservation": {
            "psnr_outside_region_db": summarize(psnr_out) if has_regions else NO_REGION,
            "ssim_outside_region": summarize(ssim_out) if has_regions else NO_REGION,
            "s_un_cosine": summarize(cosine),
        },
        "reconstruction": {"l1": summarize(recon_l1), "psnr_db": summarize(recon_psnr)},
        "cycle": {"psnr_db": summarize(cycle_psnr)},
        "fid": NO_FID_WEIGHTS,
    }
    if inception is not None:
        report["fid"] = frechet_distance(torch.cat(fid_reals), torch.cat(fid_fakes)) if len(indices) >= 2 else "not computed: FID needs ≥ 2 images"
    return report


@torch.no_grad()
def edit_grid(editor: Editor, data: Dataset, rows: int = 8, seed: int = 0) -> torch.Tensor:
    """[rows, 4, 3, H, W]: source | edit α=0.5 | α=1 | reverse edit (α=1 edit taken back), both directions mixed."""
    editor.eval()
    device = next(editor.parameters()).device
    indices = _balanced_indices(data, rows, seed, len(editor.domains))
    sample = collate(data, indices)
    x, src = sample.images.to(device), sample.labels.to(device)
    m = None if sample.masks is None else sample.masks.to(device)
    tgt = (src + 1) % len(editor.domains)
    half = edit(editor, x, src, tgt, 0.5, m)
    full = edit(editor, x, src, tgt, 1.0, m)
    back = edit(editor, full, tgt, src, 1.0, m)
    return torch.stack([x, half, full, back], dim=1).cpu()


def _balanced_indices(data: Dataset, rows: int, seed: int, num_domains: int) -> list[int]:
    """Up to `rows` seeded indices, cycling through the domains so every direction shows."""
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(data), generator=generator).tolist()  # type: ignore[arg-type]
    by_domain: dict[int, list[int]] = {d: [] for d in range(num_domains)}
    for index in order[: max(rows * num_domains * 4, 64)]:
        by_domain.setdefault(int(data[index][1]), []).append(index)
    chosen: list[int] = []
    while len(chosen) < rows and any(by_domain.values()):
        for d in range(num_domains):
            if by_domain.get(d) and len(chosen) < rows:
                chosen.append(by_domain[d].pop(0))
    return chosen

