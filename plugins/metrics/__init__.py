"""``metrics``: a Prometheus endpoint for a running bot (see docs/metrics.md).

Configured in ``[plugins.metrics]`` (off by default, so ``arbot run`` opens no port).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot import hookimpl

from .settings import MetricsSettings

if TYPE_CHECKING:
    from bot.app import Bot

    from .exporter import MetricsExporter

_exporters: dict[int, MetricsExporter] = {}


def running_exporter(bot: Bot) -> MetricsExporter | None:
    """The metrics exporter of a running bot (None when disabled): its ``port`` and ``registry``."""
    return _exporters.get(id(bot))


@hookimpl
def register_plugin_settings(register) -> None:
    register(MetricsSettings)


@hookimpl
def startup(bot: Bot):
    settings = bot.config.plugin_settings.get("metrics")
    if settings is None or not settings.enabled:
        return None
    from .exporter import MetricsExporter

    exporter = MetricsExporter(settings, bot)
    _exporters[id(bot)] = exporter
    return exporter.start()


@hookimpl
def shutdown(bot: Bot):
    exporter = _exporters.pop(id(bot), None)
    return exporter.stop() if exporter is not None else None
