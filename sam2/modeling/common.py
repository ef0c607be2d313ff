"""Small layers shared by several SAM 2 components."""

from typing import Callable, Type

import torch
from torch import nn


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
        self.layers = nn.ModuleList(nn.Linear(i, o) for i, o in zip(widths_in, widths_out))
        self.act = activation()
        self.sigmoid_output = sigmoid_output

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        last = len(self.layers) - 1
        for index, layer in enumerate(self.layers):
            x = layer(x)
            if index != last:
                x = self.act(x)
        return torch.sigmoid(x) if self.sigmoid_output else x


class LayerNorm2d(nn.Module):
    """LayerNorm over the channel axis of a (B, C, H, W) tensor."""

    def __init__(self, num_channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        self.weight, self.bias = nn.Parameter(torch.ones(num_channels)), nn.Parameter(torch.zeros(num_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(1, keepdim=True)
        centered = x - mean
        variance = centered.pow(2).mean(1, keepdim=True)
        normalized = centered / torch.sqrt(variance + self.eps)
        return normalized * self.weight[:, None, None] + self.bias[:, None, None]


def activation_by_name(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """Return the functional activation called ``name`` (relu or gelu)."""
    functions = {"relu": torch.nn.functional.relu, "gelu": torch.nn.functional.gelu}
    if name not in functions:
        raise ValueError(f"unknown activation {name!r}; expected one of {sorted(functions)}")
    return functions[name]
