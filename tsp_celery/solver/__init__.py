"""Pure compute: engines, matrix budget, construction, path sub-problems and work units.

Nothing in here imports Celery or Redis; the embedded pool and the Celery workers both call
``tsp_celery.solver.units``.
"""
