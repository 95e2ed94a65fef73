"""Two small image classifiers: a few-thousand-parameter ViT (``testing``) and a small CNN.

``testing`` mirrors the TransFG fork's tiny ViT config: patch embedding, a class token, learned
position embeddings, pre-norm transformer blocks, a linear head. No dropout, so a resumed
training draws no random numbers the checkpoint does not hold.
"""

from __future__ import annotations

import torch
from torch import nn

MODEL_TYPES = ("testing", "cnn")


class TinyViT(nn.Module):
    """A ViT for small images (``img_size`` divisible by ``patch_size``)."""

    def __init__(
        self,
        *,
        img_size: int,
        channels: int,
        num_classes: int,
        patch_size: int = 2,
        dim: int = 16,
        depth: int = 2,
        heads: int = 2,
        mlp_dim: int = 32,
    ) -> None:
        super().__init__()
        if img_size % patch_size:
            raise ValueError(f"img_size {img_size} is not a multiple of patch_size {patch_size}")
        n_patches = (img_size // patch_size) ** 2
        self.patch = nn.Conv2d(channels, dim, kernel_size=patch_size, stride=patch_size)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(torch.randn(1, n_patches + 1, dim) * 0.02)
        layer = nn.TransformerEncoderLayer(
            dim, heads, mlp_dim, dropout=0.0, activation="gelu", batch_first=True, norm_first=True
        )
        self.blocks = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.patch(x).flatten(2).transpose(1, 2)  # (B, patches, dim)
        cls = self.cls.expand(tokens.shape[0], -1, -1)
        tokens = torch.cat([cls, tokens], dim=1) + self.pos
        return self.head(self.norm(self.blocks(tokens)[:, 0]))  # type: ignore[no-any-return]


class SmallCNN(nn.Module):
    """Two conv blocks and a linear head."""

    def __init__(self, *, img_size: int, channels: int, num_classes: int, width: int = 16) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(channels, width, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(4),
        )
        self.head = nn.Linear(2 * width * 16, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).flatten(1))  # type: ignore[no-any-return]


def build_model(model_type: str, *, img_size: int, channels: int, num_classes: int) -> nn.Module:
    """A fresh model of ``model_type`` (``testing`` or ``cnn``)."""
    if model_type == "testing":
        return TinyViT(img_size=img_size, channels=channels, num_classes=num_classes)
    if model_type == "cnn":
        return SmallCNN(img_size=img_size, channels=channels, num_classes=num_classes)
    raise ValueError(f"unknown model_type {model_type!r}; expected one of {', '.join(MODEL_TYPES)}")


def n_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
