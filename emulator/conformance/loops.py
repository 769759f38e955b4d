"""Agent loops the conformance kit can judge with ``conform --loop``: the official SDKs
running a tool loop as agent code does. Each answers every tool call the model makes with
a result, sends the conversation back (the model's turn whole: its thinking, its calls)
and asks again until the model answers; the answer is its text, a refusal a failure.

(``--python emulator.conformance.loops:openai_chat_loop --dialect openai-chat --loop``;
``anthropic_loop`` on ``anthropic``, ``openai_responses_loop`` on ``openai-responses``.)
The keyword-only switches make the mistakes agent loops are known for, so the kit can
show it catches them: answering only the first of parallel calls, dropping the thinking
block or the reasoning item, reading only ``content`` and missing a refusal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from .sdks import Refused

if TYPE_CHECKING:
    import openai

__all__ = ["MAX_ROUNDS", "TOOLS", "anthropic_loop", "openai_chat_loop", "openai_responses_loop"]

#: At most this many requests in one loop: a loop that never ends is a failure, not a hang.
MAX_ROUNDS: Final = 8
#: The tools the loops offer the model (each takes any object): the shipped loops' tools.
TOOLS: Final = ("get_weather", "get_forecast", "get_time", "lookup_account", "search")
#: What every tool answers.
RESULT: Final = '{"ok": true}'


def _openai(url: str, timeout: float) -> openai.AsyncOpenAI:
    """The official ``openai`` package's client of the emulator at ``url``: no retries, the
    idle timeout as its read timeout."""
    import openai

    return openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="sk-conformance", max_retries=0,
                              timeout=openai.Timeout(60.0, read=timeout))  # fmt: skip


class EndlessLoop(RuntimeError):
    """The model kept calling tools past :data:`MAX_ROUNDS` requests."""


async def openai_chat_loop(
    url: str,
    prompt: str,
    timeout: float = 5.0,  # noqa: ASYNC109 - passed on
    *,
    answer_all: bool = True,
    see_refusals: bool = True,
) -> str:
    """The official ``openai`` package running a tool loop on Chat Completions (its stream
    helper gathers each call by index)."""

    tools: Any = [{"type": "function", "function": {"name": n, "parameters": {"type": "object"}}}
                  for n in TOOLS]  # fmt: skip
    messages: list[Any] = [{"role": "user", "content": prompt}]
    client = _openai(url, timeout)
    async with client:
        for _ in range(MAX_ROUNDS):
            async with client.chat.completions.stream(
                model="gpt-4o-mini", messages=messages, tools=tools
            ) as stream:
                message = (await stream.get_final_completion()).choices[0].message
            if see_refusals and message.refusal:
                raise Refused(message.refusal)
            calls = message.tool_calls or []
            if not calls:
                return message.content or ""
            messages.append(message.model_dump(exclude_none=True, exclude={"parsed"}))
            answered = calls if answer_all else calls[:1]
            messages += [{"role": "tool", "tool_call_id": c.id, "content": RESULT}
                         for c in answered]  # fmt: skip
    raise EndlessLoop(f"the model still called tools after {MAX_ROUNDS} requests")


async def anthropic_loop(
    url: str,
    prompt: str,
    timeout: float = 5.0,  # noqa: ASYNC109 - passed on
    *,
    keep_thinking: bool = True,
) -> str:
    """The official ``anthropic`` package running a tool loop on Messages with extended
    thinking on: the model's turn goes back whole, its thinking block first."""
    import anthropic

    tools: Any = [{"name": n, "input_schema": {"type": "object"}} for n in TOOLS]
    messages: list[Any] = [{"role": "user", "content": prompt}]
    client = anthropic.AsyncAnthropic(base_url=url, api_key="sk-ant-conformance", max_retries=0,
                                      timeout=anthropic.Timeout(60.0, read=timeout))  # fmt: skip
    async with client:
        for _ in range(MAX_ROUNDS):
            async with client.messages.stream(
                model="claude-sonnet-4-5", max_tokens=2048, messages=messages, tools=tools,
                thinking={"type": "enabled", "budget_tokens": 1024},
            ) as stream:  # fmt: skip
                final = await stream.get_final_message()
            uses = [b for b in final.content if b.type == "tool_use"]
            if not uses:
                return "".join(b.text for b in final.content if b.type == "text")
            kept = [b.model_dump() for b in final.content
                    if keep_thinking or b.type not in ("thinking", "redacted_thinking")]  # fmt: skip
            messages.append({"role": "assistant", "content": kept})
            messages.append({"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": u.id, "content": RESULT} for u in uses]})  # fmt: skip
    raise EndlessLoop(f"the model still called tools after {MAX_ROUNDS} requests")


async def openai_responses_loop(
    url: str,
    prompt: str,
    timeout: float = 5.0,  # noqa: ASYNC109 - passed on
    *,
    keep_reasoning: bool = True,
) -> str:
    """The official ``openai`` package running a tool loop on the Responses API, statelessly
    (``store`` false): each turn's items go back whole, its reasoning's encrypted_content
    with them."""

    tools: Any = [{"type": "function", "name": n, "parameters": {"type": "object"}}
                  for n in TOOLS]  # fmt: skip
    items: list[Any] = [{"role": "user", "content": prompt}]
    client = _openai(url, timeout)
    async with client:
        for _ in range(MAX_ROUNDS):
            async with client.responses.stream(
                model="o4-mini", input=items, tools=tools, store=False,
                include=["reasoning.encrypted_content"],
            ) as stream:  # fmt: skip
                response = await stream.get_final_response()
            refusals = [p.refusal for o in response.output if o.type == "message"
                        for p in o.content if p.type == "refusal"]  # fmt: skip
            if refusals:
                raise Refused("".join(refusals))
            calls = [o for o in response.output if o.type == "function_call"]
            if not calls:
                return response.output_text
            items += [o.model_dump(exclude_none=True) for o in response.output
                      if keep_reasoning or o.type != "reasoning"]  # fmt: skip
            items += [{"type": "function_call_output", "call_id": c.call_id, "output": RESULT}
                      for c in calls]  # fmt: skip
    raise EndlessLoop(f"the model still called tools after {MAX_ROUNDS} requests")
