"""What can go wrong in a request, in the terms the page reports it."""


class UserError(Exception):
    """A problem the user can fix; its message is shown in the page."""


class ModelCallFailed(Exception):
    """A model call failed for a reason the user cannot fix (the worker logged the traceback)."""

    def __init__(self, error_class: str) -> None:
        super().__init__(error_class)
        self.error_class = error_class


class SessionClosed(Exception):
    """The session was closed (tab closed, idle too long, or replaced) before this request ran."""
