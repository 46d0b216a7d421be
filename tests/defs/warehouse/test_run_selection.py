"""The dbt step starts the CLV step's preparation only when the run includes the CLV step."""

import dagster as dg

from pipelines.defs.predictions.assets import PREDICTIONS_KEY
from pipelines.defs.warehouse.assets import run_includes


def test_a_whole_job_run_includes_every_asset() -> None:
    # `execute_in_process` of the refresh job (what `segments run` does) gives an empty set
    assert run_includes(frozenset(), PREDICTIONS_KEY)
    assert run_includes(None, PREDICTIONS_KEY)


def test_a_selected_run_includes_only_its_selection() -> None:
    other = dg.AssetKey(["marts", "customer_segments"])
    assert run_includes(frozenset({PREDICTIONS_KEY, other}), PREDICTIONS_KEY)
    assert not run_includes(frozenset({other}), PREDICTIONS_KEY)
