"""VOS inference as one Ray task per video (``tools/vos_inference.py --ray [ADDRESS]``).

Ray places the tasks (one GPU each on a cluster with GPUs, ``cpus_per_task`` CPUs otherwise)
and starts a task again when its worker dies (a killed process, a lost machine), up to
``max_retries`` times. Videos whose output folder exists are complete (``vos.staging``) and are
skipped, so a run resumes where the last one stopped. Every video ends in the report: its
frames and the attempts that died before, or why it failed. The code of ``sam2`` and ``vos``
and this shell's ``SAM2_*`` settings go to the workers with the tasks; the folders and the
checkpoint must be at the same paths on every machine (shared storage), as the output decides
what is complete.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Dict, List

from tqdm import tqdm

from sam2.runtime.attention import configure_from_environment

from .job import ModelSpec, VideoOutcome, VosJob
from .staging import complete_videos

# A worker process keeps its model between the videos it is given.
_worker_predictors: Dict[ModelSpec, object] = {}


@dataclass(frozen=True)
class RayPlacement:
    """Where the tasks go: ``address`` of a running cluster ("auto": the one this machine
    belongs to), or "local": start a Ray instance on this machine for the run."""

    address: str = "local"
    cpus_per_task: int = 1
    max_retries: int = 3


def _segment_on_worker(job: VosJob, name: str) -> VideoOutcome:
    """The Ray task: one video with this worker's model; the outcome names the GPUs Ray gave it."""
    import ray

    if job.model not in _worker_predictors:
        configure_from_environment()  # the SAM2_* settings shipped with the task
        _worker_predictors[job.model] = job.build_predictor()
    outcome = job.run_video(_worker_predictors[job.model], name)
    gpus = ray.get_gpu_ids()
    return replace(outcome, where=f"{outcome.where}, Ray GPU {', '.join(map(str, gpus))}") if gpus else outcome


def _shipped_packages() -> List[str]:
    """The folders of the packages the tasks import, sent to the workers with the job."""
    import sam2

    return [str(Path(sam2.__file__).parent), str(Path(__file__).parent)]


def _worker_environment() -> Dict[str, str]:
    """This shell's SAM2_* settings (such as SAM2_ATTENTION), for the workers too."""
    return {key: value for key, value in os.environ.items() if key.startswith("SAM2_")}


def _failure(name: str, error: Exception, placement: RayPlacement) -> VideoOutcome:
    import ray

    if isinstance(error, (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError)):
        why = f"its worker died on each of {placement.max_retries + 1} attempt(s)"
    else:  # a task error's text ends with the error raised in the task
        why = (str(error).strip().splitlines() or [type(error).__name__])[-1]
    return VideoOutcome(name, error=why)


def run_on_ray(job: VosJob, names: List[str], placement: RayPlacement) -> List[VideoOutcome]:
    """Track ``names`` as Ray tasks, skipping videos whose masks are complete; prints a line per
    video. Returns the outcome of each video run (not the skipped), in the order they finished."""
    import ray

    complete = complete_videos(job.output_mask_dir, names)
    todo = [name for name in names if name not in complete]
    print(f"{len(complete)} of {len(names)} videos already have all their masks in {job.output_mask_dir}: skipped")
    if not todo:
        return []
    runtime_env = {"py_modules": _shipped_packages(), "env_vars": _worker_environment()}
    local = {"include_dashboard": False} if placement.address == "local" else {}
    ray.init(address=placement.address, runtime_env=runtime_env, **local)
    try:
        with_gpus = ray.cluster_resources().get("GPU", 0) > 0
        task = ray.remote(_segment_on_worker).options(
            num_gpus=1 if with_gpus else 0, num_cpus=placement.cpus_per_task,
            max_retries=placement.max_retries, retry_exceptions=False,
        )
        pending = {task.remote(job, name): name for name in todo}
        outcomes = []
        with tqdm(total=len(todo), desc="videos", unit="video") as bar:
            while pending:
                (ready,), _ = ray.wait(list(pending), num_returns=1)
                name = pending.pop(ready)
                try:
                    outcome = ray.get(ready)
                except ray.exceptions.RayError as error:
                    outcome = _failure(name, error, placement)
                outcomes.append(outcome)
                bar.write(outcome.describe())
                bar.update(1)
        return outcomes
    finally:
        ray.shutdown()
