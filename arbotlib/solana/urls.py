"""Solana node URLs as they may be shown in a message or a log line: no credentials.

RPC providers carry the credential in any part of the URL: ``user:password@``, the path
(``/v2/KEY``, ``/TOKEN/``) or the query (``?api-key=KEY``). Only the scheme, host and port say
which node is meant without saying how to use it, so that is all :func:`shown_url` keeps. No
dependency, so the RPC client and the WebSocket subscriber both use it.
"""

from __future__ import annotations

from urllib.parse import urlsplit


def shown_url(url: str) -> str:
    """``https://host:port/...``: the scheme, host and port of ``url``; ``/...`` when anything else was left out."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port
    except ValueError:  # a bad port, an unclosed IPv6 bracket: nothing in it is known to be safe to show
        return "<unparsable url>"
    if not parts.scheme or not host:
        return "<unparsable url>"
    if ":" in host:
        host = f"[{host}]"
    shown = f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")
    return shown + "/..." if parts.path.strip("/") or parts.query or parts.fragment or "@" in parts.netloc else shown
