"""The app (tracker/) uses the library (sam2/) through its public API: no underscore names, no
modules or state fields outside the public surface except the ones listed below as debts, each
to be replaced by public API (issue 31). A new private access fails; so does a debt paid off
without being struck from the list."""

import ast
from pathlib import Path
from typing import Iterable, Set, Tuple

from oracle.paths import REPO

# The official modules, and our documented additions.
PUBLIC_MODULES = {
    "sam2", "sam2.build_sam", "sam2.sam2_video_predictor", "sam2.sam2_image_predictor", "sam2.automatic_mask_generator",
    "sam2.prompts", "sam2.models", "sam2.runtime.attention", "sam2.runtime.cpu_allocator", "sam2.runtime.memory_policy",
    "sam2.runtime.precision", "sam2.frames.source", "sam2.frames.video_file", "sam2.state_storage", "sam2.tracking",
    "sam2.text_boxes",
}
# The official inference state's fields (its dict keys, as attributes too).
PUBLIC_STATE_FIELDS = {"obj_ids", "video_height", "video_width", "num_frames", "device"}

# Debts: names of internal modules and state fields the app still uses. (Paid so far: the
# state's prompts, read through sam2.prompts; building at another size and finding a preset,
# through build_sam; configs, hub checkpoints and load errors, through sam2.models; the
# InferenceState type, from sam2.sam2_video_predictor; the spill folder, through MemoryPolicy, and
# a state's rest, wake, tidy and release, through sam2.state_storage; the frames an object has
# results on and the mask prompts held, through sam2.prompts.)
INTERNAL_IMPORTS = set()
INTERNAL_STATE_FIELDS = set()


def library_uses(source: str) -> Tuple[Set[Tuple[str, str]], Set[str], Set[str]]:
    """(names imported from sam2 modules, as (module, name); underscore names used from sam2;
    attributes read from values named ``state``) in ``source``."""
    imports, private, state_fields = set(), set(), set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "sam2":
            for alias in node.names:
                imports.add((node.module, alias.name))
                if alias.name.startswith("_") or any(part.startswith("_") for part in node.module.split(".")):
                    private.add(f"{node.module}.{alias.name}")
        elif isinstance(node, ast.Attribute):
            if node.attr.startswith("_") and not node.attr.startswith("__") and ast.unparse(node.value) not in ("self", "cls"):
                private.add(ast.unparse(node))
            if ast.unparse(node.value).split(".")[-1] == "state":
                state_fields.add(node.attr)
    return imports, private, state_fields


def tracker_uses(paths: Iterable[Path]):
    imports, private, state_fields = set(), set(), set()
    for path in paths:
        found = library_uses(path.read_text())
        imports |= found[0]
        private |= found[1]
        state_fields |= found[2]
    return imports, private, state_fields


def test_the_app_reaches_the_library_only_through_public_names_and_the_listed_debts():
    imports, private, state_fields = tracker_uses(sorted((REPO / "tracker").rglob("*.py")))
    assert private == set()
    internal = {(module, name) for module, name in imports if module not in PUBLIC_MODULES}
    assert internal == INTERNAL_IMPORTS, "a new internal import, or a debt paid: update INTERNAL_IMPORTS"
    assert state_fields - PUBLIC_STATE_FIELDS == INTERNAL_STATE_FIELDS


def test_a_planted_private_access_is_seen():
    imports, private, state_fields = library_uses(
        "from sam2.modeling.sam2_base import _private_helper\n"
        "from sam2.session.state import ObjectState\n"
        "points = session.state.objects[0].point_inputs\n"
        "predictor._check_frame(state, 0)\n")
    assert private == {"sam2.modeling.sam2_base._private_helper", "predictor._check_frame"}
    assert ("sam2.session.state", "ObjectState") in imports and "sam2.session.state" not in PUBLIC_MODULES
    assert state_fields == {"objects"}
