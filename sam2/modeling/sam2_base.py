"""The SAM 2 model: image features, prompts and memories -> masks, one tracking step at a time."""

from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any, Callable, ClassVar, Dict, List, Mapping, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.init import trunc_normal_

from .attention import RotaryLayout
from .common import MLP, parameter_state
from .image_encoder import ImageEncoder
from .mask_decoder import MaskDecoder
from .memory_attention import MemoryAttention, StoredMemories, memory_tokens
from .memory_encoder import MemoryEncoder
from .memory_selection import MemoryEntry, MemorySelection, select_memories
from .perceiver import SpatialPerceiver
from .position_encoding import temporal_sine_encoding
from .prompt_encoder import PromptEncoder
from .two_way_transformer import TwoWayTransformer

# Mask logit written where the model says the object is absent.
NO_OBJ_SCORE = -1024.0
# Logit scale and bias that turn a binary mask into confident logits.
MASK_AS_LOGITS_SCALE, MASK_AS_LOGITS_BIAS = 20.0, -10.0


@dataclass
class PointPrompt:
    """point_coords (B, N, 2) in model-input pixels; point_labels (B, N) int32."""

    point_coords: torch.Tensor
    point_labels: torch.Tensor

    def __getitem__(self, key: str) -> torch.Tensor:
        return getattr(self, key)

    def extended(self, coords: torch.Tensor, labels: torch.Tensor) -> "PointPrompt":
        """A prompt with (B, K, 2) coords and (B, K) labels appended."""
        return PointPrompt(
            torch.cat([self.point_coords, coords], dim=1), torch.cat([self.point_labels, labels], dim=1)
        )


@dataclass
class FrameFeatures:
    """Backbone features of one frame for B objects.

    high_res: [(B, C/8, 4h, 4w), (B, C/4, 2h, 2w)], empty for single-level models
    (EfficientTAM); vision and vision_pos: (B, C, h, w).
    """

    high_res: List[torch.Tensor]
    vision: torch.Tensor
    vision_pos: torch.Tensor


@dataclass
class Candidates:
    """The decoder's M candidate masks for B objects: low_res (B, M, 4h, 4w) and high_res
    (B, M, S, S) logits (absent objects already at NO_OBJ_SCORE), iou_pred (B, M) and
    object_score_logits (B, 1); obj_ptr (B, M, C) each candidate's object pointer, when the
    step's rules ask for them."""

    low_res: torch.Tensor
    high_res: torch.Tensor
    iou_pred: torch.Tensor
    object_score_logits: torch.Tensor
    obj_ptr: Optional[torch.Tensor] = None


# Chooses one of several candidate masks per object: Candidates -> (B,) indices.
CandidateChoice = Callable[[Candidates], torch.Tensor]
# Chooses one object's memories: (row, frame_idx, cond_outputs, non_cond_outputs, num_frames,
# reverse) -> MemorySelection, where row is the object's place in the step's batch.
MemoryChoice = Callable[[int, int, Mapping[int, MemoryEntry], Mapping[int, MemoryEntry], int, bool], MemorySelection]


@dataclass(frozen=True)
class StepRules:
    """What a tracking policy decides in a step (the defaults are SAM 2's own rules): the
    object-score logit above which an object counts as present (its mask and pointer),
    which candidate mask is kept (None: the highest predicted IoU), which stored frames
    an object attends to (None: :func:`select_memories`) and whether the candidates carry
    each one's object pointer."""

    presence_threshold: float = 0.0
    choose: Optional[CandidateChoice] = None
    select: Optional[MemoryChoice] = None
    candidate_pointers: bool = False


DEFAULT_RULES = StepRules()


@dataclass
class HeadsOutput:
    """Output of the prompt encoder + mask decoder for B objects: the chosen mask as
    low_res_masks (B, 1, 4h, 4w) and high_res_masks (B, 1, S, S) logits; obj_ptr (B, C);
    object_score_logits (B, 1); iou_score (B, 1) the chosen mask's predicted IoU;
    candidates, the decoder's masks before the choice."""

    low_res_masks: torch.Tensor
    high_res_masks: torch.Tensor
    obj_ptr: torch.Tensor
    object_score_logits: torch.Tensor
    iou_score: torch.Tensor
    candidates: Optional[Candidates] = None


@dataclass
class TrackOutput:
    """One tracking step for B objects.

    pred_masks (B, 1, 4h, 4w) and pred_masks_high_res (B, 1, S, S) logits; obj_ptr (B, C);
    object_score_logits (B, 1); iou_score (B, 1); maskmem_features (B, C_mem, h, w) when
    memory was encoded; candidates, the decoder's masks before the choice (when tracking).
    """

    pred_masks: torch.Tensor
    pred_masks_high_res: torch.Tensor
    obj_ptr: torch.Tensor
    object_score_logits: torch.Tensor
    iou_score: torch.Tensor
    maskmem_features: Optional[torch.Tensor] = None
    candidates: Optional[Candidates] = None


class SAM2Base(nn.Module):
    """Image encoder, prompt encoder, mask decoder, memory attention and memory encoder; with
    ``spatial_perceiver`` (EdgeTAM) stored memories are compressed to latents."""

    # Settings the official builders add with ``apply_postprocessing=True``: with one click,
    # fall back to the most stable of the multimask outputs when the single one is unstable.
    postprocessing_defaults: ClassVar[Mapping[str, Any]] = MappingProxyType(dict(
        dynamic_multimask_via_stability=True,
        dynamic_multimask_stability_delta=0.05,
        dynamic_multimask_stability_thresh=0.98,
    ))

    def __init__(
        self, image_encoder: ImageEncoder, memory_attention: MemoryAttention, memory_encoder: MemoryEncoder,
        image_size: int = 1024, num_maskmem: int = 7, mem_dim: int = 64, decoder_heads: int = 8,
        decoder_mlp_dim: int = 2048, iou_head_hidden_dim: int = 256, mask_in_chans: int = 16,
        max_obj_ptrs_in_encoder: int = 16, temporal_obj_ptr_encoding: bool = True,
        no_obj_embed_spatial: bool = True, sigmoid_scale_for_mem_enc: float = 20.0,
        sigmoid_bias_for_mem_enc: float = -10.0, binarize_mask_from_pts_for_mem_enc: bool = False,
        max_cond_frames_in_attn: int = -1, dynamic_multimask_via_stability: bool = False,
        dynamic_multimask_stability_delta: float = 0.05, dynamic_multimask_stability_thresh: float = 0.98,
        use_high_res_features: bool = True, spatial_perceiver: Optional[SpatialPerceiver] = None,
        multimask_max_pt_num: int = 1,
    ) -> None:
        super().__init__()
        hidden_dim = memory_attention.d_model
        self.image_encoder = image_encoder
        self.memory_attention = memory_attention
        self.memory_encoder = memory_encoder
        self.spatial_perceiver = spatial_perceiver
        self.hidden_dim = hidden_dim
        self.mem_dim = mem_dim
        self.image_size = image_size
        self.backbone_stride = 16
        self.num_maskmem = num_maskmem
        self.max_obj_ptrs_in_encoder = max_obj_ptrs_in_encoder
        self.temporal_obj_ptr_encoding = temporal_obj_ptr_encoding
        self.sigmoid_scale_for_mem_enc = sigmoid_scale_for_mem_enc
        self.sigmoid_bias_for_mem_enc = sigmoid_bias_for_mem_enc
        self.binarize_mask_from_pts_for_mem_enc = binarize_mask_from_pts_for_mem_enc
        self.max_cond_frames_in_attn = max_cond_frames_in_attn
        # Multimask output is used while a frame has at most this many clicks (official: 1).
        self.multimask_output_in_sam, self.multimask_max_pt_num = True, multimask_max_pt_num

        self.maskmem_tpos_enc = nn.Parameter(torch.zeros(num_maskmem, 1, 1, mem_dim))
        self.no_mem_embed = nn.Parameter(torch.zeros(1, 1, hidden_dim))
        self.no_mem_pos_enc = nn.Parameter(torch.zeros(1, 1, hidden_dim))
        self.no_obj_ptr = nn.Parameter(torch.zeros(1, hidden_dim))
        self.no_obj_embed_spatial = nn.Parameter(torch.zeros(1, mem_dim)) if no_obj_embed_spatial else None
        for parameter in (self.maskmem_tpos_enc, self.no_mem_embed, self.no_mem_pos_enc, self.no_obj_ptr, self.no_obj_embed_spatial):
            if parameter is not None:
                trunc_normal_(parameter, std=0.02)
        self.mask_downsample = nn.Conv2d(1, 1, kernel_size=4, stride=4)

        self.sam_image_embedding_size = image_size // self.backbone_stride
        self.sam_prompt_encoder = PromptEncoder(
            embed_dim=hidden_dim,
            image_embedding_size=(self.sam_image_embedding_size, self.sam_image_embedding_size),
            input_image_size=(image_size, image_size),
            mask_in_chans=mask_in_chans,
        )
        self.sam_mask_decoder = MaskDecoder(
            transformer_dim=hidden_dim,
            transformer=TwoWayTransformer(depth=2, embedding_dim=hidden_dim, num_heads=decoder_heads, mlp_dim=decoder_mlp_dim),
            iou_head_hidden_dim=iou_head_hidden_dim,
            use_high_res_features=use_high_res_features,
            dynamic_multimask_via_stability=dynamic_multimask_via_stability,
            dynamic_multimask_stability_delta=dynamic_multimask_stability_delta,
            dynamic_multimask_stability_thresh=dynamic_multimask_stability_thresh,
        )
        self.obj_ptr_proj = MLP(hidden_dim, hidden_dim, hidden_dim, 3)
        self.obj_ptr_tpos_proj = nn.Linear(hidden_dim, mem_dim) if temporal_obj_ptr_encoding else nn.Identity()

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def forward(self, *args, **kwargs):
        raise NotImplementedError("use SAM2VideoPredictor or SAM2ImagePredictor for inference")

    # ----------------------------------------------------------------- features
    def forward_image(self, images: torch.Tensor):
        """images (B, 3, S, S) -> BackboneOutput whose two finest levels are already
        projected by the decoder's high-resolution convolutions."""
        decoder = self.sam_mask_decoder
        projections = (decoder.conv_s0, decoder.conv_s1) if decoder.use_high_res_features else ()
        return self.image_encoder(images, projections)

    def frame_features(self, images: torch.Tensor) -> FrameFeatures:
        """images (B, 3, S, S) -> FrameFeatures."""
        out = self.forward_image(images)
        return FrameFeatures(out.backbone_fpn[:-1], out.backbone_fpn[-1], out.vision_pos_enc[-1])

    # -------------------------------------------------------------------- heads
    def _forward_sam_heads(
        self, backbone_features: torch.Tensor, point_inputs: Optional[PointPrompt] = None,
        mask_inputs: Optional[torch.Tensor] = None, high_res_features: Optional[List[torch.Tensor]] = None,
        multimask_output: bool = False, rules: StepRules = DEFAULT_RULES,
    ) -> HeadsOutput:
        """backbone_features (B, C, h, w); mask_inputs (B, 1, H, W) logits or binary."""
        batch, device = backbone_features.shape[0], backbone_features.device
        if point_inputs is not None:
            coords, labels = point_inputs.point_coords, point_inputs.point_labels
        else:
            coords = torch.zeros(batch, 1, 2, device=device)
            labels = -torch.ones(batch, 1, dtype=torch.int32, device=device)
        mask_prompt = None
        if mask_inputs is not None:
            mask_prompt = mask_inputs
            if mask_inputs.shape[-2:] != self.sam_prompt_encoder.mask_input_size:
                mask_prompt = F.interpolate(
                    mask_inputs.float(), size=self.sam_prompt_encoder.mask_input_size,
                    mode="bilinear", align_corners=False, antialias=True,
                )
        sparse, dense = self.sam_prompt_encoder(points=(coords, labels), boxes=None, masks=mask_prompt)
        decoded = self.sam_mask_decoder(
            image_embeddings=backbone_features,
            image_pe=self.sam_prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            multimask_output=multimask_output,
            repeat_image=False,
            high_res_features=high_res_features,
        )
        is_present = decoded.object_score_logits > rules.presence_threshold
        low_res = torch.where(is_present[:, None, None], decoded.masks, NO_OBJ_SCORE).float()
        high_res = F.interpolate(low_res, size=(self.image_size, self.image_size), mode="bilinear", align_corners=False)
        candidates = Candidates(low_res, high_res, decoded.iou_pred, decoded.object_score_logits)
        if rules.candidate_pointers:
            tokens = decoded.sam_tokens.expand(-1, low_res.shape[1], -1)
            candidates.obj_ptr = self._gate_pointer(self.obj_ptr_proj(tokens), is_present.float()[:, None])

        token = decoded.sam_tokens[:, 0]
        low_best, high_best, iou_score = low_res, high_res, decoded.iou_pred[:, :1]
        if multimask_output:
            rows = torch.arange(batch, device=device)
            best = decoded.iou_pred.argmax(dim=-1) if rules.choose is None else rules.choose(candidates)
            low_best, high_best = low_res[rows, best].unsqueeze(1), high_res[rows, best].unsqueeze(1)
            iou_score = decoded.iou_pred[rows, best].unsqueeze(1)
            if decoded.sam_tokens.shape[1] > 1:
                token = decoded.sam_tokens[rows, best]
        obj_ptr = self._gate_pointer(self.obj_ptr_proj(token), is_present.float())
        return HeadsOutput(low_best, high_best, obj_ptr, decoded.object_score_logits, iou_score, candidates)

    def _gate_pointer(self, obj_ptr: torch.Tensor, presence: torch.Tensor) -> torch.Tensor:
        """Replace the pointer of absent objects by the learned no-object pointer; presence (B, 1)."""
        return presence * obj_ptr + (1 - presence) * self.no_obj_ptr

    def _use_mask_as_output(
        self, backbone_features: torch.Tensor, high_res_features: List[torch.Tensor], mask_inputs: torch.Tensor,
        rules: StepRules = DEFAULT_RULES,
    ) -> HeadsOutput:
        """Turn a binary (B, 1, S, S) mask into confident logits; its pointer still comes from the decoder."""
        mask = mask_inputs.float()
        high_res = mask * MASK_AS_LOGITS_SCALE + MASK_AS_LOGITS_BIAS
        low_res = F.interpolate(
            high_res, size=(high_res.shape[-2] // 4, high_res.shape[-1] // 4),
            mode="bilinear", align_corners=False, antialias=True,
        )
        heads = self._forward_sam_heads(
            backbone_features, mask_inputs=self.mask_downsample(mask), high_res_features=high_res_features, rules=rules
        )
        presence = (mask.flatten(1) > 0).any(dim=1, keepdim=True).float()
        object_score_logits = MASK_AS_LOGITS_SCALE * presence + MASK_AS_LOGITS_BIAS
        return HeadsOutput(
            low_res, high_res, self._gate_pointer(heads.obj_ptr, presence), object_score_logits,
            torch.ones_like(object_score_logits),
        )

    def _use_multimask(self, point_inputs: Optional[PointPrompt]) -> bool:
        """Several candidate masks while a frame has at most one click (on every frame, as the
        official configs track with multimask output too)."""
        num_points = 0 if point_inputs is None else point_inputs.point_labels.shape[1]
        return self.multimask_output_in_sam and num_points <= self.multimask_max_pt_num

    # ------------------------------------------------------------------ memory
    def memory_token_encoding(self, height: int, width: int, device: torch.device) -> torch.Tensor:
        """(1, N, C_mem) position encoding of a stored frame's memory tokens (the same for every
        frame): the sine map of the (h, w) grid, or the perceiver latents' encoding."""
        if self.spatial_perceiver is not None:
            return self.spatial_perceiver.token_encoding(device)
        return self.memory_encoder.position_encoding.grid(height, width, device).flatten(1).transpose(0, 1)[None]

    def memory_layout(self, height: int, width: int) -> RotaryLayout:
        """Which of a stored frame's memory tokens memory attention rotates, and on what grid."""
        if self.spatial_perceiver is not None:
            return self.spatial_perceiver.rotary_layout
        return RotaryLayout((height, width))

    def _condition_on_memory(
        self, frame_idx: int, is_init_cond_frame: bool, features: FrameFeatures,
        cond_outputs: Mapping[int, MemoryEntry], non_cond_outputs: Mapping[int, MemoryEntry], num_frames: int,
        reverse: bool, rules: StepRules = DEFAULT_RULES,
    ) -> torch.Tensor:
        """Fuse the frame's (1, C, h, w) features with one object's memory bank -> (1, C, h, w)."""
        if is_init_cond_frame:
            return features.vision + self.no_mem_embed.view(1, -1, 1, 1)
        selection = self._select_memories(0, frame_idx, cond_outputs, non_cond_outputs, num_frames, reverse, rules)
        return self._attend_to_memories(features, [selection], num_frames)

    def _select_memories(
        self, row: int, frame_idx: int, cond_outputs: Mapping[int, MemoryEntry],
        non_cond_outputs: Mapping[int, MemoryEntry], num_frames: int, reverse: bool, rules: StepRules = DEFAULT_RULES,
    ) -> MemorySelection:
        """The memories of the step's object ``row``, by the policy's rule or SAM 2's."""
        if not cond_outputs:
            raise RuntimeError("tracking a frame needs at least one conditioning frame")
        if rules.select is not None:
            return rules.select(row, frame_idx, cond_outputs, non_cond_outputs, num_frames, reverse)
        return self.default_memories(frame_idx, cond_outputs, non_cond_outputs, num_frames, reverse)

    def default_memories(
        self, frame_idx: int, cond_outputs: Mapping[int, MemoryEntry], non_cond_outputs: Mapping[int, MemoryEntry],
        num_frames: int, reverse: bool, recent_frames: Optional[Sequence[int]] = None,
    ) -> MemorySelection:
        """SAM 2's memories for tracking ``frame_idx``: the conditioning frames and the frames
        just before it, or ``recent_frames`` (see :func:`select_memories`)."""
        return select_memories(
            frame_idx, cond_outputs, non_cond_outputs, num_frames, self.num_maskmem,
            self.max_obj_ptrs_in_encoder, self.max_cond_frames_in_attn, reverse,
            signed_pointer_distance=self.temporal_obj_ptr_encoding, recent_frames=recent_frames,
        )

    def fuse_with_memories(
        self, features: FrameFeatures, selections: Sequence[MemorySelection], num_frames: int
    ) -> torch.Tensor:
        """Fuse the frame's (1, C, h, w) features with each of B selections of memories ->
        (B, C, h, w). Selections that share a layout (same slots and pointer distances) go
        through memory attention together."""
        groups: Dict[Tuple, List[int]] = {}
        for index, selection in enumerate(selections):
            layout = (tuple(slot for slot, _ in selection.spatial), tuple(d for d, _ in selection.pointers))
            groups.setdefault(layout, []).append(index)
        fused: List[Optional[torch.Tensor]] = [None] * len(selections)
        for members in groups.values():
            group_features = self._attend_to_memories(features, [selections[i] for i in members], num_frames)
            for row, index in enumerate(members):
                fused[index] = group_features[row : row + 1]
        return torch.cat(fused)

    def _attend_to_memories(
        self, features: FrameFeatures, selections: Sequence[MemorySelection], num_frames: int
    ) -> torch.Tensor:
        """Fuse the frame's (1, C, h, w) features with the memories of B objects whose
        selections share one layout (same slots and pointer distances) -> (B, C, h, w)."""
        _, channels, height, width = features.vision.shape
        device = features.vision.device
        layout = selections[0]
        base_pos = self.memory_token_encoding(height, width, device)
        positions = [
            base_pos + self.maskmem_tpos_enc[self.num_maskmem - slot - 1].view(1, 1, -1) for slot, _ in layout.spatial
        ]
        num_ptr_tokens = 0
        if layout.pointers:
            ptr_pos = self._pointer_positions([d for d, _ in layout.pointers], num_frames, device)
            # Each C-wide pointer is split into C / C_mem tokens, which share its encoding.
            positions.append(ptr_pos.repeat_interleave(channels // self.mem_dim, dim=0)[None])
            num_ptr_tokens = positions[-1].shape[1]
        memory = torch.cat([self._memory_tokens(selection, device) for selection in selections])
        dtype = torch.promote_types(features.vision.dtype, memory.dtype)
        memory, memory_pos = memory.to(dtype), torch.cat(positions, dim=1).to(dtype)
        layout_of_frames = self.memory_layout(height, width)
        key_scale = None
        if any(selection.key_weights is not None for selection in selections):
            key_scale = torch.stack([
                self._token_weights(selection, layout_of_frames.group_tokens, channels // self.mem_dim, memory.shape[1])
                for selection in selections
            ]).to(device)
        fused = self.memory_attention(
            curr=features.vision.flatten(2).transpose(1, 2),
            curr_pos=features.vision_pos.flatten(2).transpose(1, 2),
            memory=memory,
            memory_pos=memory_pos,
            grid_hw=(height, width),
            num_obj_ptr_tokens=num_ptr_tokens,
            memory_layout=layout_of_frames,
            key_scale=key_scale,
            stored=StoredMemories(
                frames=[[entry for _, entry in selection.spatial] for selection in selections],
                encodings=[slot for slot, _ in layout.spatial],
                encoding_state=parameter_state(self.maskmem_tpos_enc),
            ),
        )
        return fused.transpose(1, 2).reshape(len(selections), channels, height, width)

    @staticmethod
    def _token_weights(selection: MemorySelection, frame_tokens: int, pointer_tokens: int, total: int) -> torch.Tensor:
        """(M,) key factor of each memory token of a selection (1 without key weights)."""
        if selection.key_weights is None:
            return torch.ones(total)
        weights = selection.key_weights
        return torch.cat([
            weights.spatial.float().repeat_interleave(frame_tokens), weights.pointers.float().repeat_interleave(pointer_tokens)
        ])

    def _memory_tokens(self, selection: MemorySelection, device: torch.device) -> torch.Tensor:
        """(1, M, C_mem) tokens of one object: its spatial memories, then its pointers."""
        spatial = torch.cat([entry.maskmem_features.to(device) for _, entry in selection.spatial])
        tokens = memory_tokens(spatial).reshape(1, -1, self.mem_dim)
        if not selection.pointers:
            return tokens
        pointers = torch.cat([entry.obj_ptr.to(device) for _, entry in selection.pointers])
        pointers = pointers.reshape(1, -1, self.mem_dim)
        dtype = torch.promote_types(tokens.dtype, pointers.dtype)
        return torch.cat([tokens.to(dtype), pointers.to(dtype)], dim=1)

    def _pointer_positions(self, distances: List[int], num_frames: int, device: torch.device) -> torch.Tensor:
        """(P, C_mem) temporal encodings of object pointers at the given frame distances."""
        if not self.temporal_obj_ptr_encoding:
            return torch.zeros(len(distances), self.mem_dim, device=device)
        max_distance = min(num_frames, self.max_obj_ptrs_in_encoder) - 1
        relative = torch.tensor(distances, device=device) / max_distance
        return self.obj_ptr_tpos_proj(temporal_sine_encoding(relative, self.hidden_dim))

    def _encode_new_memory(
        self, features: FrameFeatures, high_res_masks: torch.Tensor, object_score_logits: torch.Tensor, is_mask_from_pts: bool
    ) -> torch.Tensor:
        """Memory features (B, C_mem, h, w) of the frame with masks (B, 1, S, S) logits, or with
        the spatial perceiver its (B, N, C_mem) latents."""
        if self.binarize_mask_from_pts_for_mem_enc and is_mask_from_pts and not self.training:
            mask = (high_res_masks > 0).float()
        else:
            mask = torch.sigmoid(high_res_masks)
        mask = mask * self.sigmoid_scale_for_mem_enc + self.sigmoid_bias_for_mem_enc
        memory, encoding = self.memory_encoder(features.vision, mask)
        if self.no_obj_embed_spatial is not None:
            absent = 1 - (object_score_logits > 0).float()
            memory = memory + absent[..., None, None] * self.no_obj_embed_spatial[..., None, None]
        if self.spatial_perceiver is not None:
            memory = self.spatial_perceiver(memory, encoding)
        return memory

    # ------------------------------------------------------------------- step
    def track_step(
        self, frame_idx: int, is_init_cond_frame: bool, features: FrameFeatures,
        point_inputs: Optional[PointPrompt], mask_inputs: Optional[torch.Tensor],
        cond_outputs: Mapping[int, MemoryEntry], non_cond_outputs: Mapping[int, MemoryEntry], num_frames: int,
        track_in_reverse: bool = False, run_mem_encoder: bool = True,
        prev_sam_mask_logits: Optional[torch.Tensor] = None, rules: StepRules = DEFAULT_RULES,
    ) -> TrackOutput:
        """Segment one object on one frame from its prompts and/or memories."""
        if mask_inputs is not None:
            heads = self._use_mask_as_output(features.vision, features.high_res, mask_inputs, rules)
        else:
            pix_feat = self._condition_on_memory(
                frame_idx, is_init_cond_frame, features, cond_outputs, non_cond_outputs, num_frames, track_in_reverse,
                rules,
            )
            heads = self._forward_sam_heads(
                pix_feat,
                point_inputs=point_inputs,
                mask_inputs=prev_sam_mask_logits,
                high_res_features=features.high_res,
                multimask_output=self._use_multimask(point_inputs),
                rules=rules,
            )
        out = TrackOutput(
            heads.low_res_masks, heads.high_res_masks, heads.obj_ptr, heads.object_score_logits, heads.iou_score
        )
        if run_mem_encoder and self.num_maskmem > 0:
            out = replace(
                out,
                maskmem_features=self._encode_new_memory(
                    features, heads.high_res_masks, heads.object_score_logits, point_inputs is not None
                ),
            )
        return out

    def track_objects(
        self, frame_idx: int, features: FrameFeatures,
        banks: Sequence[Tuple[Mapping[int, MemoryEntry], Mapping[int, MemoryEntry]]], num_frames: int,
        reverse: bool = False, rules: StepRules = DEFAULT_RULES,
    ) -> TrackOutput:
        """Track B = len(banks) objects on a frame from their memories alone, as propagation
        does; ``banks`` holds each object's (cond_outputs, non_cond_outputs). Objects whose
        memories share a layout go through memory attention together, and all go through the
        decoder and the memory encoder together; the frame's features are used once."""
        selections = [
            self._select_memories(row, frame_idx, cond, other, num_frames, reverse, rules)
            for row, (cond, other) in enumerate(banks)
        ]
        heads = self._forward_sam_heads(
            self.fuse_with_memories(features, selections, num_frames), high_res_features=features.high_res,
            multimask_output=self._use_multimask(None), rules=rules,
        )
        memory = self._encode_new_memory(features, heads.high_res_masks, heads.object_score_logits, is_mask_from_pts=False)
        return TrackOutput(
            heads.low_res_masks, heads.high_res_masks, heads.obj_ptr, heads.object_score_logits, heads.iou_score, memory,
            heads.candidates,
        )
