"""Attention kernels: every way gives the same result; by default a fixed rule picks one (the
same in every process), and with ``sam2.runtime.attention.benchmark`` the fastest is timed and kept."""

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import synthetic_frames
from oracle.paths import REPO
from sam2.modeling import attention_kernels
from sam2.modeling.attention import RoPEAttention, RotaryLayout
from sam2.modeling.attention_kernels import chunked, fused
from sam2.runtime import attention, attention_choice
from sam2.runtime.attention_choice import AttentionChoices
from sam2.runtime.attention_rule import AttentionShape, rule_way


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


def test_a_forced_way_runs_wherever_it_is_offered(monkeypatch):
    clock, calls = FakeClock(), []
    monkeypatch.setattr(attention, "benchmark", True)
    monkeypatch.setattr(attention_choice, "TIMED_CHOICES", AttentionChoices(clock=clock))
    monkeypatch.setattr(attention, "TIMED_CHOICES", attention_choice.TIMED_CHOICES)
    monkeypatch.setattr(attention, "forced_way", "slow")
    shape = AttentionShape("cpu", torch.float32, 1, 1, 4096, 4096, 256, 256)
    ways = {"slow": clock.way(2.0, 1.0, calls), "fast": clock.way(0.5, 2.0, calls)}
    assert attention.run(shape, ways).item() == 1.0 and calls == [1.0]
    assert attention_choice.TIMED_CHOICES.chosen == {}, "nothing timed"
    assert attention.run(shape, {"fast": ways["fast"]}).item() == 2.0
    monkeypatch.setattr(attention, "forced_way", "slow, values after")  # where no way has that name, its kernel's way runs
    assert attention.run(shape, ways).item() == 1.0


def test_choices_are_kept_on_disk_per_machine(tmp_path, monkeypatch):
    path = tmp_path / "choices.json"
    clock, calls = FakeClock(), []
    first = AttentionChoices(clock=clock)
    first.remember_in(path)
    first.run("class A", {"a": clock.way(1.0, 1.0, calls), "b": clock.way(3.0, 2.0, calls)})
    stored = json.loads(path.read_text())
    assert stored == {attention_choice.machine_key(): {"class A": "a"}}
    calls.clear()
    second = AttentionChoices(clock=clock)
    second.remember_in(path)
    assert second.run("class A", {"a": clock.way(1.0, 1.0, calls), "b": clock.way(3.0, 2.0, calls)}).item() == 1.0
    assert calls == [1.0]


def test_settings_come_from_the_environment_only_when_asked(tmp_path, monkeypatch):
    """Importing reads nothing; configure_from_environment applies the variables, and the app's
    remember_choices turns timing on, in its default file unless the environment names one."""
    monkeypatch.setattr(attention, "benchmark", False)
    monkeypatch.setattr(attention, "forced_way", None)
    monkeypatch.setattr(attention, "TIMED_CHOICES", AttentionChoices())
    monkeypatch.setenv(attention.FORCED_WAY_VARIABLE, "chunked")
    monkeypatch.setenv(attention.CHOICES_FILE_VARIABLE, str(tmp_path / "named.json"))
    imported = subprocess.run([sys.executable, "-c", "import sam2.build_sam; from sam2.runtime import attention as a; "
                               "print(a.benchmark, a.forced_way, a.TIMED_CHOICES.path)"],
                              env={**os.environ, attention.BENCHMARK_VARIABLE: "1", "PYTHONPATH": str(REPO)},
                              capture_output=True, text=True, check=True, cwd=tmp_path)
    assert imported.stdout.split() == ["False", "None", "None"], imported.stdout
    attention.remember_choices(tmp_path / "default.json")
    assert attention.benchmark and attention.TIMED_CHOICES.path == tmp_path / "named.json"
    monkeypatch.delenv(attention.CHOICES_FILE_VARIABLE)
    attention.remember_choices(tmp_path / "default.json")
    assert attention.TIMED_CHOICES.path == tmp_path / "default.json"
    monkeypatch.setattr(attention, "benchmark", False)
    monkeypatch.setenv(attention.BENCHMARK_VARIABLE, "1")
    attention.configure_from_environment()
    assert attention.benchmark and attention.forced_way == "chunked"


def test_shape_classes_group_growing_memory_banks():
    q = torch.zeros(2, 1, 4096, 256)
    bank = lambda frames: AttentionShape.of(q, torch.zeros(2, 1, 4096 * frames + 64, 256), 64).key  # noqa: E731
    assert bank(5) == bank(7) and bank(2) == bank(3) and bank(3) != bank(4)


AVX512_BF16, AMX, AVX2 = {"avx2", "avx512f", "avx512_bf16"}, {"avx2", "avx512_bf16", "amx_bf16", "amx_tile"}, {"avx2"}
ALL_WAYS = ("fused", "chunked", "chunked, values after")


@pytest.mark.parametrize("dtype, flags, values, offered, expected", [
    (torch.bfloat16, AVX512_BF16, 256, ALL_WAYS[:2], "chunked"),
    (torch.bfloat16, AVX512_BF16, 64, ALL_WAYS, "chunked, values after"),
    (torch.bfloat16, AMX, 64, ALL_WAYS, "fused"),
    (torch.bfloat16, AMX, 256, ALL_WAYS[:2], "fused"),
    (torch.float32, AVX2, 256, ALL_WAYS[:2], "fused"),
    (torch.float32, AVX2, 64, ALL_WAYS[:2], "chunked"),
    (torch.float32, AMX, 64, ALL_WAYS, "chunked, values after"),
])
def test_the_rule_picks_by_cpu_features_dtype_and_value_width(dtype, flags, values, offered, expected):
    """The measured rule (sam2.runtime.attention_rule's docstring; bench.attention_rule)."""
    shape = AttentionShape("cpu", dtype, 1, 1, 4096, 4096, 256, values, values_after="chunked, values after" in offered)
    assert rule_way(shape, offered, flags) == expected


def test_small_attentions_take_the_fused_kernel_everywhere():
    for dtype in (torch.bfloat16, torch.float32):
        decoder_tokens = AttentionShape("cpu", dtype, 1, 8, 8, 4096, 16, 16)
        for flags in (AVX512_BF16, AMX, AVX2):
            assert rule_way(decoder_tokens, ALL_WAYS[:2], flags) == "fused"


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
            monkeypatch.setattr(attention, "forced_way", way)
            outputs[way] = layer.attend_to_keys(queries, keys, memory.to(keys.dtype), grid).float()
    tolerance = 1e-5 if dtype == torch.float32 else 0.05
    for way, output in outputs.items():
        torch.testing.assert_close(output, outputs["fused"], rtol=tolerance, atol=tolerance, msg=way)


def test_tracking_times_each_attention_when_asked_and_keeps_the_fastest(tiny_predictor, monkeypatch):
    """With benchmark on, every attention of a tracking step goes through the timing; the memory
    cross-attention also weighs attending to the memories before or after their value projection."""
    choices = AttentionChoices(clock=itertools.count().__next__)  # every way takes one "second"
    monkeypatch.setattr(attention, "TIMED_CHOICES", choices)
    monkeypatch.setattr(attention, "benchmark", True)
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


def test_tracking_times_nothing_by_default_and_runs_the_rules_picks(tiny_predictor, monkeypatch):
    choices = AttentionChoices(clock=itertools.count().__next__)
    monkeypatch.setattr(attention, "TIMED_CHOICES", choices)
    monkeypatch.setattr(attention, "picks", {})
    assert attention.benchmark is False
    with torch.inference_mode():
        state = tiny_predictor.init_state(synthetic_frames(3))
        tiny_predictor.add_new_points_or_box(state, 0, 1, points=[[20, 20]], labels=[1])
        list(tiny_predictor.propagate_in_video(state))
    assert choices.chosen == {} and attention.picks
    assert set(attention.picks.values()) <= set(ALL_WAYS)


def test_two_processes_running_the_same_script_give_bit_identical_masks(tmp_path):
    """Nothing timed by default: the same kernels run in every process. A process that runs
    another kernel gives other logits (the comparison would see a timing-dependent pick)."""
    from sam2.assembly.random_weights import save_random_checkpoint
    from tracker.media.video_io import write_mp4

    checkpoint = save_random_checkpoint("test_tiny", str(tmp_path / "tiny.pt"))
    video = write_mp4(tmp_path / "clip.mp4", synthetic_frames(5, 240, 320), fps=10)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop(attention.FORCED_WAY_VARIABLE, None)

    def logits(name: str, *forced: str) -> np.ndarray:
        out = tmp_path / f"{name}.npy"
        subprocess.run([sys.executable, str(Path(__file__).with_name("same_masks_worker.py")), checkpoint,
                        str(video), str(out), *forced], check=True, env=env, cwd=tmp_path, timeout=600)
        return np.load(out)

    first, second = logits("first"), logits("second")
    assert first.shape[0] == 5 and first.dtype == np.float32
    assert first.tobytes() == second.tobytes()
    ran = "fused" if rule_way(AttentionShape("cpu", torch.float32, 1, 1, 1024, 2048, 256, 256),
                              ALL_WAYS[:2]) == "chunked" else "chunked"
    assert logits("other", ran).tobytes() != first.tobytes()
