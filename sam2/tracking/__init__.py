"""Tracking policies on SAM 2's weights, chosen per session: SAM 2's own, SAMURAI's, DAM4SAM's
and SAM2Long's.

``make_tracker("samurai")`` or ``make_tracker(SamuraiSettings(kf_score_weight=0.15))`` gives
a policy; ``SAM2VideoPredictor.init_state(video, tracker=...)`` takes either.
"""

from typing import Dict, Tuple, Type, Union

from .dam4sam import Dam4samPolicy, Dam4samSettings
from .policy import Sam2Settings, TrackingPolicy
from .sam2long import Sam2LongPolicy, Sam2LongSettings
from .samurai import SamuraiPolicy, SamuraiSettings

TrackerSettings = Union[Sam2Settings, SamuraiSettings, Dam4samSettings, Sam2LongSettings]
TrackerChoice = Union[str, TrackerSettings, TrackingPolicy]

_POLICIES: Dict[str, Tuple[type, Type[TrackingPolicy]]] = {
    Sam2Settings.name: (Sam2Settings, TrackingPolicy),
    SamuraiSettings.name: (SamuraiSettings, SamuraiPolicy),
    Dam4samSettings.name: (Dam4samSettings, Dam4samPolicy),
    Sam2LongSettings.name: (Sam2LongSettings, Sam2LongPolicy),
}
TRACKER_NAMES = tuple(_POLICIES)


class UnknownTrackerError(ValueError):
    """A tracker name or settings object that no policy serves."""


def tracker_settings(choice: Union[str, TrackerSettings]) -> TrackerSettings:
    """Settings of a tracker named ``choice`` (its defaults), or ``choice`` itself."""
    if isinstance(choice, str):
        key = choice.strip().lower().replace(" ", "")
        if key not in _POLICIES:
            raise UnknownTrackerError(f"unknown tracker {choice!r}; known: {', '.join(TRACKER_NAMES)}")
        return _POLICIES[key][0]()
    for settings_type, _ in _POLICIES.values():
        if type(choice) is settings_type:
            return choice
    raise UnknownTrackerError(f"{choice!r} is not the settings of a known tracker ({', '.join(TRACKER_NAMES)})")


def make_tracker(choice: TrackerChoice = "sam2") -> TrackingPolicy:
    """The policy for a tracker name, settings object or policy (returned as it is)."""
    if isinstance(choice, TrackingPolicy):
        return choice
    settings = tracker_settings(choice)
    return _POLICIES[settings.name][1](settings)


__all__ = [
    "TRACKER_NAMES", "Dam4samSettings", "Sam2LongSettings", "Sam2Settings", "SamuraiSettings", "TrackerChoice", "TrackerSettings", "TrackingPolicy",
    "UnknownTrackerError", "make_tracker", "tracker_settings",
]
