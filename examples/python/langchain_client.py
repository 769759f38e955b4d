"""langchain-openai, unchanged, streaming from the emulator's Chat Completions
(``ChatOpenAI(streaming=True, base_url=…)``, read with ``astream``):

    python -m emulator conform --dialect openai-chat --python examples/python/langchain_client.py:reply

(or as a command: ``--cmd 'python examples/python/langchain_client.py {url} {prompt} {timeout}'``,
whose imports then count against each scenario's idle timeout).

Prints the reply (its text, then each tool call's arguments); on any failure, the error's type
and message on stderr and exit status 1.
"""

from __future__ import annotations

import asyncio
import sys


async def reply(url: str, prompt: str, timeout: float = 5.0) -> str:  # noqa: ASYNC109 - passed on
    import httpx
    from langchain_openai import ChatOpenAI

    # Its own connections, closed at the end (by default it shares a cached client).
    async with httpx.AsyncClient(timeout=timeout) as http:
        model = ChatOpenAI(
            model="gpt-4o-mini",
            base_url=f"{url}/v1",
            api_key="sk-conformance",
            streaming=True,
            timeout=timeout,
            max_retries=0,
            http_async_client=http,
        )
        text, gathered = "", None  # chunks added up: tool call pieces merge by their index
        async for chunk in model.astream(prompt):
            text += chunk.content if isinstance(chunk.content, str) else ""
            gathered = chunk if gathered is None else gathered + chunk
        calls = gathered.tool_call_chunks if gathered is not None else []
        return text + "".join(call.get("args") or "" for call in calls)


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
