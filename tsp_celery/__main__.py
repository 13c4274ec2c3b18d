"""``python -m tsp_celery``: the same as the ``tsp-celery`` console script."""

from tsp_celery.cli import main

main()
