"""The documentation site: every admin endpoint documented with a live example, the
reference pages made from the registries, and a strict build (CI builds it too)."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from emulator.http.admin import ADMIN_PREFIX_ROUTES, ADMIN_ROUTES

ROOT = Path(__file__).resolve().parent.parent
GEN = ROOT / "docs" / "gen_pages.py"


def _examples() -> list[tuple[str, str]]:
    """(method, path) of each example in docs/gen_pages.py, read without running it."""
    tree = ast.parse(GEN.read_text(encoding="utf-8"))
    node = next(
        n for n in tree.body
        if isinstance(n, ast.AnnAssign) and getattr(n.target, "id", "") == "ADMIN_EXAMPLES"
    )  # fmt: skip
    value = ast.literal_eval(node.value)  # type: ignore[arg-type]
    return [(method, path.split("?")[0]) for method, path, _, _ in value]


def test_every_admin_endpoint_has_an_example_in_the_docs() -> None:
    documented = set(_examples())
    routes = {(m, p) for p, methods in ADMIN_ROUTES.items() for m in methods}
    missing = sorted(r for r in routes if r not in documented)
    assert missing == []
    for prefix, methods in ADMIN_PREFIX_ROUTES.items():
        for method in methods:
            assert any(m == method and p.startswith(prefix) for m, p in documented), prefix


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_the_site_builds_strictly_with_the_generated_reference(tmp_path: Path) -> None:
    mkdocs = shutil.which("mkdocs", path=str(Path(sys.executable).parent))
    assert mkdocs is not None, "the docs extra (mkdocs) is part of the test extra"
    done = subprocess.run(
        [mkdocs, "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT, capture_output=True, text=True, timeout=170, check=False,
        # mkdocs and its theme print a notice about mkdocs 2 (pinned below 2 here).
        env={**os.environ, "DISABLE_MKDOCS_2_WARNING": "true", "NO_MKDOCS_2_WARNING": "1"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    site = tmp_path / "site"
    dialects = (site / "reference" / "dialects" / "index.html").read_text(encoding="utf-8")
    for name in ("fakegpt", "openai-chat", "anthropic", "openai-responses"):
        assert f"<code>{name}</code>" in dialects
    admin = (site / "reference" / "admin-api" / "index.html").read_text(encoding="utf-8")
    assert "HTTP 200" in admin and "/_emulator/journal/1/recording" in admin
    assert "HTTP 5" not in admin  # every documented request was answered without a 5xx
    cli = (site / "reference" / "cli" / "index.html").read_text(encoding="utf-8")
    assert all(f"<code>{c}</code>" in cli for c in ("serve", "list", "conform", "import"))
    # The home page is the site's own; the README is the guide, its repository links made
    # links to the site's pages (the scenario format, the benchmark results and its plot).
    home = (site / "index.html").read_text(encoding="utf-8")
    assert "Where to go next" in home and 'href="guide/"' in home
    guide = (site / "guide" / "index.html").read_text(encoding="utf-8")
    assert "Point your SDK at it, and break it" in guide
    assert 'href="../scenarios/"' in guide and 'href="../results/"' in guide
    results = (site / "results" / "index.html").read_text(encoding="utf-8")
    assert 'src="../paced_load.png"' in results and (site / "paced_load.png").exists()


def test_the_docs_home_gives_the_readme_s_two_commands() -> None:
    def commands(text: str) -> list[str]:
        part = text[text.index("## Two commands") :]
        return re.findall(r"```sh\n(.*?)```", part[: part.index("\n## ", 5)], re.S)

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    home = (ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    # The two commands, then the same in a container (what .ci/container builds and runs).
    assert commands(home) == commands(readme) and len(commands(readme)) == 3
    assert commands(readme)[2].startswith("docker build -t fakegpt-emulator . && docker run")
    assert "podman build" in (ROOT / ".ci" / "container").read_text(encoding="utf-8")
    # ... and the docs build line the README's install table gives.
    assert '`pip install ".[docs]"`' in readme and "mkdocs build --strict" in readme
    assert 'python -m pip install -e ".[docs]" && mkdocs build --strict' in home


def _cards(text: str) -> list[tuple[str, int, int, dict[str, str]]]:
    """Each report card in ``text``, in order: its marker, its pass and not-applicable
    counts, and the verdict of each scenario that did not pass."""
    found = []
    for m in re.finditer(r"<!-- ([a-zA-Z -]+ card):", text):
        body = text[m.end() : text.index(f"<!-- /{m.group(1)}", m.end())]
        counts = re.search(r"(\d+) pass, (\d+) not applicable", body)
        assert counts is not None, m.group(1)
        verdicts = dict(re.findall(r"^\| `(\w+)` \| ([a-z ]+) \|", body, re.M))
        found.append((m.group(1), int(counts[1]), int(counts[2]), verdicts))
    return found


def test_the_readme_s_clients_summary_follows_the_cards() -> None:
    # One row a card of docs/clients.md, in its order: the same counts, and its finding
    # names a scenario that card did not pass. A card that changes fails this until the
    # README follows.
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("<!-- clients summary") : readme.index("<!-- /clients summary")]
    rows = [r.split(" | ") for r in table.splitlines() if r.startswith("| ") and "---" not in r]
    rows = rows[1:]  # the header
    cards = _cards((ROOT / "docs" / "clients.md").read_text(encoding="utf-8"))
    assert len(rows) == len(cards)
    for row, (marker, passes, na, verdicts) in zip(rows, cards, strict=True):
        assert (int(row[1]), int(row[2])) == (passes, na), (marker, row)
        named = re.findall(r"`(\w+)`", row[3])
        if not verdicts:  # a card where everything passed says so
            assert row[3].startswith("none"), (marker, row[3])
            continue
        assert any(verdicts.get(n, "pass") != "pass" for n in named), (marker, row[3])


def _installed_major(name: str) -> int | None:
    """The major version of ``name`` as the tests install it: a Python distribution, or a
    package of examples/node's lock file (None: neither)."""
    import importlib.metadata
    import json

    try:
        return int(importlib.metadata.version(name).split(".")[0])
    except importlib.metadata.PackageNotFoundError:
        pass
    lock = json.loads((ROOT / "examples" / "node" / "package-lock.json").read_text())
    found = lock["packages"].get(f"node_modules/{name}")
    return int(found["version"].split(".")[0]) if found else None


def test_the_versions_the_docs_name_are_the_installed_majors() -> None:
    # A card is judged with what the test extra and examples/node's lock install: the docs
    # name each judge's major version (N.x), and it must be the one installed. A finer
    # version would go stale at the next release of any of them.
    named = 0
    for doc in (ROOT / "README.md", ROOT / "docs" / "clients.md"):
        text = doc.read_text(encoding="utf-8")
        for name, version in re.findall(r"`([@\w/.-]+)`(?: package)? \(?(\d+(?:\.[\dx]+)*)", text):
            major = _installed_major(name)
            if major is None:
                continue  # a package the tests do not install (one that was left out)
            assert re.fullmatch(r"\d+\.x", version), f"{doc.name}: `{name}` {version}: say N.x"
            assert int(version.split(".")[0]) == major, f"{doc.name}: `{name}` {version}"
            named += 1
    assert named >= 15


#: How each test finds the README's Python block it runs: a phrase only that block has,
#: and the test file that runs it.
README_BLOCKS_RUN = {
    "broken = client.with_options(": "test_openai_chat.py",  # the first screen's
    "asyncio.run(main())": "test_plugin.py",  # the first such block: the FakeGpt quickstart
    "emulator.session(": "test_sessions.py",
    "parse_chaos(": "test_sessions.py",
    "openai.AsyncOpenAI(": "test_openai_chat.py",
    "boto3.client(": "test_bedrock.py",
    "realtime.connect": "test_realtime.py",
    "live.connect": "test_gemini_live.py",
    "streamable_http_client": "test_mcp.py",
    "from emulator.conformance import": "test_plugin.py",
    'emulator_scenario("http_401_then_ok")': "test_plugin.py",
}


def test_every_python_block_of_the_readme_is_run_by_a_test() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    # Each test takes the first block with its phrase: every block must be one's first.
    run = {next(i for i, b in enumerate(blocks) if p in b) for p in README_BLOCKS_RUN}
    missed = [b[:200] for i, b in enumerate(blocks) if i not in run]
    assert missed == [], "README blocks no test runs"
    for phrase, test in README_BLOCKS_RUN.items():
        source = (ROOT / "tests" / test).read_text(encoding="utf-8")
        assert phrase in source or phrase.replace('"', '\\"') in source, (phrase, test)


def test_the_readme_s_curl_lines_reach_each_api() -> None:
    import shlex

    from emulator import EmulatorConfig, EmulatorServer

    curl = shutil.which("curl")
    if curl is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI must run the README's curl lines: install Debian's curl")
        pytest.skip("no curl on this machine (apt-get install curl)")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"```sh\n(.*?)```", readme, re.S) if "curl -sN" in b)
    lines = block.replace("\\\n", "").strip().splitlines()
    assert len(lines) == 10  # each API over HTTP: five, Azure, Ollama, Cohere, embeddings, MCP
    with EmulatorServer(EmulatorConfig(speed=0)) as server:
        for line in lines:
            args = shlex.split(line.replace("localhost:8080", server.url.removeprefix("http://")),
                               comments=True)  # fmt: skip
            done = subprocess.run([curl, *args[1:]], capture_output=True, timeout=30,
                                  check=False)  # fmt: skip
            assert done.returncode == 0, (line, done.stderr)
            out = done.stdout
            if "/mcp" in line:
                assert json.loads(out)["result"]["serverInfo"]["name"] == "fakegpt-emulator"
            elif "/embeddings" in line:
                assert len(json.loads(out)["data"][0]["embedding"]) == 4
            else:  # the default reply's first words, in each API's stream
                assert b'"Hello' in out or b'"text":"Hello"' in out, (line, out[:300])
        broken = lines[0].replace("curl -sN", "curl -sN -H 'X-Emulator-Scenario: drop_mid_stream'")
        args = shlex.split(broken.replace("localhost:8080", server.url.removeprefix("http://")))
        done = subprocess.run([curl, *args[1:]], capture_output=True, timeout=30, check=False)
        assert done.returncode == 18  # curl: transfer closed with data outstanding


def _shell_lines(text: str) -> list[str]:
    """Each command of the ``sh`` blocks of a Markdown text, continuation lines joined."""
    lines = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        lines += [line.strip() for line in block.replace("\\\n", " ").splitlines() if line.strip()]
    return lines


def test_every_command_the_docs_give_is_one_the_cli_takes() -> None:
    # The quick commands run in their own tests (the two commands in CI, the curl lines,
    # import, conform); the long ones (a server that runs until stopped, a benchmark) are
    # held here to what the code takes: every emulator command line parses with the real
    # parser, every other module named exists.
    import importlib.util
    import shlex

    from emulator.cli.main import COMMANDS, parser

    checked = 0
    pages = [ROOT / "README.md", *(ROOT / "docs").glob("*.md"), ROOT / "scenarios" / "README.md"]
    for page in pages:
        for line in _shell_lines(page.read_text(encoding="utf-8")):
            for command in line.split("&&"):
                words = shlex.split(command, comments=True)
                words = [w for w in words if "=" not in w or w.startswith("-")][:]
                if words[:2] != ["python", "-m"]:
                    continue
                module, args = words[2], words[3:]
                if module == "emulator":
                    if not args or args[0] not in COMMANDS:
                        args = ["serve", *args]
                    try:
                        parser().parse_args(args)
                    except SystemExit:
                        pytest.fail(f"{page.name}: {command.strip()!r} is not a command it takes")
                elif module != "pip":
                    assert importlib.util.find_spec(module) is not None, (page.name, module)
                checked += 1
    assert checked >= 20
