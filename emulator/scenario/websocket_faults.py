"""The fault table's rows that only a WebSocket has: a close code, a text message that is
not UTF-8, frames of the other kind, a message past a client's limit, a ping that must be
answered, pings unanswered, and the opening handshake's own faults. Pure.

:data:`emulator.scenario.faults.FAULTS` holds them with the rest; a dialect spoken over
HTTP refuses a scenario with one of them.
"""

from __future__ import annotations

from typing import Final

from .fault_spec import FaultSpec
from .writers import (
    awaited_ping,
    big_message,
    close,
    deaf,
    invalid_text,
    nothing,
    reframe,
)

__all__ = ["WEBSOCKET_FAULTS"]

WEBSOCKET_FAULTS: Final[tuple[FaultSpec, ...]] = (
    FaultSpec(
        "close_code",
        "the WebSocket is closed here with this close code and text as its reason (the "
        "close handshake), the answer unfinished",
        ("code", "text"),
        close,
        terminal=True,
        once=True,
        size=130,
        meets="fails: incomplete_stream, naming the code",
        websocket=True,
    ),
    FaultSpec(
        "invalid_utf8",
        "a text message whose bytes are not UTF-8 (raw_hex, or a default): the client "
        "must fail the connection (close code 1007), never read it",
        ("raw",),
        invalid_text,
        terminal=True,
        once=True,
        size=16,
        meets="fails: incomplete_stream (the client closes with 1007)",
        websocket=True,
    ),
    FaultSpec(
        "swapped_frames",
        "from here on, every message goes in the other kind of frame: binary where the "
        "API sends text (text where it sends binary), the same JSON in it",
        (),
        reframe,
        skippable=True,
        once=True,
        size=0,
        meets="reads each message whatever its frame, the text unchanged",
        websocket=True,
        reframes=True,
    ),
    FaultSpec(
        "big_message",
        "an event of a type no client has met, 2 MiB long: twice the 1 MiB message "
        "limit of Python's websockets library",
        ("count",),
        big_message,
        skippable=True,
        size=2 * 1024 * 1024,
        meets="reads past it, the text unchanged (a client whose message limit is smaller "
        "fails with close code 1009, never hangs)",
        websocket=True,
    ),
    FaultSpec(
        "server_ping",
        "a WebSocket ping, and nothing more until the client's pong comes; none within "
        "seconds (default 5) closes the socket with 1011, as a server's keepalive does",
        ("seconds", "count"),
        awaited_ping,
        skippable=True,
        size=16,
        meets="answers the ping with a pong, the text unchanged",
        websocket=True,
    ),
    FaultSpec(
        "unanswered_pings",
        "sending stops here and the client's pings go unanswered, the socket open and "
        "silent for seconds (default an hour): a dead peer behind a live socket",
        ("seconds",),
        deaf,
        terminal=True,
        once=True,
        size=0,
        meets="gives up within its idle timeout, or when its keepalive's ping goes "
        "unanswered (websockets: 1011)",
        cut="close",
        holds=True,
        websocket=True,
    ),
    FaultSpec(
        "bad_accept",
        "the WebSocket's upgrade is answered 101 with a Sec-WebSocket-Accept that does "
        "not match the client's key, and the connection closed: the client must refuse "
        "it (RFC 6455, 4.1), never read from it",
        (),
        nothing,
        terminal=True,
        once=True,
        size=0,
        meets="fails: connection (the handshake is refused)",
        cut="close",
        websocket=True,
        handshake=True,
    ),
    FaultSpec(
        "slow_handshake",
        "the WebSocket's upgrade is answered only after seconds (default an hour): a "
        "client's open timeout must fire",
        ("seconds",),
        nothing,
        once=True,
        size=0,
        meets="gives up within its idle timeout",
        waits=True,
        websocket=True,
        handshake=True,
    ),
)
