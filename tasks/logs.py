"""Worker log format: TSP_CELERY_LOG_FORMAT=json gives one JSON object per line (see
``tsp_celery.logformat``); Celery's own text format stays the default."""

from __future__ import annotations

from celery import signals

from tsp_celery.logformat import format_from_env, set_node, use_format

_FORMAT = format_from_env()


@signals.celeryd_init.connect
def name_node(sender=None, **_kwargs) -> None:
    if sender:
        set_node(str(sender))


@signals.after_setup_logger.connect
@signals.after_setup_task_logger.connect
def json_lines(logger=None, **_kwargs) -> None:
    if _FORMAT == "json" and logger is not None:
        use_format("json", logger)
