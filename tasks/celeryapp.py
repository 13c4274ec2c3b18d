"""The one Celery app of the workers (and of Flower), configured from the environment."""

from tsp_celery.cluster.celery_config import make_app

app = make_app()
