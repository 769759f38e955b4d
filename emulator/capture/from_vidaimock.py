"""VidaiMock's provider YAML (``name`` and ``matcher``, with its template) or a
``*.json.j2`` template alone, read into one catch-all :class:`~.fixtures.Fixture`. Pure.

A template is code (Tera): its first ``{% if %}`` branch is served, its values as 0.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Final

from .fixtures import ANYTHING, CHAT_PATH, Fixture, chat_answer

_COMMENT: Final = re.compile(r"\{#.*?#\}", re.S)
#: A condition not run: each ``{% if %}`` is false, so its ``{% else %}`` branch (or
#: nothing) is what is written.
_BRANCH: Final = re.compile(
    r"\{%-?\s*if\b.*?%\}.*?(?:\{%-?\s*else\s*-?%\}(.*?))?\{%-?\s*endif\s*-?%\}", re.S
)
_TAG: Final = re.compile(r"\{%.*?%\}", re.S)
_VALUE: Final = re.compile(r"\{\{.*?\}\}", re.S)


def from_vidaimock(data: Any, source: Path) -> list[Fixture]:
    """A provider (its ``matcher`` must serve Chat Completions' path) and its template,
    or a template alone, as one catch-all fixture."""
    fixture = Fixture(source.name, dict(ANYTHING), {})
    if isinstance(data, dict):
        matcher = data.get("matcher", "")
        if not re.search(str(matcher), CHAT_PATH):
            fixture.drop("matcher", f"{matcher!r} is not Chat Completions' path: left out")
            return [fixture]
        template = data.get("response_body")
        if not isinstance(template, str):
            name = data.get("response_template")
            found = _template_file(source, str(name)) if isinstance(name, str) else None
            if found is None:
                fixture.drop("response_template", f"{name!r} was not found beside the file")
                return [fixture]
            template = found.read_text(encoding="utf-8")
        for key in ("request_mapping", "status_code", "stream", "error_template"):
            if key in data:
                fixture.drop(key, "template logic: not run")
    else:
        template = str(data)
    _vidaimock_answer(template, fixture)
    return [fixture]


def _template_file(source: Path, name: str) -> Path | None:
    for folder in (source.parent, *source.parents):
        for candidate in (folder / name, folder / "templates" / name):
            if candidate.is_file():
                return candidate
    return None


def _vidaimock_answer(template: str, fixture: Fixture) -> None:
    text = _COMMENT.sub("", template)
    if _BRANCH.search(text):
        fixture.drop("template", "its {% if %} conditions are not run: each is taken as "
                     "false (its {% else %} branch is served)")  # fmt: skip
        text = _BRANCH.sub(lambda m: m.group(1) or "", text)
    if _VALUE.search(text) or _TAG.search(text):
        fixture.drop("template", "its {{ … }} values are served as 0")
    text = _VALUE.sub("0", _TAG.sub("", text))
    try:
        body = json.loads(text)
    except ValueError:
        fixture.drop("template", "is not a JSON body once its tags are taken out")
        return
    chat_answer(body, fixture, "template")
