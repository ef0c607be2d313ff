"""Small layers shared by several SAM 2 components."""

from typing import Callable, Optional, Tuple, Type

import torch
import torch.nn.functional as F
from torch import nn

ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu}
ACTIVATION_NAMES = {nn.ReLU: "relu", nn.GELU: "gelu"}


class MLP(nn.Module):
    """A stack of linear layers with an activation between them (not after the last).

    Parameters live in ``layers.<i>`` to match the official checkpoints.
    """

    def __init__(
        self, input_dim: int, hidden_dim: int, output_dim: int, num_layers: int,
        activation: Type[nn.Module] = nn.ReLU, sigmoid_output: bool = False,
    ) -> None:
        super().__init__()
        widths_in = [input_dim] + [hidden_dim] * (num_layers - 1)
        widths_out = [hidden_dim] * (num_layers - 1) + [output_dim]
        self.layers = nn.ModuleList(Linear(i, o) for i, o in zip(widths_in, widths_out))
        self.act = activation()
        self.activation_name = ACTIVATION_NAMES.get(activation)
        self.sigmoid_output = sigmoid_output

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        *hidden, last = self.layers
        for layer in hidden:
            x = self.act(layer(x)) if self.activation_name is None else linear_activation(x, layer, self.activation_name)
        x = last(x)
        return torch.sigmoid(x) if self.sigmoid_output else x


class LayerNorm2d(nn.Module):
    """LayerNorm over the channel axis of a (B, C, H, W) tensor."""

    def __init__(self, num_channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        self.weight, self.bias = nn.Parameter(torch.ones(num_channels)), nn.Parameter(torch.zeros(num_channels))

    # Below this many channels, reductions over the channel axis of a channels-first tensor
    # beat layer_norm's per-position kernel; from it on, that one kernel is up to 5x faster.
    FUSED_FROM_CHANNELS = 16

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, C, H, W); channels-last in memory from FUSED_FROM_CHANNELS on
        (the following convolutions also run faster so)."""
        if x.shape[1] < self.FUSED_FROM_CHANNELS:
            centered = x - x.mean(1, keepdim=True)
            variance = centered.pow(2).mean(1, keepdim=True)
            return centered / torch.sqrt(variance + self.eps) * self.weight[:, None, None] + self.bias[:, None, None]
        normalized = F.layer_norm(x.permute(0, 2, 3, 1), (x.shape[1],), self.weight, self.bias, self.eps)
        return normalized.permute(0, 3, 1, 2)


def to_autocast_dtype(x: torch.Tensor) -> torch.Tensor:
    """x in the lower precision of an active autocast on its device, else unchanged.

    Casting a LayerNorm output (float32 under autocast) before reshaping it into windows or
    feeding several projections moves half the bytes and casts once; the projections
    would cast it to the same dtype anyway.
    """
    return x.to(autocast_dtype(x.device.type)) if x.dtype == torch.float32 else x


def autocast_dtype(device_type: str, default: torch.dtype = torch.float32) -> torch.dtype:
    """The lower-precision dtype of an active autocast on ``device_type``, else ``default``."""
    return torch.get_autocast_dtype(device_type) if torch.is_autocast_enabled(device_type) else default


def parameter_state(parameter: torch.Tensor) -> Tuple:
    """What identifies a parameter's current values, for caches of results derived from it:
    storage, dtype and in-place version (inference tensors keep no version; they can only
    change inside inference mode)."""
    try:
        version = parameter._version
    except RuntimeError:
        version = None
    return parameter.data_ptr(), parameter.device, parameter.dtype, version


def activation_by_name(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """Return the functional activation called ``name`` (relu or gelu)."""
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; expected one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]


def _fused_cpu_linear() -> Optional[Callable]:
    """oneDNN's linear with a fused activation, where this torch build has it and oneDNN
    computes bfloat16 on this CPU (AVX512 or AMX; on AVX2-only CPUs it cannot build the
    bf16 kernel and raises, so the plain ops run there)."""
    if not torch.backends.mkldnn.is_available():
        return None
    try:
        if not torch.ops.mkldnn._is_mkldnn_bf16_supported():
            return None
        return torch.ops.mkldnn._linear_pointwise
    except (AttributeError, RuntimeError):
        return None


FUSED_CPU_LINEAR = _fused_cpu_linear()


def fusable_on_cpu(x: torch.Tensor, weight: torch.Tensor) -> bool:
    """Whether oneDNN's fused linear applies: bfloat16 compute (bf16 input or bf16 autocast)
    on CPU, outside autograd and outside ``torch.compile`` (whose CPU backend fuses linears
    itself and rejects this op on weights that are not graph constants)."""
    compute_dtype = autocast_dtype("cpu", x.dtype) if x.dtype == torch.float32 else x.dtype
    return (
        FUSED_CPU_LINEAR is not None and x.device.type == "cpu" and compute_dtype == torch.bfloat16
        and not (torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad))
        and not torch.compiler.is_compiling()
    )


def cast_parameters(linear: nn.Linear, dtype: torch.dtype) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
    """``linear``'s weight and bias in ``dtype``, cast once and kept (outside the state dict)
    until a parameter changes, instead of at every call as autocast does per region."""
    key = (dtype, parameter_state(linear.weight), None if linear.bias is None else parameter_state(linear.bias))
    cached = linear.__dict__.get("_cast_parameters")
    if cached is None or cached[0] != key:
        bias = None if linear.bias is None else linear.bias.detach().to(dtype)
        cached = linear._cast_parameters = (key, linear.weight.detach().to(dtype), bias)
    return cached[1], cached[2]


def fused_linear(
    x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor], activation: str = "none"
) -> torch.Tensor:
    """activation(x @ weight.T + bias) as one oneDNN kernel; weight and bias in bfloat16 and
    :func:`fusable_on_cpu` true. activation: "none", "relu" or "gelu" (erf)."""
    algorithm = "none" if activation == "gelu" else ""
    return FUSED_CPU_LINEAR(x.to(torch.bfloat16), weight, bias, activation, [], algorithm)


def linear_activation(x: torch.Tensor, linear: nn.Linear, activation: str) -> torch.Tensor:
    """activation(linear(x)) for "none", "relu" or "gelu" (erf).

    In bfloat16 on CPU (bf16 inputs or bf16 autocast), outside autograd, one oneDNN kernel
    adds the bias and applies the activation as it writes the output, instead of a bias copy
    and separate passes over the (often large) output. Elsewhere the plain ops run.
    """
    if not fusable_on_cpu(x, linear.weight):
        return _plain_linear_activation(x, linear.weight, linear.bias, activation)
    return fused_linear(x, *cast_parameters(linear, torch.bfloat16), activation)


def linear_activation_weights(
    x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor], activation: str = "none"
) -> torch.Tensor:
    """Like :func:`linear_activation` for a weight and bias that belong to no module (derived
    weights); on the oneDNN path they are cast to bfloat16 at each call."""
    if not fusable_on_cpu(x, weight):
        return _plain_linear_activation(x, weight, bias, activation)
    return fused_linear(x, weight.to(torch.bfloat16), None if bias is None else bias.to(torch.bfloat16), activation)


def _plain_linear_activation(
    x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor], activation: str
) -> torch.Tensor:
    out = F.linear(x, weight, bias)
    return out if activation == "none" else ACTIVATIONS[activation](out)


class Linear(nn.Linear):
    """``nn.Linear`` (same parameters and state-dict keys) that runs as one oneDNN kernel with
    weights cast once in bfloat16 on CPU (see :func:`linear_activation`)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return linear_activation(x, self, "none")
