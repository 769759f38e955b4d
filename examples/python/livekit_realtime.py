"""LiveKit Agents' OpenAI Realtime plugin, unchanged, talking to the emulator's Realtime API
(``RealtimeModel`` and its ``RealtimeSession``, text only, with no LiveKit room or audio
device: the model a voice agent's ``AgentSession`` drives):

    python -m emulator conform --dialect openai-realtime --python examples/python/livekit_realtime.py:reply

(or as a command: ``--cmd 'python examples/python/livekit_realtime.py {url} {prompt} {timeout}'``,
whose 2 s of imports then count against each scenario's idle timeout).

One user message, ``generate_reply()``, the reply's text (then each call's arguments, in
output order). Success is the server's ``response.done`` with status ``completed`` for that
response: the plugin ends its text stream the same way for a completed response, a dropped
socket and a closed session, so the stream's end alone is never taken as success. Its
reconnects are off (``max_retry=0``): a reconnect would end the pending reply as if it had
succeeded. Two private attributes of the plugin are touched, only to keep asyncio from
logging futures it leaves unretrieved. Prints the reply; on any failure, the error's type
and message on stderr and exit status 1.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from typing import Any

import aiohttp
from livekit.agents import APIConnectOptions, llm
from livekit.plugins.openai.realtime import RealtimeModel

__all__ = ["RealtimeReplyError", "reply"]

_MODEL = "gpt-realtime"


class RealtimeReplyError(RuntimeError):
    """The response failed, errored, or the connection ended before it completed."""


async def reply(url: str, prompt: str, timeout: float = 5.0) -> str:  # noqa: ASYNC109 - an idle timeout
    """Send ``prompt`` as one user message, generate one reply, return its whole text.

    Raises RealtimeReplyError (or the plugin's llm.RealtimeError) on an error event, a
    response that ends other than ``completed``, or a connection that fails or closes
    first; TimeoutError after ``timeout`` seconds with no server event or ping.
    """
    # full path: the plugin appends /realtime only to "", /v1, /openai(/v1); any other
    # path (e.g. a /_session/ID prefix) it keeps verbatim. It turns http->ws, adds ?model=
    base_url = url.rstrip("/") + "/v1/realtime"
    outcome: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    last_activity = time.monotonic()
    response_id: list[str] = []  # the id of generate_reply()'s response, once created
    output_index: dict[str, int] = {}  # output item id -> its output_index

    def touch() -> None:
        nonlocal last_activity
        last_activity = time.monotonic()

    def fail(exc: BaseException, cause: BaseException | None = None) -> None:
        if not outcome.done():
            exc.__cause__ = cause
            outcome.set_exception(exc)

    def on_server_event(ev: dict[str, Any]) -> None:
        # raw JSON of every server event, emitted before the plugin handles it
        touch()
        etype = ev.get("type")
        if etype == "response.output_item.added":
            item = ev.get("item") or {}
            if isinstance(item.get("id"), str) and isinstance(ev.get("output_index"), int):
                output_index[item["id"]] = ev["output_index"]
        elif etype == "error":
            err = ev.get("error")
            msg = err.get("message") if isinstance(err, dict) else err
            fail(RealtimeReplyError(f"server error event: {msg!r}"))
        elif etype == "response.done":
            resp = ev.get("response") or {}
            if response_id and resp.get("id") not in (None, response_id[0]):
                return  # not our response
            status = resp.get("status")
            if status == "completed":
                if not outcome.done():
                    outcome.set_result(None)
            else:
                details = resp.get("status_details")
                fail(RealtimeReplyError(f"response ended {status!r}: {details!r}"))

    def on_error(ev: llm.RealtimeModelError) -> None:
        # plugin-level errors: error events, failed responses, socket closed or refused
        fail(RealtimeReplyError(f"realtime session error: {ev.error!r}"), ev.error)

    class _WSResponse(aiohttp.ClientWebSocketResponse):
        async def pong(self, message: bytes = b"") -> None:
            touch()  # aiohttp answers a server ping here: a ping is not silence
            await super().pong(message)

    async with aiohttp.ClientSession(ws_response_class=_WSResponse) as http:
        model = RealtimeModel(
            model=_MODEL,
            modalities=["text"],
            api_key="sk-test",
            base_url=base_url,
            http_session=http,  # ours, so no livekit http_context is needed
            turn_detection=None,  # no server VAD: no audio in
            input_audio_transcription=None,
            max_session_duration=None,  # no timed reconnect
            # max_retry=0: a dropped socket fails the reply instead of silently
            # reconnecting (a reconnect ends the pending generation as if it succeeded)
            conn_options=APIConnectOptions(max_retry=0, timeout=timeout),
        )
        session = model.session()  # starts connecting, queues session.update

        def on_main_done(t: asyncio.Task[None]) -> None:
            exc = None if t.cancelled() else t.exception()
            fail(RealtimeReplyError("realtime session ended before the response completed"), exc)

        def on_generation_created(_ev: llm.GenerationCreatedEvent) -> None:
            # a failed response sets an exception on the plugin's private _done_fut, which
            # nothing awaits: asyncio then logs "Future exception was never retrieved"
            done_fut = getattr(getattr(session, "_current_generation", None), "_done_fut", None)
            if isinstance(done_fut, asyncio.Future):
                done_fut.add_done_callback(lambda f: f.cancelled() or f.exception())

        session.on("openai_server_event_received", on_server_event)
        session.on("error", on_error)
        session.on("generation_created", on_generation_created)
        session._main_atask.add_done_callback(on_main_done)

        async def drive() -> str:
            chat_ctx = llm.ChatContext.empty()
            chat_ctx.add_message(role="user", content=prompt)
            await session.update_chat_ctx(chat_ctx)  # waits for conversation.item.added
            if outcome.done():
                return ""  # failed meanwhile (see _release_update_chat_ctx)
            gen_fut = session.generate_reply()  # resolves on response.created
            try:
                gen = await gen_fut
            finally:
                if not gen_fut.done():
                    gen_fut.cancel()
            if gen.response_id:
                response_id.append(gen.response_id)
            # by output item, in output order: each message's text, each call's arguments
            # (the conformance clients' convention: the reply's text, then its calls)
            items: dict[str, str] = {}
            async for msg in gen.message_stream:
                chunks = [chunk async for chunk in msg.text_stream]
                items[msg.message_id] = "".join(chunks)
            async for call in gen.function_stream:  # arrive at response.output_item.done
                items[call.id] = call.arguments
            order = sorted(items, key=lambda i: output_index.get(i, len(output_index)))
            return "".join(items[i] for i in order)

        async def watchdog() -> None:
            while True:
                while (idle := time.monotonic() - last_activity) < timeout:  # noqa: ASYNC110 - a deadline that moves
                    await asyncio.sleep(timeout - idle)
                # A second look: frames a starved loop has not read yet are not silence.
                await asyncio.sleep(0.05)
                if time.monotonic() - last_activity >= timeout:
                    raise TimeoutError(f"no server event for {timeout}s")

        drive_task = asyncio.ensure_future(drive())
        dog_task = asyncio.ensure_future(watchdog())
        try:
            pending: set[asyncio.Future[Any]] = {drive_task, outcome, dog_task}
            while not (drive_task.done() and outcome.done()):
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                if outcome in done and outcome.exception() is not None:
                    outcome.result()  # the server's / session's verdict explains best
                for f in done:
                    f.result()  # raises the first failure
            return drive_task.result()
        finally:
            if not drive_task.done():
                _release_update_chat_ctx(session)
            running = [t for t in (drive_task, dog_task) if not t.done()]
            for t in running:
                t.cancel()
            for t in running:
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await t
            outcome.cancel()  # no-op if done
            for f in (drive_task, dog_task, outcome):
                if not f.cancelled():
                    f.exception()  # mark retrieved (not re-raised: keeps tracebacks clean)
            session.off("openai_server_event_received", on_server_event)
            session.off("error", on_error)
            session.off("generation_created", on_generation_created)
            # aclose awaits the plugin's main task, which re-raises what ended it
            with contextlib.suppress(Exception):  # incl. TimeoutError: a stuck connect
                await asyncio.wait_for(session.aclose(), timeout)
            await model.aclose()  # closes nothing here (http_session is ours)


def _release_update_chat_ctx(session: Any) -> None:
    """Settle the futures a pending update_chat_ctx() waits on, so it returns instead of
    being cancelled: cancelling it mid-wait leaves the plugin's inner asyncio.gather
    with an unretrieved CancelledError ("_GatheringFuture exception was never
    retrieved" on Python 3.11)."""
    for name in ("_item_create_future", "_item_delete_future"):
        for fut in list(getattr(session, name, {}).values()):
            if isinstance(fut, asyncio.Future) and not fut.done():
                fut.set_result(None)


def main() -> int:
    url, prompt, timeout = (
        sys.argv[1],
        sys.argv[2],
        float(sys.argv[3] if len(sys.argv) > 3 else 60),
    )
    try:
        text = asyncio.run(reply(url, prompt, timeout))
    except Exception as exc:  # noqa: BLE001 - any failure is the client's answer
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
