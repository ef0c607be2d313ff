"""Image encoder: a trunk (Hiera, a timm CNN or a ViT) + a neck producing features and their encodings."""

from dataclasses import dataclass
from typing import List, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .position_encoding import PositionEmbeddingSine


@dataclass
class BackboneOutput:
    """Features of a batch of images, finest level first.

    backbone_fpn[i]: (B, C, S / 4 / 2**i, ...); vision_pos_enc[i] matches it.
    """

    backbone_fpn: List[torch.Tensor]
    vision_pos_enc: List[torch.Tensor]

    @property
    def vision_features(self) -> torch.Tensor:
        """The coarsest kept level, (B, C, S/16, S/16)."""
        return self.backbone_fpn[-1]


class FpnNeck(nn.Module):
    """Projects every trunk stage to ``d_model`` channels; chosen levels also receive
    the upsampled coarser level (top-down pathway)."""

    def __init__(
        self, d_model: int, backbone_channel_list: Sequence[int],
        fpn_top_down_levels: Optional[Sequence[int]] = None, interpolation: str = "nearest",
    ) -> None:
        super().__init__()
        self.d_model = d_model
        self.backbone_channel_list = list(backbone_channel_list)
        self.position_encoding = PositionEmbeddingSine(d_model)
        self.convs = nn.ModuleList()
        for channels in self.backbone_channel_list:  # coarsest first
            lateral = nn.Sequential()
            lateral.add_module("conv", nn.Conv2d(channels, d_model, kernel_size=1))
            self.convs.append(lateral)
        levels = range(len(self.convs)) if fpn_top_down_levels is None else fpn_top_down_levels
        self.top_down_levels = set(levels)
        self.interpolation = interpolation

    def forward(self, trunk_features: List[torch.Tensor], projections: Sequence[Optional[nn.Conv2d]] = ()):
        """trunk_features finest first -> (features, encodings), finest first.

        ``projections[i]``, when given, is a 1x1 convolution applied to level i's output.
        A level that takes no top-down input and feeds none is then computed by the product
        of its lateral convolution and the projection, never at ``d_model`` channels.
        """
        count = len(self.convs)
        projections = list(projections) + [None] * (count - len(projections))
        features: List[torch.Tensor] = [None] * count
        coarser = None
        for level in reversed(range(count)):
            conv, projection = self.convs[count - 1 - level].conv, projections[level]
            feeds_finer = any(finer in self.top_down_levels for finer in range(level))
            if projection is not None and level not in self.top_down_levels and not feeds_finer:
                features[level] = _composed_pointwise_conv(projection, conv, trunk_features[level])
                continue
            lateral = conv(trunk_features[level])
            if coarser is not None and level in self.top_down_levels:
                upsampled = F.interpolate(
                    coarser.to(torch.float32), scale_factor=2.0, mode=self.interpolation,
                    align_corners=None if self.interpolation == "nearest" else False,
                )
                lateral = lateral + upsampled
            coarser = lateral
            features[level] = lateral if projection is None else projection(lateral)
        encodings = [self.position_encoding(f) for f in features]
        return features, encodings


def _composed_pointwise_conv(outer: nn.Conv2d, inner: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    """outer(inner(x)) for two 1x1 convolutions, as one convolution of their product."""
    outer_weight, inner_weight = outer.weight.flatten(1), inner.weight.flatten(1)
    weight = (outer_weight @ inner_weight)[:, :, None, None]
    bias = outer_weight @ inner.bias + outer.bias
    return F.conv2d(x, weight, bias)


class ImageEncoder(nn.Module):
    """Trunk + neck; drops the ``scalp`` coarsest levels from the output."""

    def __init__(self, trunk: nn.Module, neck: nn.Module, scalp: int = 1) -> None:
        super().__init__()
        if trunk.channel_list != neck.backbone_channel_list:
            raise ValueError(
                f"trunk channels {trunk.channel_list} do not match neck channels {neck.backbone_channel_list}"
            )
        self.trunk = trunk
        self.neck = neck
        self.scalp = scalp

    def forward(self, images: torch.Tensor, projections: Sequence[Optional[nn.Conv2d]] = ()) -> BackboneOutput:
        """images (B, 3, S, S) normalized -> BackboneOutput; ``projections[i]`` (1x1
        convolutions) are applied to level i (see FpnNeck.forward)."""
        features, encodings = self.neck(self.trunk(images), projections)
        if self.scalp:
            features, encodings = features[: -self.scalp], encodings[: -self.scalp]
        return BackboneOutput(backbone_fpn=list(features), vision_pos_enc=list(encodings))
