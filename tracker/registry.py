"""The open sessions by browser session id, so a closed tab frees its session at once."""

import threading
from typing import Dict

from .session import Session


class SessionRegistry:
    """Open sessions keyed by the web framework's per-tab id (thread-safe)."""

    def __init__(self) -> None:
        self._sessions: Dict[str, Session] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)

    def put(self, key: str, session: Session) -> None:
        """Make ``session`` the tab's session, closing the one it replaces."""
        with self._lock:
            previous = self._sessions.get(key)
            self._sessions[key] = session
        if previous is not None and previous is not session:
            previous.close()

    def close(self, key: str) -> None:
        """Close the tab's session (the tab was closed)."""
        with self._lock:
            session = self._sessions.pop(key, None)
        if session is not None:
            session.close()

    def discard(self, session: Session) -> None:
        """Close ``session`` and forget it, wherever it is registered (it expired)."""
        with self._lock:
            for key in [k for k, s in self._sessions.items() if s is session]:
                del self._sessions[key]
        session.close()
