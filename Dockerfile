# arbot in a container: a small, non-root image whose data dir is a volume.
#   docker build -t arbot .
#   docker run --rm -v arbot-data:/data arbot                        # the embedded default: paper, SQLite
#   docker run --rm -v arbot-data:/data -v $PWD/arbot.toml:/config/arbot.toml:ro \
#       -e ARBOT_CONFIG=/config/arbot.toml arbot
#   docker exec <container> arbot ctl status                           # the control socket, inside
# docs/deploy.md has the details (compose, PostgreSQL, secrets, health).

# --- build: a virtualenv with arbot, the PostgreSQL and NATS (fleet) clients and the Kraken book's C fast path ---
FROM python:3.11-slim-bookworm AS build
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev zlib1g-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml setup.py constraints.txt README.md LICENSE config.example.toml ./
COPY bot ./bot
COPY plugins ./plugins
COPY arbotlib ./arbotlib
RUN python -m venv /opt/arbot \
 && /opt/arbot/bin/pip install --no-cache-dir --quiet -c constraints.txt ".[postgres,fleet]"

# --- run: no compiler, no root ---
FROM python:3.11-slim-bookworm
LABEL org.opencontainers.image.title="arbot" \
      org.opencontainers.image.description="A plugin-based crypto trading bot: paper, grid and CEX/DEX arbitrage" \
      org.opencontainers.image.licenses="MIT"
# tini is PID 1: it forwards SIGTERM to arbot and reaps children (PID 1 gets no default signal action, so arbot there
# would ignore a SIGTERM until its own handler exists); sqlite3 for the runbook's integrity check and .backup.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini sqlite3 \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 arbot \
 && useradd --system --uid 10001 --gid arbot --home-dir /data --no-create-home --shell /usr/sbin/nologin arbot \
 && install -d -o arbot -g arbot -m 0700 /data
COPY --from=build /opt/arbot /opt/arbot
ENV PATH=/opt/arbot/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
# The bot's own answer over its control socket (/data/arbot.sock): alive and not stuck.
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 CMD ["arbot", "ctl", "status"]
# SIGTERM stops it cleanly (orders per [bot] on_shutdown) within [bot] shutdown_timeout_s.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--", "arbot"]
CMD ["run"]
