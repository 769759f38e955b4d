"""``--tls``: HTTPS and WSS on the emulator's port from the plain install, with a local CA
made once and kept, so that ``SSL_CERT_FILE`` is the only change a client needs. Real
processes, real sockets on loopback; the official SDK as the client."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import urllib.request
from pathlib import Path

import aiohttp
import pytest

from emulator import EmulatorConfig, serve
from emulator.http.tls import local_tls
from tests.helpers import serving

#: What a client does with nothing but SSL_CERT_FILE changed: Chat Completions over HTTPS,
#: then the Realtime API over WSS.
CLIENT = """
import sys
import openai
client = openai.OpenAI(base_url=sys.argv[1] + "/v1", api_key="sk-test", max_retries=0)
said = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
print(said.choices[0].message.content)
# A loaded machine (the whole suite at once) can take long over a TLS handshake.
options = {"open_timeout": 60}
with client.realtime.connect(model="gpt-realtime", websocket_connection_options=options) as connection:
    print(connection.recv().type)
"""


def test_serve_tls_takes_a_client_that_trusts_the_printed_ca(tmp_path: Path) -> None:
    folder = tmp_path / "tls"
    with serving("--speed", "0", "--tls", "--tls-dir", str(folder), log=False) as (proc, url):
        assert url.startswith("https://")
        ca = folder / "ca.pem"
        env = {**os.environ, "SSL_CERT_FILE": str(ca)}
        done = subprocess.run([sys.executable, "-c", CLIENT, url], env=env, capture_output=True,
                              text=True, timeout=60, check=False)  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines() == ["Hello! How can I help you today?", "session.created"]
        # Without the CA, a client refuses the certificate.
        env.pop("SSL_CERT_FILE")
        refused = subprocess.run([sys.executable, "-c", CLIENT, url], env=env,
                                 capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
        assert refused.returncode != 0 and "CERTIFICATE_VERIFY_FAILED" in refused.stderr
        proc.terminate()
        assert proc.stdout is not None
        banner = proc.stdout.read()
    assert f"TLS: clients trust {ca} (SSL_CERT_FILE={ca})" in banner
    first = ca.read_bytes()
    with serving("--speed", "0", "--tls", "--tls-dir", str(folder), log=False):
        assert ca.read_bytes() == first  # the CA is kept: a client trusts it once


async def test_serve_in_code_speaks_https(tmp_path: Path) -> None:
    tls = local_tls(tmp_path)
    trusted = ssl.create_default_context(cafile=tls.ca)
    async with serve(EmulatorConfig(speed=0, tls=tls)) as emulator:
        assert emulator.url.startswith("https://")
        async with aiohttp.ClientSession() as http:
            async with http.get(emulator.url + "/api/loads", ssl=trusted) as r:
                assert r.status == 200 and (await r.json())["loads"]
            with pytest.raises(aiohttp.ClientConnectorCertificateError):
                await http.get(emulator.url + "/api/loads")  # the system's CAs: not ours


def test_tls_cert_needs_its_key() -> None:
    done = subprocess.run([sys.executable, "-m", "emulator", "--tls-cert", "x.pem"],
                          capture_output=True, text=True, timeout=30, check=False)  # fmt: skip
    assert done.returncode == 2 and "--tls-cert and --tls-key: give both" in done.stderr


@pytest.mark.xdist_group("load")
def test_workers_serve_tls_and_say_so(tmp_path: Path) -> None:
    folder = tmp_path / "tls"
    with serving("--speed", "0", "--tls", "--tls-dir", str(folder), "--workers", "2",
                 log=False) as (proc, url):  # fmt: skip
        assert url.startswith("https://")
        trusted = ssl.create_default_context(cafile=str(folder / "ca.pem"))
        with urllib.request.urlopen(url + "/api/loads", context=trusted, timeout=30) as r:
            assert r.status == 200
        proc.terminate()
        assert proc.stdout is not None
        banner = proc.stdout.read()
    assert f"TLS: clients trust {folder / 'ca.pem'}" in banner
