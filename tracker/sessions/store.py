"""The open sessions, one per browser tab (or API client), and when they end.

The store is the only holder of sessions: a tab's requests find theirs by the web
framework's per-tab id. A session ends when its tab closes, when another video replaces it,
or after ``ttl`` seconds without a request; ending it frees its memory and files.
"""

import contextlib
import threading
import time
from typing import Callable, Dict, Iterator, Optional, Tuple

from ..errors import UserError
from .session import Session

NO_VIDEO = "Upload a video first."


class SessionStore:
    """Sessions by tab id, closed after ``ttl`` idle seconds (thread-safe)."""

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._sessions: Dict[str, Tuple[Session, float]] = {}
        self._lock = threading.Lock()
        self._sweeper: Optional[threading.Thread] = None

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)

    def get(self, tab: str) -> Optional[Session]:
        """The tab's session (its idle time starts again), or None."""
        with self._lock:
            entry = self._sessions.get(tab)
            if entry is None:
                return None
            self._sessions[tab] = (entry[0], self._clock())
            return entry[0]

    @contextlib.contextmanager
    def using(self, tab: str) -> Iterator[Session]:
        """The tab's session, kept open while the request runs; its idle time starts again
        when the request ends."""
        session = self.get(tab)
        if session is None:
            raise UserError(NO_VIDEO)
        try:
            with session.in_use():
                yield session
        finally:
            self.get(tab)

    def put(self, tab: str, session: Session) -> None:
        """Make ``session`` the tab's session, closing the one it replaces."""
        with self._lock:
            previous = self._sessions.get(tab)
            self._sessions[tab] = (session, self._clock())
        if previous is not None and previous[0] is not session:
            previous[0].close()
        self._start_sweeping()

    def close(self, tab: str) -> None:
        """Close the tab's session (the tab was closed, or its video removed)."""
        with self._lock:
            entry = self._sessions.pop(tab, None)
        if entry is not None:
            entry[0].close()

    def close_idle(self) -> int:
        """Close sessions idle for more than ``ttl`` seconds; returns how many."""
        now = self._clock()
        with self._lock:
            idle = [tab for tab, (session, used) in self._sessions.items()
                    if now - used > self.ttl and not session.busy]
            closing = [self._sessions.pop(tab)[0] for tab in idle]
        for session in closing:
            session.close()
        return len(closing)

    def _start_sweeping(self) -> None:
        with self._lock:
            if self._sweeper is not None:
                return
            self._sweeper = threading.Thread(target=self._sweep, name="session-sweeper", daemon=True)
        self._sweeper.start()

    def _sweep(self) -> None:
        interval = max(0.5, min(self.ttl / 4, 30.0))
        while True:
            time.sleep(interval)
            self.close_idle()
