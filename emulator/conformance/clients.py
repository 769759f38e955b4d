"""Clients the conformance runner can judge: a Python callable, any command, this project's own.

Each adapter turns one call into an :class:`~emulator.conformance.judge.Outcome`;
the runner applies the deadline. A client gets the emulator's URL, the
prompt and the idle timeout the scenario assumes (``{timeout}`` in a
command; a ``timeout`` keyword for a callable that takes one). The official SDKs as
clients are in :mod:`emulator.conformance.sdks`, their tool loops in
:mod:`emulator.conformance.loops`.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import inspect
import os
import shlex
import signal
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, Final

from .judge import Outcome

__all__ = ["Client", "command_client", "fakegpt", "python_client"]

#: (url, prompt, idle timeout) -> what the client did.
Client = Callable[[str, str, float], Awaitable[Outcome]]

#: This project's client errors, by the failure kind each one is (the one
#: table mapping them; the client's own end-to-end tests judge through it).
CLIENT_FAILURE_KINDS: Final = {
    "UpstreamStatusError": "http_status",
    "UpstreamTimeoutError": "idle_timeout",
    "UpstreamConnectionError": "connection",
    "IncompleteStreamError": "incomplete_stream",
    "NoValidResponseError": "no_reply",
    "UpstreamStreamError": "upstream_error",
    "LoginError": "rejected_login",
    "SnapshotRewriteError": "rewritten_reply",
}


def failure_kind(exc: BaseException) -> str | None:
    """The failure kind of one of this project's client errors (None for any other error)."""
    for cls in type(exc).__mro__:
        if cls.__module__ == "client.errors" and cls.__name__ in CLIENT_FAILURE_KINDS:
            return CLIENT_FAILURE_KINDS[cls.__name__]
    return None


def _failed(exc: BaseException, started: float) -> Outcome:
    # An HTTP error's status, where the exception carries it (as the SDKs' do) and its
    # message may not say it (an HTML page as the message).
    status = getattr(exc, "status_code", None)
    said = f" (HTTP {status})" if isinstance(status, int) and str(status) not in str(exc) else ""
    return Outcome(
        failure=f"{type(exc).__name__}{said}: {exc}",
        kind=failure_kind(exc),
        seconds=time.monotonic() - started,
    )


def python_client(spec: str | Callable[..., Any]) -> Client:
    """A callable (or ``"module:function"``), called as ``function(url, prompt[, timeout=…])``.

    It may return text, an awaitable of text, or an (async) iterator of text
    pieces; raising is failing. A synchronous function runs in a daemon
    thread of its own, so one that hangs cannot hold the run up.
    """
    function: Any = spec if callable(spec) else _imported(spec)
    takes_timeout = "timeout" in inspect.signature(function).parameters

    async def call(url: str, prompt: str, idle: float) -> Outcome:
        kwargs = {"timeout": idle} if takes_timeout else {}
        started = time.monotonic()
        try:
            if inspect.iscoroutinefunction(function) or inspect.isasyncgenfunction(function):
                text = await _text_of(function(url, prompt, **kwargs))
            else:
                text = await _in_thread(lambda: _sync_text(function(url, prompt, **kwargs)))
        except Exception as exc:  # noqa: BLE001 - any exception is the client's failure
            return _failed(exc, started)
        return Outcome(text=text, seconds=time.monotonic() - started)

    return _Handed(call, takes_timeout)


class _Handed:
    """A client, and whether it is handed the scenario's idle timeout (a ``--python``
    function that takes no ``timeout`` keeps its own, and may be called hung for it)."""

    def __init__(self, call: Client, takes_timeout: bool) -> None:
        self.call = call
        self.takes_timeout = takes_timeout

    def __call__(self, url: str, prompt: str, idle: float) -> Awaitable[Outcome]:
        return self.call(url, prompt, idle)


def _imported(spec: str) -> Any:
    """``module:function``, or ``path/to/file.py:function`` (a file loaded as a module of
    its own, such as an adapter copied from ``examples/python/``)."""
    module_name, sep, attr = spec.rpartition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"--python expects module:function or file.py:function, got {spec!r}")
    function: Any = (
        _from_file(Path(module_name))
        if module_name.endswith(".py")
        else importlib.import_module(module_name)
    )
    for part in attr.split("."):
        function = getattr(function, part)
    if not callable(function):
        raise ValueError(f"{spec} is not callable")
    return function


def _from_file(path: Path) -> Any:
    if not path.is_file():
        raise ValueError(f"--python: no file {str(path)!r}")
    spec = importlib.util.spec_from_file_location(f"conformance_client_{path.stem}", path)
    if spec is None or spec.loader is None:  # pragma: no cover - a .py file always has one
        raise ValueError(f"--python: cannot load {str(path)!r}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def _text_of(result: Any) -> str:
    if inspect.isawaitable(result):
        result = await result
    if isinstance(result, str):
        return result
    if isinstance(result, AsyncIterator) or hasattr(result, "__aiter__"):
        return "".join([piece async for piece in result])
    return _sync_text(result)


def _sync_text(result: Any) -> str:
    if isinstance(result, str):
        return result
    if isinstance(result, Iterator) or hasattr(result, "__iter__"):
        return "".join(result)
    raise TypeError(f"the client returned {type(result).__name__}, not text")


async def _in_thread(work: Callable[[], str]) -> str:
    """``work()`` in a daemon thread: a client that never returns is left behind, not waited for."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[str] = loop.create_future()

    def run() -> None:
        try:
            value = work()
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting task
            loop.call_soon_threadsafe(_settle, future, None, exc)
        else:
            loop.call_soon_threadsafe(_settle, future, value, None)

    threading.Thread(target=run, name="conformance-client", daemon=True).start()
    return await future


def _settle(future: asyncio.Future[str], value: str | None, exc: BaseException | None) -> None:
    if future.done():
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(value or "")


def command_client(template: str) -> Client:
    """Any program: ``{url}``, ``{prompt}`` and ``{timeout}`` in ``template`` are filled in.

    The template is split like a shell line, but no shell runs: the prompt
    cannot inject anything. Stdout is the reply (one trailing newline
    dropped); a non-zero exit is a failure, its stderr the message.
    """
    words = shlex.split(template)
    if not words:
        raise ValueError("--cmd needs a command")

    async def call(url: str, prompt: str, idle: float) -> Outcome:
        values = {"url": url, "prompt": prompt, "timeout": f"{idle:g}"}
        argv = [w.format_map(values) for w in words]
        started = time.monotonic()
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as exc:
            return Outcome(crashed=f"cannot run {argv[0]!r}: {exc}")
        try:
            out, err = await proc.communicate()
        except asyncio.CancelledError:  # the deadline passed: the whole group goes
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
            raise
        seconds = time.monotonic() - started
        stderr = err.decode("utf-8", "replace")
        if proc.returncode != 0:
            message = stderr.strip() or f"exit status {proc.returncode}"
            return Outcome(failure=message, seconds=seconds, stderr=stderr)
        text = out.decode("utf-8", "replace")
        return Outcome(text=text.removesuffix("\n"), seconds=seconds, stderr=stderr)

    return call


async def fakegpt(url: str, prompt: str, timeout: float = 5.0) -> str:  # noqa: ASYNC109 - passed on
    """This project's client, as a conformance client (``--python emulator.conformance.clients:fakegpt``)."""
    from client import FakeGpt

    class Judged(FakeGpt):  # its own login cache, for this URL only
        pass

    Judged.url = url
    return await Judged.create_async(
        "text-davinci-002-render-sha", [{"role": "user", "content": prompt}], idle_timeout=timeout
    )
