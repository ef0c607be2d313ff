"""The package's shape: the official import paths work, no import cycles, short functions."""

import ast
import importlib
from pathlib import Path

import pytest

from oracle.paths import REPO

PACKAGES = ("sam2", "tracker", "oracle", "bench", "vos")
SHORT_FUNCTIONS = ("sam2", "tracker")
LONGEST_FUNCTION = 60

# What code written for the official package imports (its notebooks, tools/, README, demos).
OFFICIAL_NAMES = {
    "sam2.build_sam": [
        "build_sam2", "build_sam2_video_predictor", "build_sam2_hf", "build_sam2_video_predictor_hf",
        "HF_MODEL_ID_TO_FILENAMES",
    ],
    "sam2.sam2_video_predictor": ["SAM2VideoPredictor"],
    "sam2.sam2_image_predictor": ["SAM2ImagePredictor"],
    "sam2.automatic_mask_generator": ["SAM2AutomaticMaskGenerator"],
    "sam2.modeling.sam2_base": ["SAM2Base", "NO_OBJ_SCORE"],
    # Third-party trackers, notebooks and demos (SAMURAI, SAM2Long, DAM4SAM, Grounded-SAM-2, the
    # official demo backend) import these helpers.
    "sam2.utils.misc": [
        "get_sdpa_settings", "get_connected_components", "mask_to_box", "_load_img_as_tensor",
        "AsyncVideoFrameLoader", "load_video_frames", "load_video_frames_from_jpg_images",
        "load_video_frames_from_video_file", "fill_holes_in_mask_scores", "concat_points",
    ],
    "sam2.utils.transforms": ["SAM2Transforms"],
    "sam2.utils.amg": [
        "MaskData", "is_box_near_crop_edge", "box_xyxy_to_xywh", "batch_iterator", "mask_to_rle_pytorch",
        "rle_to_mask", "area_from_rle", "calculate_stability_score", "build_point_grid",
        "build_all_layer_point_grids", "generate_crop_boxes", "uncrop_boxes_xyxy", "uncrop_points", "uncrop_masks",
        "remove_small_regions", "coco_encode_rle", "batched_mask_to_box",
    ],
}


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def source_files(packages=PACKAGES):
    return sorted(path for package in packages for path in (REPO / package).rglob("*.py"))


def imported_modules(path: Path, known: set) -> set:
    """Modules of ``known`` that ``path`` imports anywhere in it, inside functions too."""
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in found if name in known}


def find_cycle(graph: dict):
    """One cycle of ``graph`` (module -> imported modules) as a list, or None."""
    state = {}

    def visit(node, trail):
        state[node] = "open"
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                return trail[trail.index(target):] + [target]
            if target not in state:
                cycle = visit(target, trail + [target])
                if cycle:
                    return cycle
        state[node] = "done"
        return None

    for start in sorted(graph):
        if start not in state:
            cycle = visit(start, [start])
            if cycle:
                return cycle
    return None


@pytest.mark.parametrize("module", sorted(OFFICIAL_NAMES))
def test_official_import_paths_work(module):
    imported = importlib.import_module(module)
    assert [name for name in OFFICIAL_NAMES[module] if not hasattr(imported, name)] == []


def test_no_import_cycles():
    files = source_files()
    known = {module_name(path) for path in files}
    graph = {module_name(path): imported_modules(path, known) - {module_name(path)} for path in files}
    # A package's __init__ is imported before its modules; that edge is not a cycle.
    graph = {name: {t for t in targets if not name.startswith(t + ".")} for name, targets in graph.items()}
    assert find_cycle(graph) is None


# The app's layers, top down (docs/architecture.md); the base modules sit under all of them.
TRACKER_LAYERS = ("page", "actions", "sessions", "media", "model")
TRACKER_BASE = ("settings", "errors", "wording")


def upward_imports(graph: dict) -> list:
    """Imports of ``graph`` (tracker module -> imported modules) from a lower layer to a higher
    one, or from a base module to any layer, as "importer -> imported" lines."""
    def layer(module: str) -> int:
        part = module.split(".")[1] if module.count(".") else ""
        return TRACKER_LAYERS.index(part) if part in TRACKER_LAYERS else len(TRACKER_LAYERS)

    return sorted(f"{source} -> {target}" for source, targets in graph.items() for target in targets
                  if target.startswith("tracker.") and layer(target) < layer(source))


def test_the_apps_layers_import_only_downward():
    files = source_files(("tracker",))
    known = {module_name(path) for path in files}
    graph = {module_name(path): imported_modules(path, known) - {module_name(path)} for path in files}
    layers = {name.split(".")[1] for name in known if name.count(".") >= 2}
    assert layers == set(TRACKER_LAYERS), "every module of tracker/ is in a layer or a base module"
    assert {name.split(".")[1] for name in known if name.count(".") == 1} <= set(TRACKER_LAYERS + TRACKER_BASE)
    assert upward_imports(graph) == []
    planted = {"tracker.model.calls": {"tracker.sessions.session"}, "tracker.errors": {"tracker.media.overlay"}}
    assert upward_imports(planted) == ["tracker.errors -> tracker.media.overlay",
                                       "tracker.model.calls -> tracker.sessions.session"]


def test_the_cycle_finder_sees_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_function_is_longer_than_the_limit():
    long = []
    for path in source_files(SHORT_FUNCTIONS):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > LONGEST_FUNCTION:
                    long.append(f"{path.relative_to(REPO)}:{node.lineno} {node.name} ({length} lines)")
    assert long == []


def test_benchmarks_and_tests_share_tools_through_imports_not_search_path_edits():
    """bench/ imports nothing from tests/, and neither edits sys.path to reach the other."""
    test_modules = {path.stem for path in (REPO / "tests").glob("*.py")}
    problems = []
    for path in source_files(("bench", "oracle")) + sorted((REPO / "tests").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr == "path" and getattr(node.value, "id", "") == "sys":
                problems.append(f"{path.relative_to(REPO)}:{node.lineno} uses sys.path")
            if path.parent.name == "bench" and isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                problems += [f"{path.relative_to(REPO)}:{node.lineno} imports {name} from tests/"
                             for name in names if name.split(".")[0] in test_modules]
    assert problems == []
