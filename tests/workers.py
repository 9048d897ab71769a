"""The real worker functions, run in the test's process and event loop."""

from __future__ import annotations

from typing import Any

from arq.worker import Worker

from events_svc.sender.smtp import SmtpPool
from events_svc.webhooks.service import http_client
from workers.main import functions
from workers.notifications import schedule_reminders, sweep_notifications


class InProcessWorker:
    def __init__(self, settings: Any) -> None:
        from arq.connections import RedisSettings

        self.settings = settings
        self.smtp = SmtpPool(settings.smtp, size=settings.smtp_pool_size, timeout=5)
        self.http = http_client(timeout=settings.webhook_timeout)
        self.redis_settings = RedisSettings.from_dsn(settings.redis_url)
        self._redis: Any = None

    async def _ctx_startup(self, ctx: dict[str, Any]) -> None:
        # The database pool is the app fixture's; the worker only adds its own SMTP pool.
        ctx["settings"] = self.settings
        ctx["smtp"] = self.smtp
        ctx["http"] = self.http
        ctx["worker_name"] = "test-worker"

    async def drain(self) -> None:
        """Run queued jobs (including deferred ones that come due) until none is left."""
        worker = Worker(
            functions=functions(),
            redis_settings=self.redis_settings,
            burst=True,
            poll_delay=0.05,
            on_startup=self._ctx_startup,
            handle_signals=False,
            max_jobs=20,
        )
        try:
            await worker.main()
        finally:
            await worker.close()

    async def _ctx(self) -> dict[str, Any]:
        from arq import create_pool

        if self._redis is None:
            self._redis = await create_pool(self.redis_settings)
        return {"settings": self.settings, "redis": self._redis}

    async def sweep(self) -> int:
        """The cron sweep, once."""
        count: int = await sweep_notifications(await self._ctx())
        return count

    async def schedule(self) -> int:
        """The reminder scheduler cron, once."""
        count: int = await schedule_reminders(await self._ctx())
        return count

    async def close(self) -> None:
        await self.smtp.close()
        await self.http.aclose()
        if self._redis is not None:
            await self._redis.aclose()
