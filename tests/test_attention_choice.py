"""Attention kernels chosen by measurement: every way gives the same result, the fastest is kept."""

import itertools
import json

import pytest
import torch

from conftest import synthetic_frames
from sam2.modeling import attention_kernels
from sam2.modeling.attention import RoPEAttention, RotaryLayout
from sam2.modeling.attention_kernels import chunked, fused, shape_class
from sam2.runtime import attention_choice
from sam2.runtime.attention_choice import AttentionChoices


def random_qkv(batch=2, heads=1, queries=300, keys=700, width=32, value_width=16, dtype=torch.float32):
    generator = torch.Generator().manual_seed(0)
    make = lambda *shape: torch.randn(*shape, generator=generator).to(dtype)  # noqa: E731
    return make(batch, heads, queries, width), make(batch, heads, keys, width), make(batch, heads, keys, value_width)


def test_the_chunked_kernel_equals_the_fused_one(monkeypatch):
    monkeypatch.setattr(attention_kernels, "SCORE_CHUNK_BYTES", 4 * 2 * 700 * 40)  # fp32: chunks of 40 rows
    q, k, v = random_qkv()
    torch.testing.assert_close(chunked(q, k, v), fused(q, k, v), rtol=1e-5, atol=1e-5)
    q, k, v = random_qkv(dtype=torch.bfloat16)
    torch.testing.assert_close(chunked(q, k, v).float(), fused(q, k, v).float(), rtol=0, atol=0.03)


class FakeClock:
    """Each way advances the clock by the seconds given for it."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def way(self, seconds, result, calls):
        def run():
            calls.append(result)
            self.now += seconds
            return torch.tensor(result)
        return run


def test_the_faster_way_is_kept_and_then_run_alone():
    clock, calls = FakeClock(), []
    choices = AttentionChoices(clock=clock)
    ways = {"slow": clock.way(2.0, 1.0, calls), "fast": clock.way(0.5, 2.0, calls)}
    assert choices.run("class A", ways).item() == 2.0
    assert calls == [1.0, 1.0, 2.0, 2.0]  # each way run twice, the second run timed
    assert choices.chosen == {"class A": "fast"} and choices.timings["class A"] == {"slow": 2.0, "fast": 0.5}
    calls.clear()
    assert choices.run("class A", ways).item() == 2.0 and calls == [2.0]
    other = {"slow": clock.way(0.1, 1.0, calls), "fast": clock.way(0.5, 2.0, calls)}
    assert choices.run("class B", other).item() == 1.0 and choices.chosen["class B"] == "slow"


def test_a_forced_way_runs_wherever_it_is_offered():
    clock, calls = FakeClock(), []
    choices = AttentionChoices(clock=clock, forced="slow")
    ways = {"slow": clock.way(2.0, 1.0, calls), "fast": clock.way(0.5, 2.0, calls)}
    assert choices.run("class A", ways).item() == 1.0 and calls == [1.0] and choices.chosen == {}
    assert choices.run("class B", {"fast": ways["fast"]}).item() == 2.0
    choices.forced = "slow, values after"  # where no way has that name, its kernel's way runs
    assert choices.run("class C", ways).item() == 1.0


def test_choices_are_kept_on_disk_per_machine(tmp_path, monkeypatch):
    path = tmp_path / "choices.json"
    monkeypatch.setenv(attention_choice.CHOICES_FILE_VARIABLE, str(path))
    clock, calls = FakeClock(), []
    first = AttentionChoices.from_environment()
    first.clock = clock
    first.run("class A", {"a": clock.way(1.0, 1.0, calls), "b": clock.way(3.0, 2.0, calls)})
    stored = json.loads(path.read_text())
    assert stored == {attention_choice.machine_key(): {"class A": "a"}}
    calls.clear()
    second = AttentionChoices.from_environment()
    assert second.run("class A", {"a": clock.way(1.0, 1.0, calls), "b": clock.way(3.0, 2.0, calls)}).item() == 1.0
    assert calls == [1.0]


def test_the_app_remembers_choices_in_its_default_file_unless_the_environment_names_one(tmp_path, monkeypatch):
    monkeypatch.setattr(attention_choice, "ATTENTION_CHOICES", AttentionChoices())
    attention_choice.remember_choices(tmp_path / "default.json")
    assert attention_choice.ATTENTION_CHOICES.path == tmp_path / "default.json"
    monkeypatch.setenv(attention_choice.CHOICES_FILE_VARIABLE, str(tmp_path / "named.json"))
    monkeypatch.setattr(attention_choice, "ATTENTION_CHOICES", AttentionChoices.from_environment())
    attention_choice.remember_choices(tmp_path / "default.json")
    assert attention_choice.ATTENTION_CHOICES.path == tmp_path / "named.json"


def test_shape_classes_group_growing_memory_banks():
    q = torch.zeros(2, 1, 4096, 256)
    bank = lambda frames: shape_class(q, torch.zeros(2, 1, 4096 * frames + 64, 256), 64)  # noqa: E731
    assert bank(5) == bank(7) and bank(2) == bank(3) and bank(3) != bank(4)


@pytest.mark.parametrize("heads", [1, 2])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_every_way_of_a_memory_cross_attention_gives_the_same_output(heads, dtype, monkeypatch):
    """Values before or after the attention, fused or chunked: one result (rounding aside)."""
    torch.manual_seed(0)
    layer = RoPEAttention(64, heads, kv_in_dim=16).eval()
    assert layer.values_are_narrow
    grid = (8, 8)
    queries, memory = torch.randn(2, 64, 64), torch.randn(2, 3 * 64 + 4, 16)
    outputs = {}
    with torch.inference_mode(), torch.autocast("cpu", torch.bfloat16, enabled=dtype == torch.bfloat16):
        keys = layer.rotated_projection(memory, "k_proj", RotaryLayout(grid), num_unrotated=4)
        for way in ("fused", "chunked", "chunked, values after"):
            monkeypatch.setattr(attention_choice.ATTENTION_CHOICES, "forced", way)
            outputs[way] = layer.attend_to_keys(queries, keys, memory.to(keys.dtype), grid).float()
    tolerance = 1e-5 if dtype == torch.float32 else 0.05
    for way, output in outputs.items():
        torch.testing.assert_close(output, outputs["fused"], rtol=tolerance, atol=tolerance, msg=way)


def test_tracking_chooses_a_way_for_each_attention_and_keeps_it(tiny_predictor, monkeypatch):
    """Every attention of a tracking step goes through the choice; the memory cross-attention
    also weighs attending to the memories before or after their value projection."""
    choices = AttentionChoices(clock=itertools.count().__next__)  # every way takes one "second"
    monkeypatch.setattr(attention_choice, "ATTENTION_CHOICES", choices)
    predictor = tiny_predictor
    with torch.inference_mode():
        state = predictor.init_state(synthetic_frames(3))
        predictor.add_new_points_or_box(state, 0, 1, points=[[20, 20]], labels=[1])
        masks = [mask for _, _, mask in predictor.propagate_in_video(state)]
    assert len(masks) == 3
    memory_classes = [name for name in choices.chosen if name.endswith("(values before or after)")]
    assert memory_classes and all(choices.chosen[name] == "fused" for name in memory_classes)
    assert all(set(choices.timings[name]) == {"fused", "chunked", "chunked, values after"} for name in memory_classes)
    plain = [name for name in choices.chosen if name not in memory_classes]
    assert plain and all(len(choices.timings[name]) == 2 for name in plain)
