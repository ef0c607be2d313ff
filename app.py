"""SAM 2 video tracking demo: ``python app.py`` (settings: see tracker/settings.py or --help)."""

# First: on a ZeroGPU Space, `spaces` must be imported before anything initialises CUDA.
from tracker.model import gpu  # isort: skip

import logging
from pathlib import Path

import torch

from sam2.runtime.attention import configure_from_environment, remember_choices
from sam2.runtime.cpu_allocator import tune_for_cpu_tracking
from tracker.model.loading import EngineCache
from tracker.model.weights import with_random_weights
from tracker.page.layout import PAGE_CSS
from tracker.settings import AppSettings
from tracker.page.ui import build_ui


def main() -> None:
    logging.basicConfig(level=logging.INFO)
    settings = AppSettings.from_sources()
    if settings.random_weights:
        settings = with_random_weights(settings)
    configure_from_environment()  # SAM2_ATTENTION (a kernel to force) and the other SAM2_ATTENTION_* settings
    if torch.device(settings.device).type == "cpu":
        tune_for_cpu_tracking()  # process-wide: faster CPU frames (see its docstring)
        # The attention kernels timed on the first Track are remembered for later starts.
        remember_choices(Path.home() / ".cache" / "sam2" / "attention-choices.json")
    if gpu.zero_gpu_active():
        # This process only serves the page; forked GPU workers run the model, and an OpenMP
        # thread pool started here would hang them.
        torch.set_num_threads(1)
    limits = settings.limits
    demo = build_ui(settings, EngineCache(settings))
    demo.queue(max_size=limits.queue_size, default_concurrency_limit=1)
    demo.launch(server_name=settings.host, server_port=settings.port, max_file_size=limits.max_upload_bytes,
                css=PAGE_CSS)


if __name__ == "__main__":
    main()
