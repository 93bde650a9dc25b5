"""The attribute classifier: a small CNN telling which domain an image in [−1, 1] belongs to.

The eval scores attribute correctness with it (is the edited face in the target domain?) and
the runtime uses it to guess a face's source domain, so inference is a handful of strided
convolutions and a global pool: it runs at any input size (64², 128², …) and resizes to the
size it was trained at. Weights live in safetensors with their config in the metadata.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset

from l2m_edge.errors import DataError
from l2m_edge.checkpoint import WeightsFile, write_weights

from .progress import progress_bar

FORMAT = "l2m-edge.classifier/1"


@dataclass(frozen=True)
class ClassifierConfig:
    """Input size it was trained at, the domain names (index = label) and conv widths."""

    img_size: int
    domains: tuple[str, ...]
    attribute: str = ""
    widths: tuple[int, ...] = (16, 32, 64, 128)

    def __post_init__(self) -> None:
        if len(self.domains) < 2:
            raise ValueError(f"a classifier needs ≥ 2 domains, got {list(self.domains)}")
        if self.img_size < 16:
            raise ValueError(f"img_size must be ≥ 16, got {self.img_size}")

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "ClassifierConfig":
        data = json.loads(text)
        return cls(
            img_size=int(data["img_size"]),
            domains=tuple(data["domains"]),
            attribute=str(data.get("attribute", "")),
            widths=tuple(int(w) for w in data["widths"]),
        )


class AttributeClassifier(nn.Module):
    """Strided 3×3 convs (stride 2 each) → global average pool → one logit per domain."""

    def __init__(self, config: ClassifierConfig) -> None:
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        channels = 3
        for width in config.widths:
            layers += [nn.Conv2d(channels, width, 3, 2, 1), nn.BatchNorm2d(width), nn.LeakyReLU(0.2)]
            channels = width
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(channels, len(config.domains))

    @property
    def domains(self) -> tuple[str, ...]:
        return self.config.domains

    def _fit(self, images: torch.Tensor) -> torch.Tensor:
        size = self.config.img_size
        if images.shape[-2:] != (size, size):
            images = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
        return images

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Logits [N, D] for images [N,3,H,W] in [−1, 1] of any size."""
        return self.head(self.features(self._fit(images)).mean(dim=(2, 3)))

    @torch.no_grad()
    def predict_domain(self, images: torch.Tensor) -> torch.Tensor:
        """Domain probabilities [N, D] (eval mode, no gradients)."""
        was_training = self.training
        self.eval()
        probs = self(images.to(self.head.weight.device, self.head.weight.dtype)).softmax(dim=1)
        self.train(was_training)
        return probs


@dataclass
class TrainResult:
    """What training reports back: steps taken and the accuracy on the data it was given."""

    steps: int
    final_loss: float
    train_accuracy: float
    history: list[float] = field(default_factory=list)


def _materialize(dataset: Dataset, progress: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """All (image, label) pairs of a small data set as two tensors, so epochs cost no re-rendering."""
    size = len(dataset)  # type: ignore[arg-type]
    if size == 0:
        raise DataError("the classifier's data set is empty")
    images, labels = [], []
    with progress_bar("loading images", size, enabled=progress) as advance:
        for i in range(size):
            item = dataset[i]
            images.append(torch.as_tensor(item[0], dtype=torch.float32))
            labels.append(int(item[1]))
            advance()
    return torch.stack(images), torch.tensor(labels, dtype=torch.long)


def train_classifier(
    dataset: Dataset,
    domains: Sequence[str],
    attribute: str = "",
    img_size: int | None = None,
    steps: int = 600,
    batch_size: int = 64,
    lr: float = 2e-3,
    seed: int = 0,
    progress: bool = False,
) -> tuple[AttributeClassifier, TrainResult]:
    """Train a classifier on a map-style data set of (image [3,H,W] in [−1,1], label) pairs.

    The data is held in memory (the sets this trains on are a few thousand small images) and
    augmented with horizontal flips and small brightness shifts; Adam with a cosine schedule.
    """
    torch.manual_seed(seed)
    images, labels = _materialize(dataset, progress)
    config = ClassifierConfig(img_size=img_size or int(images.shape[-1]), domains=tuple(domains), attribute=attribute)
    model = AttributeClassifier(config)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    generator = torch.Generator().manual_seed(seed)
    loader = DataLoader(
        torch.utils.data.TensorDataset(images, labels), batch_size=batch_size, shuffle=True, drop_last=len(images) > batch_size, generator=generator
    )
    history: list[float] = []
    model.train()
    step = 0
    with progress_bar("training classifier", steps, enabled=progress) as advance:
        while step < steps:
            for x, y in loader:
                flip = torch.rand(x.shape[0], generator=generator) < 0.5
                x = torch.where(flip[:, None, None, None], x.flip(-1), x)
                x = (x + 0.1 * (torch.rand(x.shape[0], 1, 1, 1, generator=generator) - 0.5)).clamp(-1, 1)
                loss = F.cross_entropy(model(x), y)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                schedule.step()
                history.append(loss.item())
                step += 1
                advance(status=f"loss {history[-1]:.4f}")
                if step >= steps:
                    break
    model.eval()
    result = TrainResult(steps=steps, final_loss=history[-1], train_accuracy=accuracy(model, images, labels), history=history)
    return model, result


@torch.no_grad()
def accuracy(model: AttributeClassifier, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 256) -> float:
    """Fraction of images whose most probable domain is their label."""
    correct = 0
    for i in range(0, len(images), batch_size):
        correct += int((model.predict_domain(images[i : i + batch_size]).argmax(1) == labels[i : i + batch_size]).sum())
    return correct / max(len(images), 1)


def evaluate_classifier(model: AttributeClassifier, dataset: Dataset) -> float:
    """Accuracy on a held-out map-style data set of (image, label) pairs."""
    images, labels = _materialize(dataset)
    return accuracy(model, images, labels)


def save_classifier(model: AttributeClassifier, path: str | os.PathLike, extra: dict[str, Any] | None = None) -> Path:
    """Write weights and config atomically; `extra` (accuracy, data, seed) goes into the metadata."""
    metadata = {"format": FORMAT, "config": model.config.to_json(), "extra": json.dumps(extra or {}, sort_keys=True)}
    return write_weights(path, model, metadata)


CLASSIFIER_FILE = WeightsFile(FORMAT, "attribute classifier", "train one with `l2m-edge classifier train`")
read_classifier_metadata = CLASSIFIER_FILE.metadata
classifier_extra = CLASSIFIER_FILE.extra


def _build_classifier(metadata: dict[str, str]) -> tuple[AttributeClassifier, str]:
    model = AttributeClassifier(ClassifierConfig.from_json(metadata["config"]))
    return model, f"the classifier config {model.config.to_json()}"


def load_classifier(path: str | os.PathLike, device: str | torch.device = "cpu") -> AttributeClassifier:
    """Rebuild the classifier from the file alone, in eval mode; mismatches are one-line errors."""
    return CLASSIFIER_FILE.load(path, _build_classifier, device)  # type: ignore[return-value]
