"""HTTPS and WSS from the plain install: a local CA the emulator makes once (kept in a folder,
so a client trusts it once), and a certificate for ``localhost``, ``127.0.0.1`` and ``::1``
it signs for each run. Made with ``trustme``, a library written for test CAs."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Final

from ..state.config import Tls

__all__ = ["NAMES", "context", "local_tls"]

#: What the certificate is for: the loopback names a client dials.
NAMES: Final = ("localhost", "127.0.0.1", "::1")


def local_tls(folder: Path) -> Tls:
    """A certificate for :data:`NAMES`, signed by the CA kept in ``folder`` (made there the
    first time: ``ca.pem``, the file a client trusts, and its key)."""
    import trustme  # imported when --tls asks: most runs never need it

    folder.mkdir(parents=True, exist_ok=True)
    ca_file, ca_key = folder / "ca.pem", folder / "ca.key"
    if ca_file.is_file() and ca_key.is_file():
        ca = trustme.CA.from_pem(ca_file.read_bytes(), ca_key.read_bytes())
    else:
        ca = trustme.CA(organization_name="fakegpt-emulator local CA")
        ca_key.touch(mode=0o600)
        ca_key.write_bytes(ca.private_key_pem.bytes())
        ca.cert_pem.write_to_path(str(ca_file))
    leaf = ca.issue_cert(*NAMES)
    cert, key = folder / "localhost.pem", folder / "localhost.key"
    key.touch(mode=0o600)
    leaf.private_key_pem.write_to_path(str(key))
    cert.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    return Tls(str(cert), str(key), str(ca_file))


def context(tls: Tls) -> ssl.SSLContext:
    """The server's TLS context for ``tls``'s certificate and key."""
    made = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    made.load_cert_chain(tls.cert, tls.key)
    # No TLS 1.3 session tickets: a test's connections never resume a session, and the
    # tickets a server sends after its handshake stalled a connection's first request
    # (about 1 connect in 40 under load, asyncio's TLS on Python 3.11: no request seen
    # in 10 s, the client waiting on its answer).
    made.num_tickets = 0
    return made
