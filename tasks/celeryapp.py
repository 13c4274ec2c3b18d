"""The one Celery app of the workers (and of Flower), configured from the environment."""

from celery.signals import after_setup_logger, after_setup_task_logger

from tsp_celery.cluster.celery_config import make_app
from tsp_celery.cluster.connection import install_log_redaction

app = make_app()


@after_setup_logger.connect
@after_setup_task_logger.connect
def _redact_urls(logger, **_kwargs) -> None:
    """Worker log lines never show a Redis password (Celery masks only its own banner)."""
    install_log_redaction(logger)
