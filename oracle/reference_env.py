"""Locate (or install on demand) the official packages that serve as oracles in tests.

An oracle is an official implementation whose package is (or may be) importable under the
same name as ours, so it never lives in the test process: each is kept in a folder of its
own and only ever put on the ``PYTHONPATH`` of a subprocess. That folder has two halves:

    <root>/pkg    the package (built without any CUDA extension)
    <root>/deps   its pure-python dependencies (hydra-core, iopath, tqdm, ...)

Torch, torchvision and timm come from our own environment; they are never installed there.
The oracles (:data:`ORACLES`):

* ``reference``: Meta's ``sam2==1.1.0``;
* ``edgetam``: EdgeTAM's official code, the PyPI package ``edgetam-dimos==1.0.1``
  (also named ``sam2``);
* ``efficienttam``: EfficientTAM's official code (``efficient_track_anything``), taken from
  a local git mirror of its repository at a pinned commit (its PyPI package is an older
  snapshot without configs); only the golden-file recorder uses it;
* ``samurai``: SAMURAI's ``sam2`` fork (``sam2/sam2`` of its repository, from a local git
  mirror at a pinned commit, plus scipy and loguru); only the golden-file recorder uses it;
* ``dam4sam``: DAM4SAM's tracker and its ``sam2`` fork (from a local git mirror at a pinned
  commit, plus vot-toolkit's region code); only the golden-file recorder uses it;
* ``sam2long``: SAM2Long's ``sam2`` fork (from a local git mirror at a pinned commit; its
  code is CC BY-NC, so it is only run, never read into ours); only the golden-file recorder
  uses it.

Where ``<root>`` comes from, first match wins:

1. the oracle's environment variable (e.g. ``SAM2_REFERENCE_DIR=/work/ref``);
2. its folder in ``<repo>/.cache`` (git-ignored; ``reference`` for the reference, where it
   always was, ``oracles/<name>`` for the others), installed there on first use.

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

_DONE_MARKER = ".install-complete"
_DEPS = ("hydra-core", "iopath", "tqdm")
_DEPS_REQUIRED = ("deps/hydra", "deps/iopath", "deps/omegaconf")


@dataclass(frozen=True)
class PipSource:
    """A package from PyPI, installed without its dependencies."""

    requirement: str
    build_env: tuple = ()  # (name, value) pairs set while pip builds it
    no_build_isolation: bool = False

    def install(self, target: Path, log: list) -> bool:
        args = ["--no-deps", "--target", str(target), self.requirement]
        if self.no_build_isolation:
            args.insert(0, "--no-build-isolation")
        return _pip(args, log, dict(self.build_env))

    def describe(self) -> str:
        return self.requirement


@dataclass(frozen=True)
class GitSource:
    """One folder of a commit in a local (bare) git repository."""

    git_dir: Path
    commit: str
    folder: str
    strip_components: int = 0  # leading folders dropped: "sam2/sam2" with 1 lands as "sam2"
    more: tuple = ()  # further paths of the commit taken beside ``folder``

    def install(self, target: Path, log: list) -> bool:
        target.mkdir(parents=True)
        archive = subprocess.run(
            ["git", "--git-dir", str(self.git_dir), "archive", self.commit, self.folder, *self.more],
            capture_output=True, timeout=600,
        )
        if archive.returncode != 0:
            log.append(f"git archive from {self.git_dir}: {archive.stderr.decode().strip()}")
            return False
        untar = subprocess.run(["tar", "-x", "-C", str(target), f"--strip-components={self.strip_components}"],
                               input=archive.stdout, capture_output=True)
        if untar.returncode != 0:
            log.append(f"tar: {untar.stderr.decode().strip()}")
        return untar.returncode == 0

    def describe(self) -> str:
        return f"{self.folder} at {self.commit[:12]} of {self.git_dir}"


@dataclass(frozen=True)
class OracleSpec:
    """An official package, where it comes from and how to tell that an install is whole."""

    name: str
    env_var: str
    source: PipSource | GitSource
    required: tuple  # paths relative to <root> that a usable install has
    default_root: Path
    extra_deps: tuple = ()  # PyPI packages it imports beyond the common _DEPS
    # PyPI packages installed without their dependencies (pinned: a dependency pip would add,
    # such as numpy or Pillow, must not shadow ours in the oracle's process).
    extra_deps_alone: tuple = ()

    @property
    def version(self) -> str:
        return self.source.describe()


REFERENCE_VERSION = "1.1.0"
EFFICIENTTAM_COMMIT = "abcd061ebd3cc6e7527d152d75b890126aaa53f6"
EFFICIENTTAM_GIT_DIR = Path(
    os.environ.get("EFFICIENTTAM_GIT_DIR", REPO.parent / ".mirror" / "yformer+EfficientTAM" / "repo")
)
SAMURAI_COMMIT = "76ba195984892b0d1e3db5d9c9f90bb62175680a"
SAMURAI_GIT_DIR = Path(os.environ.get("SAMURAI_GIT_DIR", REPO.parent / ".mirror" / "yangchris11+samurai" / "repo"))
DAM4SAM_COMMIT = "9c954504b39ebca4c412f207be0787c26bfac85a"
DAM4SAM_GIT_DIR = Path(os.environ.get("DAM4SAM_GIT_DIR", REPO.parent / ".mirror" / "jovanavidenovic+DAM4SAM" / "repo"))
SAM2LONG_COMMIT = "7193b77fa0c8827e0520ab281acd2cf394ab898e"
SAM2LONG_GIT_DIR = Path(os.environ.get("SAM2LONG_GIT_DIR", REPO.parent / ".mirror" / "Mark12Ding+SAM2Long" / "repo"))

REFERENCE = OracleSpec(
    name="reference",
    env_var="SAM2_REFERENCE_DIR",
    source=PipSource(f"sam2=={REFERENCE_VERSION}", build_env=(("SAM2_BUILD_CUDA", "0"),),
                     no_build_isolation=True),
    required=("pkg/sam2/build_sam.py", "pkg/sam2/sam2_video_predictor.py",
              "pkg/sam2/configs/sam2.1/sam2.1_hiera_t.yaml", *_DEPS_REQUIRED),
    default_root=CACHE / "reference",
)
EDGETAM = OracleSpec(
    name="edgetam",
    env_var="EDGETAM_ORACLE_DIR",
    source=PipSource("edgetam-dimos==1.0.1"),
    required=("pkg/sam2/build_sam.py", "pkg/sam2/configs/edgetam.yaml",
              "pkg/sam2/modeling/perceiver.py", *_DEPS_REQUIRED),
    default_root=CACHE / "oracles" / "edgetam",
)
EFFICIENTTAM = OracleSpec(
    name="efficienttam",
    env_var="EFFICIENTTAM_ORACLE_DIR",
    source=GitSource(EFFICIENTTAM_GIT_DIR, EFFICIENTTAM_COMMIT, "efficient_track_anything"),
    required=("pkg/efficient_track_anything/build_efficienttam.py",
              "pkg/efficient_track_anything/configs/efficienttam/efficienttam_s.yaml", *_DEPS_REQUIRED),
    default_root=CACHE / "oracles" / "efficienttam",
)
SAMURAI = OracleSpec(
    name="samurai",
    env_var="SAMURAI_ORACLE_DIR",
    source=GitSource(SAMURAI_GIT_DIR, SAMURAI_COMMIT, "sam2/sam2", strip_components=1),
    required=("pkg/sam2/utils/kalman_filter.py", "pkg/sam2/configs/samurai/sam2.1_hiera_t.yaml",
              "deps/scipy", "deps/loguru", *_DEPS_REQUIRED),
    default_root=CACHE / "oracles" / "samurai",
    extra_deps=("scipy", "loguru"),
)
DAM4SAM = OracleSpec(
    name="dam4sam",
    env_var="DAM4SAM_ORACLE_DIR",
    source=GitSource(DAM4SAM_GIT_DIR, DAM4SAM_COMMIT, "sam2", more=("utils", "dam4sam_tracker.py",
                                                                     "dam4sam_config.yaml")),
    required=("pkg/dam4sam_tracker.py", "pkg/sam2/sam21pp_hiera_t.yaml", "deps/vot", "deps/numba", *_DEPS_REQUIRED),
    default_root=CACHE / "oracles" / "dam4sam",
    # vot-toolkit's region code (boxes and their overlap), which DAM4SAM's tracker imports.
    extra_deps_alone=("vot-toolkit==0.7.1", "numba==0.68.1", "llvmlite==0.50.0", "lazy-object-proxy==1.13.0",
                      "attributee==0.1.8", "colorama==0.4.6", "bidict==0.24.1", "phx-class-registry==5.1.1",
                      "cachetools==8.0.2", "dominate==2.9.1", "matplotlib==3.11.2", "pyparsing==3.3.3",
                      "cycler==0.12.1", "kiwisolver==1.5.1", "six==1.17.0"),
)
SAM2LONG = OracleSpec(
    name="sam2long",
    env_var="SAM2LONG_ORACLE_DIR",
    source=GitSource(SAM2LONG_GIT_DIR, SAM2LONG_COMMIT, "sam2"),
    required=("pkg/sam2/sam2_video_predictor.py", "pkg/sam2/configs/sam2.1/sam2.1_hiera_t.yaml", *_DEPS_REQUIRED),
    default_root=CACHE / "oracles" / "sam2long",
)
ORACLES = {spec.name: spec for spec in (REFERENCE, EDGETAM, EFFICIENTTAM, SAMURAI, DAM4SAM, SAM2LONG)}

# The reference's names, as callers have always used them.
ENV_VAR = REFERENCE.env_var
DEFAULT_CACHE = REFERENCE.default_root
_REQUIRED = REFERENCE.required


@dataclass(frozen=True)
class OracleEnv:
    """Where an oracle package lives and how to run Python against it."""

    root: Path
    name: str = REFERENCE.name

    @property
    def pkg_dir(self) -> Path:
        return self.root / "pkg"

    @property
    def deps_dir(self) -> Path:
        return self.root / "deps"

    @property
    def pythonpath(self) -> str:
        return os.pathsep.join([str(self.pkg_dir), str(self.deps_dir)])

    def subprocess_env(self, base: dict | None = None) -> dict:
        """A copy of ``base`` (default: os.environ) whose PYTHONPATH is the oracle, then this
        checkout (see :func:`with_checkout_after`): the oracle's scripts import ``oracle``."""
        env = dict(os.environ if base is None else base)
        env["PYTHONPATH"] = with_checkout_after(self.pythonpath)
        return env


ReferenceEnv = OracleEnv


def with_checkout_after(pythonpath: str) -> str:
    """``pythonpath`` followed by this checkout: ``import sam2`` still finds the package on
    ``pythonpath`` first, and the checkout's ``oracle`` and ``vos`` become importable."""
    return os.pathsep.join([pythonpath, str(REPO)])


# The reason the last lookup failed (``None`` after a success); tests print it when skipping.
last_failure_reason: str | None = None
# Install failures seen by this process, so one test session tries each root at most once.
_install_errors: dict = {}


def _missing_parts(spec: OracleSpec, root: Path) -> list[str]:
    return [rel for rel in spec.required if not (root / rel).exists()]


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


def _install_into(spec: OracleSpec, target: Path) -> str | None:
    """Install ``spec`` into ``target`` (which must not exist yet). Returns an error."""
    log: list[str] = []
    staging = Path(tempfile.mkdtemp(prefix=target.name + ".staging-", dir=target.parent))
    try:
        ok = spec.source.install(staging / "pkg", log) and _pip(
            ["--target", str(staging / "deps"), *_DEPS, *spec.extra_deps], log
        ) and (not spec.extra_deps_alone or _pip(
            ["--no-deps", "--target", str(staging / "deps"), *spec.extra_deps_alone], log
        ))
        if not ok:
            return f"could not install the {spec.name} oracle ({spec.version}): " + "\n".join(log)
        missing = _missing_parts(spec, staging)
        if missing:
            return f"{spec.name} oracle install is incomplete, missing {missing}"
        (staging / _DONE_MARKER).write_text(spec.version + "\n")
        os.chmod(staging, 0o755)  # mkdtemp made it private
        os.rename(staging, target)  # atomic: readers see nothing or a whole install
        staging = None
        return None
    except (OSError, subprocess.SubprocessError) as exc:
        return f"installing the {spec.name} oracle failed: {exc!r}"
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)


def find_or_install(
    spec: OracleSpec | str, cache_dir: Path | str | None = None, install: bool = True
) -> OracleEnv | None:
    """Return the oracle's install, installing it into the cache if needed.

    Returns ``None`` when it is unavailable; ``last_failure_reason`` then says why.
    """
    global last_failure_reason
    spec = ORACLES[spec] if isinstance(spec, str) else spec
    explicit = os.environ.get(spec.env_var)
    if explicit:
        root = Path(explicit).expanduser().resolve()
        missing = _missing_parts(spec, root)
        if missing:
            return _fail(f"{spec.env_var}={explicit} is not a {spec.name} install (missing {missing})")
        last_failure_reason = None
        return OracleEnv(root, spec.name)

    root = Path(cache_dir) if cache_dir is not None else spec.default_root
    root = root.expanduser().resolve()
    if (root / _DONE_MARKER).exists() and not _missing_parts(spec, root):
        last_failure_reason = None
        return OracleEnv(root, spec.name)
    if not install:
        return _fail(f"no {spec.name} install at {root} and installing is disabled")
    if root in _install_errors:
        return _fail(_install_errors[root])

    try:
        root.parent.mkdir(parents=True, exist_ok=True)
        with _exclusive_lock(root.parent / (root.name + ".lock")):
            # Someone else may have finished while we waited for the lock.
            if not ((root / _DONE_MARKER).exists() and not _missing_parts(spec, root)):
                if root.exists():  # a broken leftover from an interrupted run
                    shutil.rmtree(root)
                error = _install_into(spec, root)
                if error:
                    _install_errors[root] = error
                    return _fail(error)
    except OSError as exc:
        return _fail(f"cannot prepare the {spec.name} oracle cache at {root}: {exc!r}")
    last_failure_reason = None
    return OracleEnv(root, spec.name)


def find_or_install_reference(
    cache_dir: Path | str | None = None, install: bool = True
) -> OracleEnv | None:
    """:func:`find_or_install` for the reference ``sam2==1.1.0``."""
    return find_or_install(REFERENCE, cache_dir, install)


if __name__ == "__main__":
    names = sys.argv[1:] or [REFERENCE.name]
    for name in names:
        found = find_or_install(name)
        if found is None:
            print(f"{name} unavailable:", last_failure_reason)
            sys.exit(1)
        print(f"{name}: {found.pythonpath}")
