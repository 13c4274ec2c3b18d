"""Options shared by several commands, spelled once so that ``solve`` and ``submit`` agree."""

from __future__ import annotations

import click

merge_option = click.option(
    "--merge/--no-merge", default=True, show_default=True,
    help="merge each round's tours with the best ones found so far (partition crossover); "
         "--no-merge keeps the shortest run as is, to measure what merging adds")
