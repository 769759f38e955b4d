"""``python -m benchmarks.unpaced``: the server's own cost of a reply at ``--speed 0``,
measured from outside.

For replies of 250, 1,000 and 4,000 tokens (cumulative snapshots, as the emulator sends
them), the same bytes come from a bare aiohttp handler (pre-encoded, written in 256 KiB
slices of one view: no copy, no allocation) and from ``python -m emulator --speed 0``,
each in a process of its own. Requests go one at a time (a raw socket reads each body to
its end); per request, the server's CPU time and its minor page faults (fresh pages
touched) are read from ``/proc``. Rounds alternate between the servers.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Final

from .outside import Server, access_token, request_bytes, serve_app, start, write_section

HERE = Path(__file__).resolve().parent
SIZES: Final = (250, 1000, 4000)


#: Requests per round for a reply of N tokens: enough CPU time per round that the noise of
#: one request stays small (100 at 250 tokens, 25 at 1,000, 12 at 4,000 and above).
def requests_for(tokens: int) -> int:
    return max(12, 25_000 // max(tokens, 1))


ROUNDS: Final = 5


def bare_server(tokens: int) -> None:
    """The bare handler: the reply pre-encoded, written in 256 KiB slices of one view."""
    from .cases import bare_app, encoded, scenario_of

    serve_app(bare_app(encoded(scenario_of(tokens))))


async def per_request(server: Server, requests: int) -> tuple[float, float, int]:
    """CPU ms and page faults per request over ``requests`` one at a time; bytes each."""
    host, port = server.url.removeprefix("http://").split(":")
    token = await access_token(server.url)
    raw = request_bytes(f"{host}:{port}", token)

    async def one() -> int:
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(raw)
        size = 0
        while chunk := await reader.read(1 << 20):
            size += len(chunk)
        writer.close()
        await writer.wait_closed()
        return size

    size = await one()
    cpu, faults = server.cpu_seconds(), server.page_faults()
    for _ in range(requests):
        await one()
    return (
        (server.cpu_seconds() - cpu) / requests * 1000,
        (server.page_faults() - faults) / requests,
        size,
    )


def scenario_files(sizes: tuple[int, ...], folder: str) -> dict[int, str]:
    """A scenario file per reply length in ``folder``, by name."""
    from emulator.scenario.dump import scenario_to_toml

    from .cases import scenario_of

    names = {}
    for tokens in sizes:
        scenario = scenario_of(tokens)
        Path(folder, f"{scenario.name}.toml").write_text(scenario_to_toml(scenario))
        names[tokens] = scenario.name
    return names


async def run(sizes: tuple[int, ...], folder: str, out: Path) -> str:
    rows = []
    for tokens, scenario in scenario_files(sizes, folder).items():
        emulator = ["-m", "emulator", "--port", "0", "--speed", "0", "--scenarios-dir",
                    folder, "--scenario", scenario, "--log-level", "WARNING"]  # fmt: skip
        running = {
            "bare": start("bare", ["-m", "benchmarks.unpaced", "--bare-server", str(tokens)]),
            "emulator": start("emulator", emulator),
            "emulator --no-capture": start("quiet", [*emulator, "--no-capture"]),
        }
        try:
            seen: dict[str, list[tuple[float, float, int]]] = {k: [] for k in running}
            for _ in range(ROUNDS):  # interleaved: bare, emulator, quiet, bare, …
                for name, server in running.items():
                    seen[name].append(await per_request(server, requests_for(tokens)))
        finally:
            for server in running.values():
                server.stop()
        bare_cpu = statistics.median(c for c, _, _ in seen["bare"])
        for name, found in seen.items():
            cpu = statistics.median(c for c, _, _ in found)
            faults = statistics.median(f for _, f, _ in found)
            ratio = cpu / bare_cpu if bare_cpu > 0 else float("nan")  # under one tick
            rows.append((tokens, name, found[0][2], cpu, ratio, faults))
            print(f"{tokens:>5} {name:<22} {cpu:.2f} ms {ratio:.2f}x "
                  f"{faults:.0f} faults", flush=True)  # fmt: skip
    lines = [
        "## Server cost at speed 0, from outside (`python -m benchmarks.unpaced`)",
        "",
        "Goal: the emulator's CPU per reply <= 1.25x the bare handler's; < 50 page faults "
        "per request.",
        "",
        f"- run at {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; medians of "
        f"{ROUNDS} interleaved rounds of 100 (250 tokens), 25 (1,000) or 12 (4,000) "
        "requests, one at a time",
        "",
        "| tokens | server | bytes | CPU per request | vs bare | page faults per request |",
        "|---|---|---|---|---|---|",
        *(
            f"| {t:,} | {name} | {size:,} | {cpu:.2f} ms | {ratio:.2f}x | {faults:.0f} |"
            for t, name, size, cpu, ratio, faults in rows
        ),
    ]
    section = "\n".join(lines)
    write_section("unpaced", section, out / "RESULTS.md")
    return section


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.unpaced", description=__doc__)
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)),
                        help="reply lengths in tokens (comma-separated)")  # fmt: skip
    parser.add_argument("--out", type=Path, default=HERE, help="where RESULTS.md goes")
    parser.add_argument("--bare-server", type=int, metavar="TOKENS", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.bare_server:
        bare_server(args.bare_server)
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    sizes = tuple(int(s) for s in args.sizes.split(","))
    with tempfile.TemporaryDirectory() as folder:
        print(asyncio.run(run(sizes, folder, args.out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
