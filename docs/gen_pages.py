"""Pages of the documentation site made at build time (mkdocs-gen-files runs this).

- ``guide.md``, ``scenarios.md`` and ``results.md``: the README, ``scenarios/README.md``
  and ``benchmarks/RESULTS.md``, their links made to work on the site (a repository file
  that is one of these pages links to it). The home page, ``index.md``, is written for
  the site.
- ``reference/dialects.md`` and ``reference/faults.md``: from the dialect registry and
  the fault table, so they can never disagree with the code.
- ``reference/admin-api.md``: every admin endpoint with a request and the answer a
  live emulator gave it while the site was built (WireMock documents its own so).
- ``reference/cli.md``: every subcommand's ``--help``.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import mkdocs_gen_files

from emulator import EmulatorConfig, EmulatorServer, builtin_scenarios
from emulator.cli.main import COMMANDS, parser
from emulator.dialects.registry import DIALECTS
from emulator.scenario.faults import FAULTS, SHAPED_KINDS, reference

ROOT = Path(__file__).resolve().parent.parent

#: Every admin endpoint: (method, path, JSON body or None, what it does). A test checks
#: that each route the server has is here.
ADMIN_EXAMPLES: list[tuple[str, str, Any, str]] = [
    ("GET", "/_emulator", None, "What this session serves: the active scenario, the queue, "
     "the rules, the counters, the problems seen, the chaos."),
    ("GET", "/_emulator/scenarios", None, "Every scenario a request may name."),
    ("POST", "/_emulator/scenarios",
     {"name": "hello", "scenario": {"description": "a greeting", "reply": {"text": "Hello!"}}},
     "Register a scenario of your own (a table as in a scenario file); requests may then "
     "name it. Requests never name files."),
    ("GET", "/_emulator/scenario", None, "The active scenario."),
    ("PUT", "/_emulator/scenario", {"name": "hello"}, "Serve a scenario from now on."),
    ("POST", "/_emulator/scenario", {"name": "default"}, "The same as PUT."),
    ("POST", "/_emulator/queue", {"scenarios": ["stall_silent", "default"]},
     "Serve these to the next conversations, one each, in order."),
    ("GET", "/_emulator/queue", None, "The queue, next first."),
    ("POST", "/_emulator/rules", {"pattern": "weather", "scenario": "echo_prompt"},
     "Serve a scenario to every prompt the pattern matches (a time-limited regex)."),
    ("GET", "/_emulator/rules", None, "The rules, in order."),
    ("DELETE", "/_emulator/rules?pattern=weather", None, "Remove the rules with a pattern "
     "(no pattern: all of them)."),
    ("PUT", "/_emulator/chaos", {"rate": 0.5, "seed": 7, "kinds": ["drop", "http_429"]},
     "Seeded chaos for this session: each conversation, with probability rate, gets one "
     "fault drawn from the kinds."),
    ("GET", "/_emulator/chaos", None, "This session's chaos (null: none)."),
    ("DELETE", "/_emulator/chaos", None, "No more chaos."),
    ("GET", "/_emulator/journal?limit=1", None, "The exchanges, newest last (filters: path, "
     "method, scenario, status, session, rpc_session (an MCP session's id), since, limit)."),
    ("GET", "/_emulator/journal/1", None, "One exchange, with its transcript: every write "
     "with its offset, time, size, label and bytes, and how it ended."),
    ("GET", "/_emulator/journal/1/scenario", None, "The scenario that exchange was served "
     "(chaos included), as TOML."),
    ("GET", "/_emulator/journal/1/recording", None, "What it answered, as JSON lines of timed "
     "chunks (what `python -m emulator import` reads)."),
    ("GET", "/_emulator/journal/stream?since=0", None, "An event stream of exchanges as they "
     "are answered (`Last-Event-ID` resumes); here cut after its first event."),
    ("GET", "/_emulator/metrics", None, "Counters in the Prometheus text format."),
    ("GET", "/_emulator/sessions", None, "The open sessions."),
    ("DELETE", "/_emulator/sessions/s-doc", None, "Drop a session (its calls leave the "
     "journal)."),
    ("POST", "/_emulator/reset", None, "Back to the start: the default scenario, no queue, "
     "no rules, an empty journal."),
    ("GET", "/_emulator/ui", None, "The inspector page (HTML)."),
]  # fmt: skip


#: Repository files that are pages of the site, and their page.
SITE_PAGES = {
    "README.md": "guide.md",
    "scenarios/README.md": "scenarios.md",
    "benchmarks/RESULTS.md": "results.md",
}


def _site_links(markdown: str, here: str = "") -> str:
    """Links that work in the repository, made to work on the site: pages under docs/ and
    the files in :data:`SITE_PAGES` by their page's name, anything else outside the site
    as code; images a page's folder (``here``) names beside it keep their place under
    docs/."""

    def fix(match: re.Match[str]) -> str:
        text, target = match.group(1), match.group(2)
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            return match.group(0)
        path = (Path(here) / target).as_posix() if here else target
        path = re.sub(r"[^/]+/\.\./", "", path)
        if path in SITE_PAGES:
            return f"[{text}]({SITE_PAGES[path]})"
        if path.startswith("docs/"):
            return f"[{text}]({path.removeprefix('docs/')})"
        return f"`{target}`" if text.strip("`") == target else f"{text} (`{target}`)"

    linked = re.sub(r"(?<!!)\[([^\]]+)\]\(([^)\s]+)\)", fix, markdown)
    return linked.replace("](docs/", "](")


def _copy_pages() -> None:
    for source, page_name in SITE_PAGES.items():
        folder = (ROOT / source).parent
        text = (ROOT / source).read_text(encoding="utf-8")
        with mkdocs_gen_files.open(page_name, "w") as page:
            page.write(_site_links(text, str(Path(source).parent).replace(".", "")))
        # An image beside a page outside docs/ goes beside it on the site.
        for image in re.findall(r"!\[[^\]]*\]\(([^)/:]+\.png)\)", text):
            with mkdocs_gen_files.open(image, "wb") as copy:
                copy.write((folder / image).read_bytes())


def _dialects_page() -> None:
    scenarios = builtin_scenarios()
    out = ["# Dialects", "", "Generated from `emulator.dialects.registry.DIALECTS`: every API "
           "the emulator speaks, where it answers, which fault kinds it shows in its own "
           "look, and which shipped scenarios it does not serve, with why.", ""]  # fmt: skip
    out += ["| name | API | answers at | paths | scenarios served |", "|---|---|---|---|---|"]
    for d in DIALECTS.values():
        served = sum(d.not_applicable(s) is None for s in scenarios.values())
        paths = ", ".join(
            [f"`{m} {p}`" for p, ms in d.routes.items() for m in ms]
            + [f"`{m} {p}…`" for p, ms in d.prefixes.items() for m in ms]
        )
        out.append(f"| `{d.name}` | {d.title} | `{d.answered_at}` | {paths} | "
                   f"{served} of {len(scenarios)} |")  # fmt: skip
    for d in DIALECTS.values():
        out += ["", f"## {d.title} (`{d.name}`)", "", d.doc + ".", ""]
        out.append(
            "Faults in its own look: " + ", ".join(f"`{k}`" for k in sorted(d.shapes.kinds)) + "."
        )
        if d.shapes.missing:
            out += ["", "| fault kind it has not | why |", "|---|---|"]
            out += [f"| `{k}` | {why} |" for k, why in sorted(d.shapes.missing.items())]
        skipped = sorted((n, r) for n, s in scenarios.items() if (r := d.not_applicable(s)))
        if skipped:
            out += ["", "| scenario not served | why |", "|---|---|"]
            out += [f"| `{n}` | {r} |" for n, r in skipped]
    out += ["", "## Adding a dialect", "",
            "A folder under `emulator/dialects/` (`wire.py` its shapes, `read.py` its typed "
            "request, `plan.py` its stream, `shapes.py` its look of the faults, `capture.py` "
            "what a client makes of a captured body, `api.py` its `Speaker` and `Dialect` "
            "value) and one line in `registry.py`; or, from a test or a tool, "
            "`registry.register(dialect)` before a server is built. The request lifecycle "
            "(reading, choosing the scenario and the turn, errors in the API's shape, playing "
            "the answer, the journal) is the server's, written once: a dialect supplies pure "
            "parts. An API spoken over a WebSocket is a `Session` route whose `Talker` reads "
            "each client message (a state machine with no I/O) and answers each ask with a "
            "plan of its own. `tests/test_dialects.py` registers a toy HTTP dialect and "
            "`tests/toy_websocket.py` a toy WebSocket one; each is served, judged and "
            "journaled.", ""]  # fmt: skip
    with mkdocs_gen_files.open("reference/dialects.md", "w") as page:
        page.write("\n".join(out))


def _faults_page() -> None:
    out = ["# Fault kinds", "", "Generated from the fault table (`emulator/scenario/faults.py`). "
           "A fault says what happens; each dialect says how it looks on its wire.", "",
           reference(), "", "## Which dialect shows which", "",
           "`own`: in the dialect's own look; `-`: the dialect has no such thing (a scenario "
           "with it is not served there); `same`: the same on every wire.", ""]  # fmt: skip
    names = list(DIALECTS)
    out += ["| kind | " + " | ".join(f"`{n}`" for n in names) + " |",
            "|---|" + "---|" * len(names)]  # fmt: skip
    for kind in FAULTS:
        cells = ["same" if kind not in SHAPED_KINDS else "own" if kind in d.shapes.kinds
                 else "-" for d in DIALECTS.values()]  # fmt: skip
        out.append(f"| `{kind}` | " + " | ".join(cells) + " |")
    with mkdocs_gen_files.open("reference/faults.md", "w") as page:
        page.write("\n".join(out) + "\n")


def _ask(url: str, method: str, path: str, body: Any) -> tuple[int, str, str]:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"} if data is not None else {}
    request = urllib.request.Request(url + path, data=data, method=method, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as r:  # noqa: S310 - loopback
            kind = r.headers.get("Content-Type", "")
            raw = r.read() if "event-stream" not in kind else r.readline() + r.readline()
            return r.status, kind, raw.decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type", ""), exc.read().decode()


def _shown(kind: str, text: str) -> tuple[str, str]:
    if "json" in kind and "\n{" not in text.strip():  # one JSON value (not JSON lines)
        shown = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
        lines = shown.splitlines()
        return "json", "\n".join(lines[:40] + (["…"] if len(lines) > 40 else []))
    if "html" in kind:
        return "html", text.splitlines()[0] + "\n…"
    lines = text.splitlines()
    return "text", "\n".join(lines[:16] + (["…"] if len(lines) > 16 else []))


def _admin_page() -> None:
    out = ["# Admin API", "", "Every endpoint under `/_emulator` (on loopback; with "
           "`--admin-token`, send `X-Emulator-Admin-Token`). In a session (the "
           "`X-Emulator-Session` header, or `/_session/ID/` before the path) each acts on "
           "that session only. Each answer below is what a fresh emulator answered while "
           "this page was built.", ""]  # fmt: skip
    with EmulatorServer(EmulatorConfig(speed=0)) as server:
        url = server.url
        _ask(url, "POST", "/_session/s-doc/_emulator/queue", {"scenarios": ["default"]})
        # One exchange in the journal, for the journal's examples.
        _ask(url, "GET", "/api/loads?t=1", None)
        for method, path, body, what in ADMIN_EXAMPLES:
            status, kind, text = _ask(url, method, path, body)
            lang, shown = _shown(kind, text)
            out += [f"## `{method} {path}`", "", what, "", "```http", f"{method} {path} HTTP/1.1"]
            if body is not None:
                out += ["Content-Type: application/json", "", json.dumps(body)]
            out += ["```", "", f"HTTP {status}", "", f"```{lang}", shown, "```", ""]
    with mkdocs_gen_files.open("reference/admin-api.md", "w") as page:
        page.write("\n".join(out))


def _cli_page() -> None:
    top = parser()
    out = ["# Command line", "", "Generated from the parser.", "", "```text",
           top.format_help().rstrip(), "```"]  # fmt: skip
    commands = next(a for a in top._actions if a.dest == "command")
    for name in COMMANDS:
        sub = commands.choices[name]  # type: ignore[index]
        out += ["", f"## `{name}`", "", "```text", sub.format_help().rstrip(), "```"]
    with mkdocs_gen_files.open("reference/cli.md", "w") as page:
        page.write("\n".join(out) + "\n")


def _rules_page() -> None:
    out = ["# Request rules", "", "Generated from each dialect's `strict_rules` "
           "(`emulator/dialects/*/read.py`): what a real API answers 400 to, answered the "
           "same way here, in its error shape and wording. `switchable` rules are the "
           "conversation rules a client may knowingly break: `serve --lenient` turns them "
           "off for a server, the header `X-Emulator-Strict: off` for one request. The "
           "source is the provider's documentation and, for the wording, a public report "
           "quoting the API's answer.", ""]  # fmt: skip
    for d in DIALECTS.values():
        if not d.strict_rules:
            continue
        out += [f"## {d.title} (`{d.name}`)", "",
                "| rule | refuses | the API's message | switchable | source |",
                "|---|---|---|---|---|"]  # fmt: skip
        for r in d.strict_rules:
            message = r.message.replace("|", "\\|")
            out.append(f"| `{r.name}` | {r.refuses} | {message} | "
                       f"{'yes' if r.switchable else 'no'} | {r.source} |")  # fmt: skip
        out.append("")
    missing = [d.title for d in DIALECTS.values() if not d.strict_rules]
    out += ["## Not applicable", "",
            f"{', '.join(missing)}: its conversation carries no tool calls or results (the "
            "upstream keeps the conversation itself), so there is nothing of this kind to "
            "refuse.", "",
            "Anthropic's Messages API combines consecutive messages of one role into one "
            "turn, so alternating roles is not a rule there; Bedrock's Converse API refuses "
            "it, and so does the emulator.", ""]  # fmt: skip
    with mkdocs_gen_files.open("reference/rules.md", "w") as page:
        page.write("\n".join(out))


_copy_pages()
_rules_page()
_dialects_page()
_faults_page()
_admin_page()
_cli_page()
