"""``python -m client "prompt" [--url URL]``: stream one reply to the terminal."""

from __future__ import annotations

import argparse
import asyncio
import sys

from .errors import FakeGptError
from .provider import FakeGpt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m client", description="Stream one FakeGpt reply to the terminal."
    )
    parser.add_argument("prompt", help="what to ask")
    parser.add_argument("--url", default="http://localhost:8080", help="the upstream's base URL")
    parser.add_argument(
        "--timeout", type=float, default=60.0, help="connect and idle timeout, seconds (60)"
    )
    parser.add_argument(
        "--scenario",
        default=None,
        help="ask the emulator for this scenario (sends X-Emulator-Scenario: NAME)",
    )
    parser.add_argument("--proxy", default=None, help="an HTTP proxy URL")
    args = parser.parse_args(argv)
    FakeGpt.url = args.url.rstrip("/")
    try:
        headers = {"X-Emulator-Scenario": args.scenario} if args.scenario else {}
        asyncio.run(_stream(args.prompt, args.proxy, idle=args.timeout, headers=headers))
    except FakeGptError as exc:
        print(f"\nerror: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        print(f"\nerror: cannot reach {args.url}: {exc}", file=sys.stderr)
        return 1
    return 0


async def _stream(prompt: str, proxy: str | None, *, idle: float, headers: dict[str, str]) -> None:
    messages = [{"role": "user", "content": prompt}]
    async with FakeGpt.create_async_generator(
        "text-davinci-002-render-sha", messages, proxy=proxy, timeout=idle, headers=headers
    ) as stream:
        async for delta in stream:
            sys.stdout.write(delta)
            sys.stdout.flush()
    sys.stdout.write("\n")


if __name__ == "__main__":
    sys.exit(main())
