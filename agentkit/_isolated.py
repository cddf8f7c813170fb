"""Isolated tools: sync functions run in worker processes that can be killed.

A tool made with `isolated=True` runs in a worker process (`python -c ...` running `serve`
below), one call at a time per process. Arguments go over as JSON and are validated again there
by the tool's own model; the value comes back as JSON with the text the model sees. A call that
is given up (its timeout, a cancelled run) kills its process, so a function that hangs or loops
never keeps anything; a process that dies (a crash, `os._exit`) fails its call with
`ChildProcessError`, and a fresh process takes the next call.

At most `WorkerLimits.max_processes` processes run at once (see `configure_workers`); more calls
wait for one, up to `max_queued`. Each call's pipe I/O runs on a thread of this module's own
pool, which a kill always frees.

The function must be importable by the worker: a module-level function (or a static method of
a module-level class); closures, lambdas, nested and async functions are refused when the tool
is made. A function of the `__main__` script is loaded from its file (as multiprocessing does:
under another name, so its `if __name__ == "__main__":` block does not run).
"""

from __future__ import annotations

import builtins
import concurrent.futures
import inspect
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from typing import IO, Any

from agentkit.errors import ToolCrashed, ToolDefinitionError, WorkersExhausted

__all__ = ["MAX_MESSAGE_BYTES", "ProcessPool", "call_isolated", "check_isolatable", "serve"]

logger = logging.getLogger("agentkit.tools")

MAX_MESSAGE_BYTES = 64 << 20
"""The largest request or reply line; a larger reply fails its call."""
_BOOT = (
    "import json, sys; sys.path[:] = json.loads(sys.argv[1]); "
    "from agentkit._isolated import serve; serve()"
)
_REMOTE_TYPES: dict[str, type[Exception]] = {}


class RemoteError(Exception):
    """Base of the exceptions standing for a worker's exception of a non-builtin type."""


def check_isolatable(
    name: str, fn: Callable[..., Any] | None, *, has_context: bool, inline: bool
) -> None:
    """Refuse, when the tool is made, a function a worker process could not import.

    Raises:
        ToolDefinitionError: a lambda, closure, nested or async function, or one that takes a
            `RunContext` (which cannot cross to another process).
    """
    if fn is None:
        raise ToolDefinitionError(f"tool {name!r}: an isolated tool needs a function")
    problem = None
    if not inspect.isfunction(fn):
        problem = f"{fn!r} is not a plain function"
    elif inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn):
        problem = "it is async (isolation is for sync functions)"
    elif fn.__name__ == "<lambda>" or "<locals>" in fn.__qualname__ or fn.__closure__:
        problem = "it is a lambda, a closure or a nested function (define it at module level)"
    elif has_context:
        problem = "it takes a RunContext, which cannot cross to a worker process"
    elif inline:
        problem = "it is also marked inline (it cannot run both here and elsewhere)"
    if problem is not None:
        raise ToolDefinitionError(f"tool {name!r} cannot be isolated: {problem}")


# -- the parent's side --------------------------------------------------------------------------
class _Worker:
    """One worker process and its pipes."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", _BOOT, json.dumps(sys.path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=os.getcwd(),
        )

    def exchange(self, request: bytes) -> bytes:
        """Send one request line and read the reply line (b"" if the process ended)."""
        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None and stdout is not None
        try:
            stdin.write(request)
            stdin.flush()
        except (BrokenPipeError, ValueError, OSError):  # it died, or was killed meanwhile
            return b""
        return stdout.readline(MAX_MESSAGE_BYTES + 1)

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """End the process; pipes are closed once it is reaped."""
        try:
            self.process.kill()
        except OSError:  # already reaped
            pass

    def reap(self) -> int | None:
        """Wait (briefly) for the ended process, close its pipes; its exit status."""
        try:
            status = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            logger.warning("isolated worker %d does not exit", self.process.pid)
            status = None
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                try:
                    pipe.close()
                except OSError:
                    pass
        return status


class _Call:
    """One call: which worker runs it, and whether it was given up."""

    def __init__(self, label: str, request: bytes) -> None:
        self.label = label
        self.request = request
        self.worker: _Worker | None = None
        self.given_up = False
        self.lock = threading.Lock()

    def give_up(self) -> None:
        """Kill the call's worker, if it has one; a call not yet started never starts."""
        with self.lock:
            self.given_up = True
            worker = self.worker
        if worker is not None:
            worker.kill()


class ProcessPool:
    """Worker processes for isolated tools, within `WorkerLimits.max_processes`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []
        self._waiting = 0
        self._threads: concurrent.futures.ThreadPoolExecutor | None = None
        self._size = 0

    def _executor(self, size: int) -> concurrent.futures.ThreadPoolExecutor:
        with self._lock:
            if self._threads is None or self._size != size:
                if self._threads is not None:
                    self._threads.shutdown(wait=False)
                self._threads = concurrent.futures.ThreadPoolExecutor(
                    size, thread_name_prefix="agentkit-isolated"
                )
                self._size = size
            return self._threads

    async def run(self, call: _Call) -> bytes:
        """Run a call on a worker process; its reply line (b"" if the process died).

        Raises:
            WorkersExhausted: `max_queued` calls already wait for a process.
        """
        import asyncio

        from agentkit import _workers

        limits = _workers.POOL.limits
        with self._lock:
            if self._waiting >= limits.max_processes + limits.max_queued:
                raise WorkersExhausted(
                    f"{call.label} was not run: {self._waiting} isolated calls already run or "
                    f"wait (max_processes={limits.max_processes}, max_queued={limits.max_queued})"
                )
            self._waiting += 1
        try:
            loop = asyncio.get_running_loop()
            future = loop.run_in_executor(self._executor(limits.max_processes), self._work, call)
            try:
                return await future
            except asyncio.CancelledError:
                call.give_up()
                raise
        finally:
            with self._lock:
                self._waiting -= 1

    def _work(self, call: _Call) -> bytes:
        """On a pool thread: take or start a worker, exchange the call, keep or drop the worker."""
        with call.lock:
            if call.given_up:
                return b""
            worker = self._take()
            call.worker = worker
        reply = worker.exchange(call.request)
        if reply.endswith(b"\n") and not call.given_up:
            with self._lock:
                self._idle.append(worker)
            return reply
        worker.kill()
        status = worker.reap()
        if not call.given_up:
            logger.warning("isolated worker for %s ended (status %s)", call.label, status)
        return reply if len(reply) > MAX_MESSAGE_BYTES else b""

    def _take(self) -> _Worker:
        with self._lock:
            while self._idle:
                worker = self._idle.pop()
                if worker.alive:
                    return worker
                worker.reap()
        return _Worker()

    def close(self) -> None:
        """End the idle worker processes (busy ones end with their calls)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.kill()
            worker.reap()


POOL = ProcessPool()


def _request(fn: Callable[..., Any], arguments: Mapping[str, Any], max_chars: int) -> bytes:
    from pydantic_core import to_jsonable_python

    module = sys.modules.get(fn.__module__)
    request = {
        "module": fn.__module__,
        "file": getattr(module, "__file__", None),
        "qualname": fn.__qualname__,
        "arguments": to_jsonable_python(dict(arguments), fallback=str),
        "max_chars": max_chars,
    }
    line = json.dumps(request, ensure_ascii=True).encode() + b"\n"
    return line


async def call_isolated(
    name: str, fn: Callable[..., Any], arguments: Mapping[str, Any], max_chars: int
) -> tuple[Any, str]:
    """Run `fn(**arguments)` in a worker process; its JSON value and its text for the model.

    Raises:
        ToolCrashed: the worker process died during the call (carrying `ChildProcessError`),
            or the function raised a `BaseException` that is not an `Exception`.
        WorkersExhausted: too many isolated calls already wait.
        Exception: what the function raised (a builtin type as itself, another type as a
            `RemoteError` subclass of the same name), with its message.
    """
    call = _Call(name, _request(fn, arguments, max_chars))
    reply = await POOL.run(call)
    if not reply:
        raise ToolCrashed(name, ChildProcessError("the worker process died during the call"))
    if len(reply) > MAX_MESSAGE_BYTES:
        raise ToolCrashed(name, ChildProcessError("the result is too large to send back"))
    outcome = json.loads(reply)
    if outcome["ok"]:
        return outcome["value"], outcome["text"]
    raise _rebuilt(name, outcome["type"], outcome["message"])


def _rebuilt(name: str, type_name: str, message: str) -> BaseException:
    """An exception like the worker's: builtin types as themselves, others by name."""
    found = getattr(builtins, type_name, None)
    if isinstance(found, type) and issubclass(found, BaseException):
        try:
            original = found(message)
        except Exception:  # a builtin that wants other arguments (UnicodeDecodeError...)
            original = RuntimeError(f"{type_name}: {message}")
        if isinstance(original, Exception) and not isinstance(original, StopIteration):
            return original
        return ToolCrashed(name, original)
    if not type_name.isidentifier() or len(_REMOTE_TYPES) > 1000:
        return RemoteError(f"{type_name}: {message}")
    made = _REMOTE_TYPES.get(type_name)
    if made is None:
        made = type(type_name, (RemoteError,), {"__module__": __name__})
        _REMOTE_TYPES[type_name] = made
    return made(message)


# -- the worker's side --------------------------------------------------------------------------
def serve() -> None:
    """The worker process: one request line in, one reply line out, until stdin closes."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the parent, which ends us
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # what a tool prints goes to stderr, never into the replies
    sys.stdout = sys.stderr
    requests = sys.stdin.buffer
    found: dict[tuple[str, str], Callable[[Mapping[str, Any]], Any]] = {}
    while line := requests.readline(MAX_MESSAGE_BYTES + 1):
        _reply(replies, _handle(line, found))


def _reply(stream: IO[bytes], outcome: dict[str, Any]) -> None:
    try:
        line = json.dumps(outcome, ensure_ascii=True)
    except (TypeError, ValueError) as exc:  # an exception message that cannot be written
        line = json.dumps({"ok": False, "type": type(exc).__name__, "message": str(exc)})
    stream.write(line.encode() + b"\n")
    stream.flush()


def _handle(
    line: bytes, found: dict[tuple[str, str], Callable[[Mapping[str, Any]], Any]]
) -> dict[str, Any]:
    from pydantic_core import to_jsonable_python

    from agentkit._calls import serialize_result

    try:
        request = json.loads(line)
        key = (request["module"], request["qualname"])
        if key not in found:
            found[key] = _runner(request["module"], request.get("file"), request["qualname"])
        value = found[key](request["arguments"])
        text = serialize_result(value, max_chars=request["max_chars"])
        plain = to_jsonable_python(value, fallback=str)
        return {"ok": True, "value": plain, "text": text}
    except BaseException as exc:  # everything goes back to the parent, which decides
        return {"ok": False, "type": type(exc).__name__, "message": _message(exc)}


def _message(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:
        return "(its message could not be read)"


def _runner(
    module_name: str, file: str | None, qualname: str
) -> Callable[[Mapping[str, Any]], Any]:
    """What runs the tool in this process: a `Tool` validates again, a function is called."""
    from agentkit._context import RunContext
    from agentkit.tools import Tool

    target: Any = _module(module_name, file)
    for part in qualname.split("."):
        target = getattr(target, part)
    if not isinstance(target, Tool):
        return lambda arguments: target(**arguments)
    tool = target

    def run(arguments: Mapping[str, Any]) -> Any:
        spec = tool._arguments
        if spec is None:  # a tool made from a JSON schema
            kwargs = tool.validate(arguments)
        else:  # JSON rules: a strict tool still takes a date as a string
            model = spec.model.model_validate_json(json.dumps(arguments), strict=tool.strict)
            kwargs = spec.to_kwargs(model)
        return tool._job(kwargs, RunContext(deps=None))()

    return run


def _module(name: str, file: str | None) -> Any:
    import importlib
    import importlib.util

    if name != "__main__":
        try:
            return importlib.import_module(name)
        except ModuleNotFoundError:
            if file is None:
                raise
    if file is None:
        raise ModuleNotFoundError(f"cannot import {name!r} in the worker process")
    alias = "__mp_main__" if name == "__main__" else name
    spec = importlib.util.spec_from_file_location(alias, file)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"cannot load {file!r} in the worker process")
    module = importlib.util.module_from_spec(spec)
    sys.modules[alias] = module
    spec.loader.exec_module(module)
    return module
