"""How this bot (or ``arbot fleet``) reaches NATS: the server list, the login, TLS — secrets kept out of logs."""

from __future__ import annotations

import ssl
from typing import Any
from urllib.parse import unquote, urlsplit

from bot.api import Secret
from bot.api.kit import REDACTOR, add_url

from .settings import FleetSettings


class LinkConfigError(ValueError):
    """The settings cannot make a connection (a reference that does not resolve, a missing package)."""


def servers_of(settings: FleetSettings) -> list[str]:
    """The server URLs, the ``env:``/``file:`` reference read; every password and token in them masked in logs."""
    url = settings.nats_url
    if url.startswith(("env:", "file:")):
        secret = Secret(url)
        try:
            secret.resolve()
        except ValueError as exc:
            raise LinkConfigError(f"plugins.fleet.nats_url: {exc}") from None
        url = secret.reveal().strip()
    servers = [s.strip() for s in url.split(",") if s.strip()]
    for server in servers:
        add_url(server)  # USER:PASSWORD@ as a database URL's, whatever it holds ("/", "?", "#") and however short
        parts = urlsplit(server)
        # nats://TOKEN@host is a token, nats://USER:PASSWORD@host a password: mask either
        for value in (parts.password, None if parts.password else parts.username):
            if value:
                REDACTOR.add(value)
                REDACTOR.add(unquote(value))
    if not servers:
        raise LinkConfigError("plugins.fleet.nats_url: no server in it")
    return servers


def shown(servers: list[str]) -> str:
    """The servers as they may be logged: scheme, host and port only."""
    out = []
    for server in servers:
        parts = urlsplit(server)
        try:
            port = f":{parts.port}" if parts.port else ""
        except ValueError:
            port = ""
        out.append(f"{parts.scheme}://{parts.hostname or '?'}{port}")
    return ", ".join(out)


def tls_context(settings: FleetSettings) -> ssl.SSLContext | None:
    if not (settings.tls_ca or settings.tls_cert):
        return None
    try:
        context = ssl.create_default_context(cafile=settings.tls_ca or None)
        if settings.tls_cert:
            context.load_cert_chain(settings.tls_cert, settings.tls_key)
    except (OSError, ssl.SSLError) as exc:
        raise LinkConfigError(f"plugins.fleet TLS files: {exc}") from None
    return context


def login(settings: FleetSettings) -> dict[str, Any]:
    """The connect() keywords of the configured way to log in (none: the URL's own, or anonymous)."""
    if settings.creds_file or settings.nkey_seed is not None:
        try:
            import nkeys  # noqa: F401  # nats-py signs with it
        except ImportError:
            raise LinkConfigError("plugins.fleet: creds_file and nkey_seed need the nkeys package "
                                  "(pip install nkeys); or log in with user/password or token") from None
    # read at each (re)connection: a password or token rotated by `arbot ctl reload-secrets` is used from the next one
    password, token = settings.password, settings.token
    if password is not None:
        return {"user": settings.user, "password": password.reveal}
    if token is not None:
        return {"token": token.reveal}
    if settings.creds_file:
        return {"user_credentials": settings.creds_file}
    if settings.nkey_seed is not None:
        return {"nkeys_seed_str": settings.nkey_seed.reveal()}
    return {}


def connect_options(settings: FleetSettings, name: str) -> dict[str, Any]:
    """Everything ``nats.connect`` needs but the callbacks: reconnect forever, ``reconnect_wait_s`` apart."""
    servers = servers_of(settings)
    options: dict[str, Any] = {
        "servers": servers, "name": name, "allow_reconnect": True, "max_reconnect_attempts": -1,
        "reconnect_time_wait": settings.reconnect_wait_s, "connect_timeout": max(1, int(settings.call_timeout_s)),
        **login(settings),
    }
    context = tls_context(settings)
    if context is not None:
        options["tls"] = context
    return options
