"""Where the inputs of tests and benchmarks are: the checkout, ../shared beside it, caches."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SHARED_DATA = SHARED / "data"
SEED_TUTORIAL = SHARED / "seed" / "000_9f9cb29c0c840346.txt"
CACHE = REPO / ".cache"
