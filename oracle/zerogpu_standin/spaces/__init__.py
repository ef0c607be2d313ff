"""A strict local stand-in for Hugging Face's ``spaces.GPU`` (ZeroGPU), for tests.

Put this folder first on ``sys.path`` (or PYTHONPATH) and set ``SPACES_ZERO_GPU=true``; then
``import spaces`` finds this module. It keeps the contract of ``spaces/zero/wrappers.py``
(spaces 0.51) as strictly as one machine can:

* every call runs in a process forked for that call alone (ZeroGPU may reuse a worker or
  fork a new one at any call, so nothing may rely on either);
* the arguments are pickled into it; the return value, or each item a generator yields, is
  pickled back; nothing else the call changes (its arguments, module state) comes back;
* an exception in the call arrives as ``gr.Error`` itself when it is one, otherwise as a
  ``gr.Error`` titled "ZeroGPU worker error" that names only the exception's class; an
  argument that cannot be pickled raises in the caller, as in ZeroGPU's ``arg_queue.put``;
* closing a generator in the caller stops the worker after its current item;
* ``duration`` must be given: a number of seconds, or a function of the call's arguments
  that returns one (ZeroGPU calls it with the same arguments before scheduling).

Each call is recorded in :data:`CALLS` (and appended as a JSON line to the file named by
``ZEROGPU_STANDIN_LOG``, if set): bytes and seconds of pickling in each direction.
"""

import inspect
import json
import multiprocessing
import os
import pickle
import sys
import time
import traceback
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from functools import wraps
from typing import Callable, List, Optional

import gradio as gr

_FORK = multiprocessing.get_context("fork")
_END = "__zerogpu_standin_end__"


@dataclass
class Crossing:
    """What one call sent across: the arguments once, and each result (one for a plain call,
    one per yielded item for a generator)."""

    function: str
    duration: float
    argument_bytes: int = 0
    argument_seconds: float = 0.0  # pickling in the app + unpickling in the worker (not the fork)
    result_bytes: List[int] = field(default_factory=list)
    result_seconds: List[float] = field(default_factory=list)  # pickling in the worker + unpickling here


CALLS: List[Crossing] = []


def _record(crossing: Crossing) -> None:
    CALLS.append(crossing)
    log = os.environ.get("ZEROGPU_STANDIN_LOG")
    if log:
        with open(log, "a") as out:
            out.write(json.dumps(asdict(crossing)) + "\n")


def _seconds(duration, args, kwargs) -> float:
    value = duration(*args, **kwargs) if callable(duration) else duration
    if isinstance(value, timedelta):
        value = value.total_seconds()
    if not isinstance(value, (int, float)) or value <= 0:
        raise TypeError(f"spaces.GPU duration must be a positive number of seconds, got {value!r}")
    return float(value)


@dataclass
class _Failed:
    error_class: str
    gradio_error: Optional[gr.Error]
    traceback: str


def _failure(error: Exception) -> _Failed:
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    return _Failed(type(error).__name__, error if isinstance(error, gr.Error) else None, text)


def _send(connection, value) -> None:
    """Pickle ``value`` to the app with the seconds it took, or a failure if it cannot be pickled."""
    start = time.perf_counter()
    try:
        data = pickle.dumps(value)
    except Exception as error:  # ZeroGPU reports an unpicklable result as a worker error
        data = pickle.dumps(_failure(error))
    connection.send((data, time.perf_counter() - start))


def _run(task: Callable, connection, stop, args, kwargs) -> None:
    try:
        if inspect.isgeneratorfunction(task):
            for item in task(*args, **kwargs):
                _send(connection, item)
                if stop.is_set():
                    break
            _send(connection, _END)
        else:
            _send(connection, task(*args, **kwargs))
    except (BrokenPipeError, ConnectionResetError):
        raise
    except Exception as error:
        _send(connection, _failure(error))


def _worker(task: Callable, connection, stop) -> None:
    start = time.perf_counter()
    args, kwargs = pickle.loads(connection.recv_bytes())
    connection.send(time.perf_counter() - start)
    try:
        _run(task, connection, stop, args, kwargs)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the app stopped listening (the generator was closed)
    connection.close()


def _start(task: Callable, crossing: Crossing, args, kwargs):
    start = time.perf_counter()
    data = pickle.dumps((args, kwargs))  # raises here when an argument cannot cross
    crossing.argument_bytes = len(data)
    pickling = time.perf_counter() - start
    here, there = _FORK.Pipe()
    stop = _FORK.Event()
    process = _FORK.Process(target=_worker, args=(task, there, stop), daemon=True)
    process.start()
    there.close()
    here.send_bytes(data)
    crossing.argument_seconds = pickling + here.recv()
    return process, here, stop


def _receive(connection, crossing: Crossing):
    try:
        data, worker_seconds = connection.recv()
    except EOFError:
        raise gr.Error("GPU task aborted", title="ZeroGPU worker error") from None
    start = time.perf_counter()
    value = pickle.loads(data)
    if isinstance(value, str) and value == _END:
        return value
    crossing.result_bytes.append(len(data))
    crossing.result_seconds.append(worker_seconds + time.perf_counter() - start)
    if isinstance(value, _Failed):
        if value.gradio_error is not None:
            raise value.gradio_error
        print(value.traceback, file=sys.stderr)  # as ZeroGPU prints the worker's traceback
        raise gr.Error(value.error_class, title="ZeroGPU worker error")
    return value


def _finish(process, connection, crossing: Crossing) -> None:
    connection.close()
    process.join(timeout=30)
    if process.is_alive():
        process.kill()
    _record(crossing)


def _wrap(task: Callable, duration) -> Callable:
    if duration is None:
        raise TypeError(f"give spaces.GPU a duration for {task.__name__} (ZeroGPU's default is 60 s)")

    if inspect.isgeneratorfunction(task):
        @wraps(task)
        def generator(*args, **kwargs):
            crossing = Crossing(task.__name__, _seconds(duration, args, kwargs))
            process, connection, stop = _start(task, crossing, args, kwargs)
            try:
                while True:
                    item = _receive(connection, crossing)
                    if isinstance(item, str) and item == _END:
                        return
                    yield item
            finally:
                stop.set()
                _finish(process, connection, crossing)

        return generator

    @wraps(task)
    def plain(*args, **kwargs):
        crossing = Crossing(task.__name__, _seconds(duration, args, kwargs))
        process, connection, _ = _start(task, crossing, args, kwargs)
        try:
            return _receive(connection, crossing)
        finally:
            _finish(process, connection, crossing)

    return plain


def GPU(task: Optional[Callable] = None, *, duration=None, size=None, **kwargs):
    """``spaces.GPU`` as a decorator with or without arguments (see the module's docstring)."""
    if task is None:
        return lambda function: _wrap(function, duration)
    return _wrap(task, duration)
