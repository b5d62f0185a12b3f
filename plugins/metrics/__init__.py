"""``metrics``: a Prometheus endpoint for a running bot (see docs/metrics.md).

A service configured in ``[plugins.metrics]`` (off by default, so ``arbot run`` opens no port).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.api import Operator, Service, hookimpl

from .settings import MetricsSettings

if TYPE_CHECKING:
    from .exporter import MetricsExporter


class MetricsService(Service):
    """Runs the exporter while the bot runs; prometheus_client is imported on start."""

    Settings = MetricsSettings

    exporter: MetricsExporter | None = None

    async def start(self) -> None:
        from .exporter import MetricsExporter

        self.exporter = MetricsExporter(self.settings, self.ctx)
        await self.exporter.start()

    async def stop(self) -> None:
        if self.exporter is not None:
            await self.exporter.stop()


def running_exporter(operator: Operator) -> MetricsExporter | None:
    """The metrics exporter of a running bot (None when disabled): its ``port`` and ``registry``."""
    service = operator.service("metrics")
    return service.exporter if isinstance(service, MetricsService) else None


@hookimpl
def register_services(register) -> None:
    register("metrics", MetricsService)
