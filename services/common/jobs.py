"""Celery plumbing shared by every service with background jobs: one app per service, the
broker from CRM_BROKER_URL (embedded default: a SQLite file, no server), at-least-once delivery,
telemetry and JSON logs set up in each worker process."""

from typing import Any

from celery import Celery
from celery.signals import worker_process_init

from services.common import logging as crm_logging
from services.common import telemetry
from services.common.settings import Mode, ServiceSettings


def broker_url(settings: ServiceSettings) -> str:
    """The broker in force: CRM_BROKER_URL, or a SQLite file under data_dir in embedded mode."""
    if settings.broker_url:
        return settings.broker_url
    if settings.mode == Mode.PRODUCTION:
        raise ValueError("CRM_BROKER_URL is required in production mode (e.g. redis://redis:6379/1)")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return f"sqla+sqlite:///{settings.data_dir.resolve() / 'broker.db'}"


def create_app(name: str, settings: ServiceSettings) -> Celery:
    """The Celery app of a service: tasks are acknowledged after they run and requeued when a
    worker dies, so they must be idempotent; results are not kept."""
    app = Celery(name, broker=broker_url(settings))
    conf: dict[str, Any] = {
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_ignore_result": True,
        "worker_prefetch_multiplier": 1,
        "worker_hijack_root_logger": False,
        "broker_connection_retry_on_startup": True,
        "task_default_queue": name,
        "beat_schedule_filename": str(settings.data_dir / f"{name}-beat-schedule"),
        "timezone": "UTC",
    }
    if app.conf.broker_url.startswith("redis"):
        # Redelivery of an unacknowledged task waits this long (Redis has no per-task ack).
        conf["broker_transport_options"] = {"visibility_timeout": 3600}
    app.conf.update(conf)

    @worker_process_init.connect(weak=False)
    def _init_worker(**_: Any) -> None:
        crm_logging.setup(name, settings.log_level)
        telemetry.setup(name)

    return app
