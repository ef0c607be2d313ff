"""pyproject.toml packages our sam2 as a drop-in for the official one: the wheel pip builds.

The wheel is built offline (``pip wheel --no-deps --no-build-isolation --no-index``) from a
copy of the checkout, so the build's ``build/`` and ``*.egg-info`` never land in the working
tree. The copy keeps tests/, bench/, tracker/ and app.py, so their absence from the wheel is
checked for real. A few seconds.
"""

import ast
import email.parser
import importlib.util
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from oracle.paths import REPO

PACKAGE = REPO / "sam2"
# EfficientTAM's official import paths, packaged with sam2 (they import only sam2).
SHIM = REPO / "efficient_track_anything"
NOT_PACKAGED = ("tests", "bench", "oracle", "tracker", "app.py")
EXTRAS = ("app", "dev", "text")
# Top-level modules that sam2/ imports -> the distribution that provides them.
IMPORT_TO_DIST = {
    "torch": "torch",
    "torchvision": "torchvision",
    "numpy": "numpy",
    "PIL": "pillow",
    "cv2": "opencv-python-headless",
    "av": "av",
    "huggingface_hub": "huggingface-hub",
    "timm": "timm",
    "yaml": "pyyaml",
}
# Imported only for an option that says so (as in the official package), not dependencies:
# pycocotools for the automatic mask generator's output_mode="coco_rle"; transformers for
# finding objects by text (sam2.text_boxes; the "text" extra).
OPTIONAL_IMPORTS = {"pycocotools", "transformers"}
# Left out of the copy the wheel is built from: version control, caches, weights, outputs.
COPY_IGNORE = shutil.ignore_patterns(
    ".git", ".cache", "__pycache__", "*.pyc", "*.pyo", ".pytest_cache", "build", "dist", "*.egg-info",
    "outputs", "venv", ".venv", "node_modules", "*.pt", "*.pth", "*.safetensors",
)


def _is_cache(path: Path) -> bool:
    return "__pycache__" in path.parts or path.suffix in (".pyc", ".pyo")


def _setuptools_can_build_wheels() -> str:
    """Empty when this environment builds wheels offline; otherwise why not."""
    if importlib.util.find_spec("setuptools") is None:
        return "setuptools is not installed (requirements-dev.txt installs it)"
    import setuptools

    if Version(setuptools.__version__) < Version("70.1") and importlib.util.find_spec("wheel") is None:
        return f"setuptools {setuptools.__version__} needs the 'wheel' package to build wheels (or setuptools>=70.1)"
    return ""


def _pyproject_version():
    try:
        import tomllib
    except ImportError:  # Python 3.10
        tomllib = pytest.importorskip("tomli")
    with open(REPO / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]["version"]


def _requirements(path: Path) -> dict:
    """name -> Requirement for the lines of a requirements file (not its -r includes)."""
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            req = Requirement(line)
            found[canonicalize_name(req.name)] = req
    return found


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    if not (REPO / "pyproject.toml").exists():
        pytest.fail("pyproject.toml is missing: `pip install .` cannot install our sam2")
    reason = _setuptools_can_build_wheels()
    if reason:
        pytest.skip(f"cannot build the wheel offline: {reason}")
    root = tmp_path_factory.mktemp("wheel")
    src, out = root / "src", root / "out"
    shutil.copytree(REPO, src, ignore=COPY_IGNORE)
    env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "-w", str(out), str(src)],
        cwd=root, env=env, capture_output=True, text=True, timeout=180,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    wheels = list(out.glob("*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="module")
def names(wheel) -> list:
    with zipfile.ZipFile(wheel) as zf:
        return zf.namelist()


@pytest.fixture(scope="module")
def metadata(wheel, names):
    path = next(n for n in names if n.endswith(".dist-info/METADATA"))
    with zipfile.ZipFile(wheel) as zf:
        return email.parser.Parser().parsestr(zf.read(path).decode("utf-8"))


@pytest.fixture(scope="module")
def requires(metadata) -> list:
    return [Requirement(r) for r in metadata.get_all("Requires-Dist") or []]


def _core(requires) -> dict:
    return {canonicalize_name(r.name): r for r in requires if r.marker is None}


def _extra(requires, extra: str) -> dict:
    return {
        canonicalize_name(r.name): r
        for r in requires
        if r.marker is not None and r.marker.evaluate({"extra": extra})
    }


def test_wheel_is_pure_python_and_named_sam2(wheel, metadata):
    assert wheel.name.startswith("sam2-") and wheel.name.endswith("-py3-none-any.whl"), wheel.name
    assert metadata["Name"] == "sam2"
    assert metadata["Requires-Python"] == ">=3.10"


def test_version_satisfies_code_written_for_the_official_package(wheel, metadata):
    import sam2

    version = metadata["Version"]
    assert version == _pyproject_version() == sam2.__version__
    assert wheel.name.startswith(f"sam2-{version}-")
    assert Version(version) >= Version("1.0")


def test_wheel_holds_the_whole_sam2_tree_and_nothing_else(names, metadata):
    tree = {
        p.relative_to(REPO).as_posix()
        for package in (PACKAGE, SHIM) for p in package.rglob("*") if p.is_file() and not _is_cache(p)
    }
    assert any(n.endswith(".py") for n in tree) and "sam2/modeling/__init__.py" in tree
    assert "efficient_track_anything/build_efficienttam.py" in tree
    packaged = {n for n in names if n.startswith(("sam2/", "efficient_track_anything/"))}
    assert tree - packaged == set(), "files of sam2/ missing from the wheel (a subpackage or package data?)"
    assert packaged - tree == set(), "files in the wheel that are not in sam2/ or efficient_track_anything/"
    dist_info = f"sam2-{metadata['Version']}.dist-info"
    assert {n.split("/", 1)[0] for n in names} == {"sam2", "efficient_track_anything", "dam4sam_tracker.py", dist_info}
    for name in NOT_PACKAGED:
        assert not any(n == name or n.startswith(name + "/") for n in names), name


def test_core_dependencies_are_what_sam2_imports(requires):
    stdlib = set(sys.stdlib_module_names)
    imported = set()
    for path in [*PACKAGE.rglob("*.py"), *SHIM.rglob("*.py")]:
        if _is_cache(path):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    third_party = imported - stdlib - {"sam2", "__future__"} - OPTIONAL_IMPORTS
    unknown = third_party - set(IMPORT_TO_DIST)
    assert not unknown, f"sam2/ imports {unknown}: add them to pyproject's dependencies and IMPORT_TO_DIST"
    expected = {canonicalize_name(IMPORT_TO_DIST[m]) for m in third_party}
    assert set(_core(requires)) == expected


def test_dependencies_and_extras_match_the_requirements_files(requires, metadata):
    assert set(metadata.get_all("Provides-Extra") or []) >= set(EXTRAS)
    core, app, dev = _core(requires), _extra(requires, "app"), _extra(requires, "dev")
    assert set(app) >= {"gradio", "imageio-ffmpeg"} and not set(app) & set(core)
    text = _extra(requires, "text")
    assert set(text) == {"transformers"} and text["transformers"].specifier == app["transformers"].specifier
    assert set(dev) >= {"pytest", "playwright", "setuptools", "sam2"}
    assert dev["sam2"].extras == {"app"}, "the dev extra pulls in the app extra (tests cover the app)"

    # requirements.txt = the library and the app; requirements-dev.txt adds the test tools.
    runtime = _requirements(REPO / "requirements.txt")
    assert set(runtime) == set(core) | set(app)
    tools = _requirements(REPO / "requirements-dev.txt")
    assert set(tools) == set(dev) - {"sam2"}
    for name, req in {**core, **app, **{k: v for k, v in dev.items() if k != "sam2"}}.items():
        listed = runtime.get(name) or tools[name]
        assert req.specifier == listed.specifier, f"{name}: pyproject {req.specifier}, requirements {listed.specifier}"
