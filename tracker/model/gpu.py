"""Running model calls under Hugging Face ZeroGPU's ``spaces.GPU``, or in-process elsewhere.

On a ZeroGPU Space (``SPACES_ZERO_GPU=true``, the ``spaces`` package installed) each call of a
function decorated with ``spaces.GPU`` runs in a worker process forked from the app: the
arguments are pickled into it and the results (the return value, or each yielded item of a
generator, or the exception) pickled back; the worker may be a new fork at every call. So a
model call here takes everything it needs as arguments and returns everything that must
outlive it. Exceptions other than ``gr.Error`` reach the app only as "ZeroGPU worker error"
and a class name, so a call catches its own exceptions in the worker and sends them back as
a :class:`Failure` value, which the app side raises again with its message. Elsewhere
``spaces.GPU`` returns the function unchanged and the same code runs in-process.
"""

import functools
import inspect
import logging
import os
from dataclasses import dataclass
from typing import Callable, Optional, Union

import torch

from ..errors import ModelCallFailed, UserError

try:
    import spaces
except ImportError:  # not on a Space: run model calls in-process
    spaces = None

logger = logging.getLogger(__name__)

# The process that imported this module: calls running elsewhere run in a forked worker.
_APP_PID = os.getpid()

Duration = Union[int, Callable[..., int]]


def zero_gpu_active() -> bool:
    """Whether model calls run in ZeroGPU worker processes (the variable ``spaces`` reads)."""
    return spaces is not None and os.environ.get("SPACES_ZERO_GPU", "").lower() in ("1", "t", "true")


@dataclass(frozen=True)
class Failure:
    """An exception raised in a model call, sent back as a value (it always pickles)."""

    message: str
    error_class: str
    users_fault: bool

    @classmethod
    def of(cls, error: Exception) -> "Failure":
        if not isinstance(error, UserError):
            logger.exception("model call failed", exc_info=error)
        return cls(str(error), type(error).__name__, isinstance(error, UserError))

    def raise_again(self):
        if self.users_fault:
            raise UserError(self.message)
        raise ModelCallFailed(self.error_class)


def _prepare_worker() -> None:
    """In a forked worker, run torch on one CPU thread: the GPU does the work, and an OpenMP
    thread pool that the app process started does not survive fork (parallel CPU ops in the
    child wait forever)."""
    if os.getpid() != _APP_PID:
        torch.set_num_threads(1)


def _in_worker(function: Callable) -> Callable:
    """``function`` as it runs in the worker: exceptions come back as a :class:`Failure`."""
    if inspect.isgeneratorfunction(function):
        @functools.wraps(function)
        def generator(*args, **kwargs):
            _prepare_worker()
            try:
                yield from function(*args, **kwargs)
            except Exception as error:
                yield Failure.of(error)

        return generator

    @functools.wraps(function)
    def plain(*args, **kwargs):
        _prepare_worker()
        try:
            return function(*args, **kwargs)
        except Exception as error:
            return Failure.of(error)

    return plain


def _in_app(remote: Callable) -> Callable:
    """The app's side of a model call: a :class:`Failure` coming back is raised again."""
    if inspect.isgeneratorfunction(remote):
        @functools.wraps(remote)
        def generator(*args, **kwargs):
            for item in remote(*args, **kwargs):
                if isinstance(item, Failure):
                    item.raise_again()
                yield item

        return generator

    @functools.wraps(remote)
    def plain(*args, **kwargs):
        result = remote(*args, **kwargs)
        if isinstance(result, Failure):
            result.raise_again()
        return result

    return plain


def on_gpu(function: Callable, duration: Optional[Duration] = None) -> Callable:
    """``function`` as a model call: on ZeroGPU it runs in a GPU worker within ``duration``
    seconds (a number, or a function of the call's arguments that estimates it)."""
    worker_side = _in_worker(function)
    remote = spaces.GPU(worker_side, duration=duration) if spaces is not None else worker_side
    return _in_app(remote)
