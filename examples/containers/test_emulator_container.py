"""A test of one's own against the emulator in a container, started by testcontainers:
what a suite in any language does with the image (here Python's).

    docker build -t fakegpt-emulator .     (or podman build, from the clone)
    pip install testcontainers openai pytest
    pytest examples/containers/test_emulator_container.py

With Podman, point testcontainers at its Docker-compatible socket
(``podman system service``; ``DOCKER_HOST=unix:///run/podman/podman.sock``) and set
``TESTCONTAINERS_RYUK_DISABLED=true`` (its reaper is a Docker Hub image of its own).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import openai
import pytest
from testcontainers.core.container import DockerContainer
from testcontainers.core.wait_strategies import LogMessageWaitStrategy

IMAGE = "localhost/fakegpt-emulator"


@pytest.fixture(scope="module")
def emulator_url() -> Iterator[str]:
    container = DockerContainer(IMAGE).with_exposed_ports(8080)
    container.waiting_for(LogMessageWaitStrategy(re.compile("listening on")))
    with container:
        host, port = container.get_container_host_ip(), container.get_exposed_port(8080)
        yield f"http://{host}:{port}"


def _streamed(url: str, **headers: str) -> str:
    client = openai.OpenAI(base_url=f"{url}/v1", api_key="sk-test", max_retries=0)
    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        extra_headers=headers,
    )
    return "".join(c.choices[0].delta.content or "" for c in stream if c.choices)


def test_the_sdk_gets_the_reply(emulator_url: str) -> None:
    assert _streamed(emulator_url) == "Hello! How can I help you today?"


def test_a_header_breaks_the_stream(emulator_url: str) -> None:
    with pytest.raises(openai.APIConnectionError):
        _streamed(emulator_url, **{"X-Emulator-Scenario": "drop_mid_stream"})
