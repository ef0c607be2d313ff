"""Locate (or install on demand) Meta's official ``sam2==1.1.0`` package for oracle tests.

The reference and our package are both importable as ``sam2``, so the reference never lives
in the test process: it is kept in a folder of its own and only ever put on the
``PYTHONPATH`` of a subprocess. That folder has two halves:

    <root>/pkg    the ``sam2`` package (built without its CUDA extension)
    <root>/deps   its pure-python dependencies (hydra-core, iopath, tqdm, ...)

Where ``<root>`` comes from, first match wins:

1. the environment variable ``SAM2_REFERENCE_DIR`` (e.g. ``/work/ref``);
2. ``<repo>/.cache/reference`` (git-ignored), installed there with pip on first use.

This module never imports ``sam2`` or torch, so it is safe to import from any test.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from oracle.paths import CACHE, REPO

REFERENCE_VERSION = "1.1.0"
ENV_VAR = "SAM2_REFERENCE_DIR"
DEFAULT_CACHE = CACHE / "reference"

# Files whose presence shows a usable install (relative to <root>).
_REQUIRED = (
    "pkg/sam2/build_sam.py",
    "pkg/sam2/sam2_video_predictor.py",
    "pkg/sam2/configs/sam2.1/sam2.1_hiera_t.yaml",
    "deps/hydra",
    "deps/iopath",
    "deps/omegaconf",
)
_DONE_MARKER = ".install-complete"


@dataclass(frozen=True)
class ReferenceEnv:
    """Where the reference package lives and how to run Python against it."""

    root: Path

    @property
    def pkg_dir(self) -> Path:
        return self.root / "pkg"

    @property
    def deps_dir(self) -> Path:
        return self.root / "deps"

    @property
    def pythonpath(self) -> str:
        return os.pathsep.join([str(self.pkg_dir), str(self.deps_dir)])

    def subprocess_env(self, base: dict | None = None, with_checkout: bool = False) -> dict:
        """A copy of ``base`` (default: os.environ) whose PYTHONPATH is only the reference, or
        ``with_checkout`` the reference then this checkout (see :func:`with_checkout`)."""
        env = dict(os.environ if base is None else base)
        env["PYTHONPATH"] = with_checkout_after(self.pythonpath) if with_checkout else self.pythonpath
        return env


def with_checkout_after(pythonpath: str) -> str:
    """``pythonpath`` followed by this checkout: ``import sam2`` still finds the package on
    ``pythonpath`` first, and the checkout's ``oracle`` and ``vos`` become importable."""
    return os.pathsep.join([pythonpath, str(REPO)])


# The reason the last lookup failed (``None`` after a success); tests print it when skipping.
last_failure_reason: str | None = None
# Install failures seen by this process, so one test session runs pip at most once per root.
_install_errors: dict = {}


def _missing_parts(root: Path) -> list[str]:
    return [rel for rel in _REQUIRED if not (root / rel).exists()]


def _fail(reason: str) -> None:
    global last_failure_reason
    last_failure_reason = reason
    return None


@contextlib.contextmanager
def _exclusive_lock(lock_path: Path):
    """Hold an exclusive advisory lock so parallel pytest workers install only once."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+") as handle:
        try:
            import fcntl
        except ImportError:  # not POSIX: fall back to the atomic rename alone
            yield
            return
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _pip(args: list[str], log: list[str], extra_env: dict | None = None) -> bool:
    env = dict(os.environ)
    env.update(extra_env or {})
    # pip must not see our own package (or anything else) through an inherited PYTHONPATH.
    env.pop("PYTHONPATH", None)
    cmd = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", *args]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-15:]
        log.append(f"`{' '.join(cmd)}` exited {proc.returncode}:\n" + "\n".join(tail))
        return False
    return True


def _install_into(target: Path) -> str | None:
    """Install the reference into ``target`` (which must not exist yet). Returns an error."""
    log: list[str] = []
    staging = Path(tempfile.mkdtemp(prefix=target.name + ".staging-", dir=target.parent))
    try:
        ok = _pip(
            [
                "--no-deps",
                "--no-build-isolation",
                "--target",
                str(staging / "pkg"),
                f"sam2=={REFERENCE_VERSION}",
            ],
            log,
            extra_env={"SAM2_BUILD_CUDA": "0"},
        ) and _pip(
            ["--target", str(staging / "deps"), "hydra-core", "iopath", "tqdm"], log
        )
        if not ok:
            return "pip could not install the reference: " + "\n".join(log)
        missing = _missing_parts(staging)
        if missing:
            return f"reference install is incomplete, missing {missing}"
        (staging / _DONE_MARKER).write_text(REFERENCE_VERSION + "\n")
        os.chmod(staging, 0o755)  # mkdtemp made it private
        os.rename(staging, target)  # atomic: readers see nothing or a whole install
        staging = None
        return None
    except (OSError, subprocess.SubprocessError) as exc:
        return f"installing the reference failed: {exc!r}"
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)


def find_or_install_reference(
    cache_dir: Path | str | None = None, install: bool = True
) -> ReferenceEnv | None:
    """Return the reference install, installing it into the cache if needed.

    Returns ``None`` when it is unavailable; ``last_failure_reason`` then says why.
    """
    global last_failure_reason
    explicit = os.environ.get(ENV_VAR)
    if explicit:
        root = Path(explicit).expanduser().resolve()
        missing = _missing_parts(root)
        if missing:
            return _fail(f"{ENV_VAR}={explicit} is not a reference install (missing {missing})")
        last_failure_reason = None
        return ReferenceEnv(root)

    root = Path(cache_dir) if cache_dir is not None else DEFAULT_CACHE
    root = root.expanduser().resolve()
    if (root / _DONE_MARKER).exists() and not _missing_parts(root):
        last_failure_reason = None
        return ReferenceEnv(root)
    if not install:
        return _fail(f"no reference install at {root} and installing is disabled")
    if root in _install_errors:
        return _fail(_install_errors[root])

    try:
        root.parent.mkdir(parents=True, exist_ok=True)
        with _exclusive_lock(root.parent / (root.name + ".lock")):
            # Someone else may have finished while we waited for the lock.
            if not ((root / _DONE_MARKER).exists() and not _missing_parts(root)):
                if root.exists():  # a broken leftover from an interrupted run
                    shutil.rmtree(root)
                error = _install_into(root)
                if error:
                    _install_errors[root] = error
                    return _fail(error)
    except OSError as exc:
        return _fail(f"cannot prepare the reference cache at {root}: {exc!r}")
    last_failure_reason = None
    return ReferenceEnv(root)


if __name__ == "__main__":
    found = find_or_install_reference()
    if found is None:
        print("reference unavailable:", last_failure_reason)
        sys.exit(1)
    print(found.pythonpath)
