"""What a request asks, in the same terms on every dialect. Pure.

Each dialect's reader turns its API's request into one :class:`Asked`: the
conversation as :class:`Message` values (a tool call and its result in the
same shape whatever the API calls them), the model, the system prompt, the
tools offered and the JSON body. Matching (:mod:`.match`) reads it to choose a
scenario or a turn; the conversation rules (:func:`conversation_problems`)
find what every API refuses, each dialect wording it its own way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal

__all__ = [
    "Asked",
    "ConversationProblem",
    "Message",
    "ProblemKind",
    "Role",
    "ToolCall",
    "conversation_problems",
    "with_tool_names",
]

Role = Literal["system", "user", "assistant", "tool"]


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A call of a tool the model made (in an earlier answer the client sends back)."""

    id: str
    name: str
    arguments: str = "{}"


@dataclass(frozen=True, slots=True)
class Message:
    """One message of a conversation, as every API's request carries it.

    A tool result is a message of its own (role ``tool``), even where the API
    puts it in a user message (Anthropic's and Bedrock's blocks, Gemini's parts).
    """

    role: Role
    text: str = ""
    #: The tools an assistant message calls.
    calls: tuple[ToolCall, ...] = ()
    #: For a tool result: the id of the call it answers ("": the API gives none).
    call_id: str = ""
    #: For a tool result: the tool it answers (its call's name where the API gives the id).
    tool: str = ""
    #: Where it is in the request: its index in the API's list of messages ...
    at: int = 0
    #: ... and its block's index in that message's content (-1: the message itself).
    block: int = -1


@dataclass(frozen=True, slots=True)
class Asked:
    """A request's conversation and settings, whatever its API."""

    messages: tuple[Message, ...] = ()
    model: str = ""
    #: The system prompt (instructions), all of it, as one text.
    system: str = ""
    #: The names of the tools the request offers.
    tools: tuple[str, ...] = ()
    #: The request's JSON body (what a match's ``path`` looks into).
    body: Any = None

    @property
    def prompt(self) -> str:
        """The last user message's text, else the last message's ("" for none)."""
        for message in reversed(self.messages):
            if message.role == "user":
                return message.text
        return self.messages[-1].text if self.messages else ""

    @property
    def opening(self) -> str:
        """The first message's text: what a conversation is known by (a signature made in
        one conversation verifies in it alone)."""
        return self.messages[0].text if self.messages else ""

    @property
    def last_user(self) -> str | None:
        """The last user message's text (None: there is none)."""
        return next((m.text for m in reversed(self.messages) if m.role == "user"), None)

    @property
    def last(self) -> Message | None:
        return self.messages[-1] if self.messages else None

    @property
    def turn(self) -> int:
        """Which turn of its conversation this request asks for: 1 + the model's answers
        it carries (each run of assistant messages counts once)."""
        answers, before = 0, ""
        for message in self.messages:
            if message.role == "assistant" and before != "assistant":
                answers += 1
            before = message.role
        return answers + 1

    @property
    def tokens(self) -> int:
        """About how many tokens its messages take (words, and three a message)."""
        return sum(len(m.text.split()) for m in self.messages) + 3 * len(self.messages)


def with_tool_names(messages: list[Message]) -> tuple[Message, ...]:
    """``messages`` with each tool result that gives only a call id named after the
    tool of the call with that id (as Chat Completions' and Anthropic's results are)."""
    names: dict[str, str] = {}
    named: list[Message] = []
    for message in messages:
        for call in message.calls:
            names[call.id] = call.name
        if message.role == "tool" and not message.tool and message.call_id in names:
            message = Message(message.role, message.text, (), message.call_id,
                              names[message.call_id], message.at, message.block)  # fmt: skip
        named.append(message)
    return tuple(named)


ProblemKind = Literal["result_without_call", "unknown_call_id", "missing_results"]

#: Each kind of problem every API with tools refuses, in words (the dialects word it
#: their own way; the docs list both).
PROBLEM_KINDS: Final[dict[ProblemKind, str]] = {
    "result_without_call": "a tool result with no assistant message calling tools just before it",
    "unknown_call_id": "a tool result whose call id is none of the calls just before it",
    "missing_results": "an assistant message's tool calls not all answered by the results after it",
}


@dataclass(frozen=True, slots=True)
class ConversationProblem:
    """Something in a conversation every API with tools answers 400 to."""

    kind: ProblemKind
    #: The message it is about (for ``missing_results``: the assistant message's).
    message: Message
    #: The call ids concerned (the unknown one, or those left unanswered).
    ids: tuple[str, ...] = ()


def conversation_problems(asked: Asked, *, by_id: bool = True) -> list[ConversationProblem]:
    """What is wrong with ``asked``'s tool calls and results, first problem first.

    ``by_id``: results name their call by id (False: by the tool's name, as
    Gemini's do). An assistant message's calls must be answered, each once, by
    the tool results right after it (before the next assistant or user text).
    """
    problems: list[ConversationProblem] = []
    open_calls: dict[str, ToolCall] | None = None  # the calls the results may answer now
    caller: Message | None = None
    for message in asked.messages:
        if message.role == "tool":
            if open_calls is None:
                problems.append(ConversationProblem("result_without_call", message))
                continue
            key = message.call_id if by_id else message.tool
            if key not in open_calls:
                problems.append(ConversationProblem("unknown_call_id", message, (key,)))
                continue
            del open_calls[key]
            continue
        if message.role == "system":
            continue
        if open_calls and caller is not None and message.role in ("user", "assistant"):
            problems.append(ConversationProblem("missing_results", caller, tuple(open_calls)))
        open_calls, caller = None, None
        if message.role == "assistant" and message.calls:
            open_calls = {(c.id if by_id else c.name): c for c in message.calls}
            caller = message
    if open_calls and caller is not None:
        problems.append(ConversationProblem("missing_results", caller, tuple(open_calls)))
    return problems
