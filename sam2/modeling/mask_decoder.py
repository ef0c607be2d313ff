"""Mask decoder: output tokens + two-way transformer + hypernetwork heads."""

from dataclasses import dataclass
from typing import List, Optional

import torch
from torch import nn

from .common import MLP, LayerNorm2d
from .two_way_transformer import TwoWayTransformer


@dataclass
class DecoderOutput:
    """masks (B, M, 4h, 4w) logits; iou_pred (B, M); sam_tokens (B, M or 1, C) tokens
    for object pointers; object_score_logits (B, 1)."""

    masks: torch.Tensor
    iou_pred: torch.Tensor
    sam_tokens: torch.Tensor
    object_score_logits: torch.Tensor


def stability_scores(mask_logits: torch.Tensor, delta: float) -> torch.Tensor:
    """IoU between the masks thresholded at +delta and -delta; (..., H, W) -> (...)."""
    flat = mask_logits.flatten(-2)
    inner = (flat > delta).sum(-1).float()
    outer = (flat > -delta).sum(-1).float()
    return torch.where(outer > 0, inner / outer, 1.0)


class MaskDecoder(nn.Module):
    """Predicts 1 + ``num_multimask_outputs`` masks, their IoU and an object score."""

    def __init__(
        self, transformer_dim: int, transformer: TwoWayTransformer, num_multimask_outputs: int = 3,
        iou_head_depth: int = 3, iou_head_hidden_dim: int = 256, use_high_res_features: bool = True,
        iou_prediction_use_sigmoid: bool = True, pred_obj_scores: bool = True,
        pred_obj_scores_mlp: bool = True, use_multimask_token_for_obj_ptr: bool = True,
        dynamic_multimask_via_stability: bool = False, dynamic_multimask_stability_delta: float = 0.05,
        dynamic_multimask_stability_thresh: float = 0.98,
    ) -> None:
        super().__init__()
        self.transformer = transformer
        self.num_mask_tokens = num_multimask_outputs + 1
        self.iou_token = nn.Embedding(1, transformer_dim)
        self.mask_tokens = nn.Embedding(self.num_mask_tokens, transformer_dim)
        self.pred_obj_scores = pred_obj_scores
        if pred_obj_scores:
            self.obj_score_token = nn.Embedding(1, transformer_dim)
        self.use_multimask_token_for_obj_ptr = use_multimask_token_for_obj_ptr

        self.output_upscaling = nn.Sequential(
            nn.ConvTranspose2d(transformer_dim, transformer_dim // 4, kernel_size=2, stride=2),
            LayerNorm2d(transformer_dim // 4),
            nn.GELU(),
            nn.ConvTranspose2d(transformer_dim // 4, transformer_dim // 8, kernel_size=2, stride=2),
            nn.GELU(),
        )
        self.use_high_res_features = use_high_res_features
        if use_high_res_features:
            self.conv_s0 = nn.Conv2d(transformer_dim, transformer_dim // 8, kernel_size=1)
            self.conv_s1 = nn.Conv2d(transformer_dim, transformer_dim // 4, kernel_size=1)
        self.output_hypernetworks_mlps = nn.ModuleList(
            MLP(transformer_dim, transformer_dim, transformer_dim // 8, 3) for _ in range(self.num_mask_tokens)
        )
        self.iou_prediction_head = MLP(
            transformer_dim, iou_head_hidden_dim, self.num_mask_tokens, iou_head_depth,
            sigmoid_output=iou_prediction_use_sigmoid,
        )
        if pred_obj_scores:
            self.pred_obj_score_head = (
                MLP(transformer_dim, transformer_dim, 1, 3) if pred_obj_scores_mlp else nn.Linear(transformer_dim, 1)
            )
        # Single-mask outputs fall back to the best multimask output when unstable.
        self.dynamic_multimask_via_stability, self.dynamic_multimask_stability_delta, self.dynamic_multimask_stability_thresh = (
            dynamic_multimask_via_stability, dynamic_multimask_stability_delta, dynamic_multimask_stability_thresh
        )

    def forward(
        self, image_embeddings: torch.Tensor, image_pe: torch.Tensor, sparse_prompt_embeddings: torch.Tensor,
        dense_prompt_embeddings: torch.Tensor, multimask_output: bool, repeat_image: bool,
        high_res_features: Optional[List[torch.Tensor]] = None,
    ) -> DecoderOutput:
        """image_embeddings (B or 1, C, h, w); image_pe (1, C, h, w); sparse (B, N, C);
        dense (B, C, h, w); high_res_features [(B, C/8, 4h, 4w), (B, C/4, 2h, 2w)]."""
        masks, iou_pred, mask_tokens, object_score_logits = self._predict_all(
            image_embeddings, image_pe, sparse_prompt_embeddings, dense_prompt_embeddings,
            repeat_image, high_res_features,
        )
        if multimask_output:
            masks, iou_pred = masks[:, 1:], iou_pred[:, 1:]
        elif self.dynamic_multimask_via_stability and not self.training:
            masks, iou_pred = self._fall_back_to_best_multimask(masks, iou_pred)
        else:
            masks, iou_pred = masks[:, :1], iou_pred[:, :1]
        # The single-mask token is the object-memory token unless several masks are returned.
        use_multimask_tokens = multimask_output and self.use_multimask_token_for_obj_ptr
        sam_tokens = mask_tokens[:, 1:] if use_multimask_tokens else mask_tokens[:, :1]
        return DecoderOutput(masks, iou_pred, sam_tokens, object_score_logits)

    def _predict_all(self, image_embeddings, image_pe, sparse, dense, repeat_image, high_res_features):
        learned = [self.iou_token.weight, self.mask_tokens.weight]
        if self.pred_obj_scores:
            learned.insert(0, self.obj_score_token.weight)
        iou_index = 1 if self.pred_obj_scores else 0
        output_tokens = torch.cat(learned, dim=0).unsqueeze(0).expand(sparse.shape[0], -1, -1)
        tokens = torch.cat([output_tokens, sparse], dim=1)

        batch = tokens.shape[0]
        image = torch.repeat_interleave(image_embeddings, batch, dim=0) if repeat_image else image_embeddings
        image = image + dense
        channels, height, width = image.shape[1:]
        image_pe = torch.repeat_interleave(image_pe, batch, dim=0)

        hs, image_tokens = self.transformer(image, image_pe, tokens)
        iou_token_out = hs[:, iou_index]
        mask_tokens_out = hs[:, iou_index + 1 : iou_index + 1 + self.num_mask_tokens]

        image = image_tokens.transpose(1, 2).reshape(batch, channels, height, width)
        deconv1, norm1, act1, deconv2, act2 = self.output_upscaling
        if self.use_high_res_features:
            fine, medium = high_res_features
            upscaled = act1(norm1(deconv1(image) + medium))
            upscaled = act2(deconv2(upscaled) + fine)
        else:
            upscaled = act2(deconv2(act1(norm1(deconv1(image)))))

        weights = torch.stack(
            [mlp(mask_tokens_out[:, i]) for i, mlp in enumerate(self.output_hypernetworks_mlps)], dim=1
        )
        b, c, h, w = upscaled.shape
        masks = (weights @ upscaled.view(b, c, h * w)).view(b, -1, h, w)

        iou_pred = self.iou_prediction_head(iou_token_out)
        if self.pred_obj_scores:
            object_score_logits = self.pred_obj_score_head(hs[:, 0])
        else:
            object_score_logits = iou_pred.new_full((iou_pred.shape[0], 1), 10.0)
        return masks, iou_pred, mask_tokens_out, object_score_logits

    def _fall_back_to_best_multimask(self, masks: torch.Tensor, iou_pred: torch.Tensor):
        """Keep the single-mask output where it is stable, else the multimask output
        with the highest predicted IoU. (B, 4, H, W), (B, 4) -> (B, 1, H, W), (B, 1)."""
        rows = torch.arange(masks.shape[0], device=masks.device)
        best = iou_pred[:, 1:].argmax(dim=-1) + 1
        best_masks, best_iou = masks[rows, best].unsqueeze(1), iou_pred[rows, best].unsqueeze(1)
        single_masks, single_iou = masks[:, :1], iou_pred[:, :1]
        stable = stability_scores(single_masks, self.dynamic_multimask_stability_delta)
        stable = stable >= self.dynamic_multimask_stability_thresh
        return (
            torch.where(stable[..., None, None], single_masks, best_masks),
            torch.where(stable, single_iou, best_iou),
        )
