"""What the last "Find by text" offered on a frame: boxes the user keeps or drops."""

from dataclasses import dataclass
from typing import List, Sequence, Tuple


@dataclass(frozen=True)
class Proposal:
    """A found box offered to the user: its number in the offer, phrase, score and box (video pixels)."""

    number: int
    phrase: str
    score: float
    box: Tuple[float, float, float, float]

    @property
    def label(self) -> str:
        """How the offer lists it, e.g. "2: dog (0.81)"."""
        return f"{self.number}: {self.phrase} ({self.score:.2f})"


@dataclass(frozen=True)
class Findings:
    """What the last Find offered, on which frame."""

    frame_idx: int
    proposals: Tuple[Proposal, ...]

    def chosen(self, labels: Sequence[str]) -> List[Proposal]:
        wanted = set(labels)
        return [proposal for proposal in self.proposals if proposal.label in wanted]


@dataclass(frozen=True)
class TextQuery:
    """What the last Find looked for: its phrases and least score (Track looks again with it)."""

    phrases: Tuple[str, ...]
    threshold: float
