"""litellm, unchanged, streaming Chat Completions from the emulator as an OpenAI-compatible
server (``acompletion(stream=True)`` with ``api_base``):

    python -m emulator conform --dialect openai-chat --python examples/python/litellm_client.py:reply

(or as a command: ``--cmd 'python examples/python/litellm_client.py {url} {prompt} {timeout}'``,
whose imports then count against each scenario's idle timeout).

Prints the reply (its text, then each tool call's arguments); on any failure, the error's type
and message on stderr and exit status 1.
"""

from __future__ import annotations

import asyncio
import os
import sys


async def reply(url: str, prompt: str, timeout: float = 5.0) -> str:  # noqa: ASYNC109 - passed on
    # Its model cost map from the package, not fetched over the network at import.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.suppress_debug_info = True  # no "Give Feedback" banner on stdout, the reply's

    stream = await litellm.acompletion(
        model="openai/gpt-4o-mini",
        api_base=f"{url}/v1",
        api_key="sk-conformance",
        messages=[{"role": "user", "content": prompt}],
        stream=True,
        timeout=timeout,
        num_retries=0,
    )
    text, calls = "", dict[int, str]()  # each call's arguments by the index its pieces name
    async for chunk in stream:
        delta = chunk.choices[0].delta
        text += delta.content or ""
        for call in delta.tool_calls or []:
            calls[call.index] = calls.get(call.index, "") + (call.function.arguments or "")
    return text + "".join(calls[i] for i in sorted(calls))


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
