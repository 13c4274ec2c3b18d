"""Pure compute: the work units every backend runs, and what planning needs to size them.

Nothing here imports Celery or Redis. Other layers import these names only; the lower bounds
(``solver.certify``, HiGHS-heavy) are imported where a bound is computed.
"""

from tsp_celery.solver.budget import fits_matrix_budget
from tsp_celery.solver.decompose import (
    RECOMMENDED_SECONDS_PER_NODE,
    RECOMMENDED_SEGMENT_SIZE,
    round_offset,
    segments,
)
from tsp_celery.solver.elite import ELITE_SIZE, update_elite
from tsp_celery.solver.engine import Engine, get_engine
from tsp_celery.solver.exact import MAX_EXACT_NODES
from tsp_celery.solver.partition import join_parts, part_count, part_seed, solve_part, spatial_parts
from tsp_celery.solver.units import (
    KINDS,
    MAX_POLISH_S,
    PIECE_KINDS,
    WHOLE_KINDS,
    UnitResult,
    UnitSpec,
    apply_results,
    default_polish_s,
    initial_tour,
    partition_part_nodes,
    polished,
    run_unit,
)

__all__ = [  # noqa: RUF022 (grouped by concept, not sorted)
    # work units: what one unit does, running it, applying a round's results to a tour
    "KINDS",
    "PIECE_KINDS",
    "WHOLE_KINDS",
    "UnitResult",
    "UnitSpec",
    "apply_results",
    "run_unit",
    # the elite pool that island rounds merge with
    "ELITE_SIZE",
    "update_elite",
    # engines and the matrix budget
    "Engine",
    "MAX_EXACT_NODES",
    "fits_matrix_budget",
    "get_engine",
    # decomposition rounds: segment size, time per node and shifted cut points
    "RECOMMENDED_SECONDS_PER_NODE",
    "RECOMMENDED_SEGMENT_SIZE",
    "round_offset",
    "segments",
    # the first tour beyond the matrix budget: whole, or a spatial partition's parts joined
    "MAX_POLISH_S",
    "default_polish_s",
    "initial_tour",
    "join_parts",
    "part_count",
    "part_seed",
    "partition_part_nodes",
    "polished",
    "solve_part",
    "spatial_parts",
]
