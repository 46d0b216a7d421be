"""BG/NBD + Gamma-Gamma on data simulated from known parameters: the fit must recover them."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from pipelines.defs.predictions import model
from tests.helpers import fresh_python

# Known parameters in weeks, of the CDNOW magnitude but with more repeat buying.
TRUE_BGNBD = {"r": 0.5, "alpha": 6.0, "a": 0.6, "b": 2.5}
TRUE_GAMMA_GAMMA = {"p": 4.0, "q": 3.0, "v": 20.0}
CUSTOMERS = 20_000
WEEKS = 78


def simulate(seed: int = 7) -> pd.DataFrame:
    """Customer summaries simulated from the BG/NBD story with known parameters: purchase
    rates ~ Gamma(r, alpha), exponential gaps; after each *repeat* purchase the customer drops
    out with p ~ Beta(a, b) (not after the first: that is the MBG/NBD variant, which the
    sample-data generator, pipelines/generate/purchases.py, follows); first purchases uniform
    over the first half of the window. Spend per purchase ~ Gamma(p, nu), nu ~ Gamma(q, v)."""
    rng = np.random.default_rng(seed)
    rate = rng.gamma(TRUE_BGNBD["r"], 1 / TRUE_BGNBD["alpha"], CUSTOMERS)
    dropout = rng.beta(TRUE_BGNBD["a"], TRUE_BGNBD["b"], CUSTOMERS)
    first = rng.uniform(0, WEEKS / 2, CUSTOMERS)
    T = WEEKS - first
    # repeat purchases made before dropping out, if the window were endless
    repeats_until_dropout = rng.geometric(dropout)
    frequency = np.zeros(CUSTOMERS)
    recency = np.zeros(CUSTOMERS)
    clock = np.zeros(CUSTOMERS)
    active = np.ones(CUSTOMERS, dtype=bool)
    while active.any():
        clock = clock + rng.exponential(1.0, CUSTOMERS) / rate
        active &= clock <= T
        frequency[active] += 1
        recency[active] = clock[active]
        active &= frequency < repeats_until_dropout
    nu = rng.gamma(TRUE_GAMMA_GAMMA["q"], 1 / TRUE_GAMMA_GAMMA["v"], CUSTOMERS)
    spend_sums = rng.gamma(TRUE_GAMMA_GAMMA["p"] * np.maximum(frequency, 1), 1 / nu)
    return pd.DataFrame(
        {
            "customer_key": [f"c{i}" for i in range(CUSTOMERS)],
            "frequency": frequency,
            # the step works in days; the models in weeks
            "recency_days": recency * model.DAYS_PER_WEEK,
            "age_days": T * model.DAYS_PER_WEEK,
            "monetary_value": np.where(
                frequency > 0, spend_sums / np.maximum(frequency, 1), np.nan
            ),
        }
    )


@pytest.fixture(scope="module")
def fitted() -> tuple[pd.DataFrame, model.Fit, model.Fit]:
    data = simulate()
    return data, model.fit_bgnbd(data), model.fit_gamma_gamma(data)


def test_bgnbd_recovers_the_simulated_parameters(fitted) -> None:
    _, bgnbd, _ = fitted
    assert bgnbd.usable, bgnbd.problems
    for name, true in TRUE_BGNBD.items():
        assert bgnbd.params[name] == pytest.approx(true, rel=0.12), name


def test_gamma_gamma_recovers_the_simulated_parameters(fitted) -> None:
    _, _, gamma_gamma = fitted
    assert gamma_gamma.usable, gamma_gamma.problems
    # p is sharply identified; q and v only through their ratio, so looser
    assert gamma_gamma.params["p"] == pytest.approx(TRUE_GAMMA_GAMMA["p"], rel=0.10)
    assert gamma_gamma.params["q"] == pytest.approx(TRUE_GAMMA_GAMMA["q"], rel=0.20)
    assert gamma_gamma.params["v"] == pytest.approx(TRUE_GAMMA_GAMMA["v"], rel=0.25)
    fitted_mean = gamma_gamma.params["p"] * gamma_gamma.params["v"] / (gamma_gamma.params["q"] - 1)
    true_mean = TRUE_GAMMA_GAMMA["p"] * TRUE_GAMMA_GAMMA["v"] / (TRUE_GAMMA_GAMMA["q"] - 1)
    assert fitted_mean == pytest.approx(true_mean, rel=0.05)


def test_the_fit_is_the_maximum_of_the_closed_form_likelihood(fitted) -> None:
    data, bgnbd, _ = fitted
    frame = model.bgnbd_frame(data)
    x, t_x, T = (frame[c].to_numpy() for c in ("frequency", "recency", "T"))
    best = model.bgnbd_log_likelihood(bgnbd.params, x, t_x, T).sum()
    assert best == pytest.approx(bgnbd.log_likelihood)
    for name in TRUE_BGNBD:
        for factor in (0.98, 1.02):
            moved = {**bgnbd.params, name: bgnbd.params[name] * factor}
            assert model.bgnbd_log_likelihood(moved, x, t_x, T).sum() < best, name


def test_predictions_are_sane_and_tiers_have_their_shares(fitted) -> None:
    data, bgnbd, gamma_gamma = fitted
    predictions = model.predict(data, bgnbd, gamma_gamma, model.PredictionSettings())

    assert model.prediction_problems(predictions) == []
    assert predictions["probability_alive"].between(0, 1).all()
    assert (
        predictions["expected_purchases_365_days"] >= predictions["expected_purchases_90_days"]
    ).all()
    # one purchase day only: the model cannot have seen a dropout yet
    single = data["frequency"].to_numpy() == 0
    assert np.allclose(predictions.loc[single, "probability_alive"], 1.0)
    shares = predictions["clv_tier"].value_counts(normalize=True)
    assert shares["high"] == pytest.approx(0.10, abs=0.01)
    assert shares["medium"] == pytest.approx(0.40, abs=0.01)
    high = predictions.loc[predictions["clv_tier"] == "high", "predicted_clv_365_days"].min()
    medium = predictions.loc[predictions["clv_tier"] == "medium", "predicted_clv_365_days"].max()
    assert high >= medium
    # undiscounted CLV = expected purchases in 52.14 weeks x expected order value
    approx = (
        predictions["expected_purchases_365_days"] * predictions["expected_average_order_value"]
    )
    assert np.allclose(predictions["predicted_clv_365_days"], approx, rtol=0.01)


def test_discounting_lowers_clv(fitted) -> None:
    data, bgnbd, gamma_gamma = fitted
    plain = model.predict(data[:500], bgnbd, gamma_gamma, model.PredictionSettings())
    discounted = model.predict(
        data[:500], bgnbd, gamma_gamma, model.PredictionSettings(annual_discount_rate=0.5)
    )
    ratio = discounted["predicted_clv_365_days"] / plain["predicted_clv_365_days"]
    assert ((ratio < 1) & (ratio > 0.6)).all()


def test_too_few_customers_is_not_a_usable_fit() -> None:
    data = simulate().head(30)
    fit = model.fit_bgnbd(data)

    assert not fit.usable
    assert "at least 50" in fit.problems[0]


def test_gate_names_a_non_converged_fit_and_bad_parameters() -> None:
    problems = model._judge("bg_nbd", {"r": 0.5, "alpha": -1.0}, -100.0, 50.0, 1000)

    assert any("alpha = -1.0 is not a positive finite number" in p for p in problems)
    assert any("did not converge" in p for p in problems)


def test_prediction_gate_flags_nan_and_probabilities_outside_0_1() -> None:
    predictions = pd.DataFrame(
        {
            "customer_key": ["a", "b"],
            "probability_alive": [1.2, math.nan],
            "expected_purchases_90_days": [0.1, 0.2],
            "expected_purchases_365_days": [0.3, -0.1],
            "expected_average_order_value": [10.0, 12.0],
            "predicted_clv_365_days": [3.0, 2.0],
            "clv_tier": ["high", "low"],
        }
    )
    problems = model.prediction_problems(predictions)

    assert "customer_predictions.probability_alive: 1 NaN or infinite values" in problems
    assert "customer_predictions.probability_alive: 1 values outside [0, 1]" in problems
    assert "customer_predictions.expected_purchases_365_days: 1 negative values" in problems


def test_loading_the_code_location_does_not_import_pymc() -> None:
    code = (
        "import sys, pipelines.definitions; "
        "print(sorted(m for m in ('pymc', 'pytensor', 'pymc_marketing', 'arviz') "
        "if m in sys.modules))"
    )
    assert fresh_python(code) == "[]"


def test_prepared_in_the_background_the_fit_reuses_the_compiled_likelihood(fitted) -> None:
    """The dbt step starts `prepare_in_background` (pymc imports and compiling, ~7 s) while dbt
    runs; the fit then uses that compiled likelihood and finds the same optimum."""
    code = (
        "import json, sys; sys.path.insert(0, 'tests/defs/predictions'); "
        "from test_model import simulate; from pipelines.defs.predictions import model; "
        "thread = model.prepare_in_background(); "
        "assert model.prepare_in_background() is thread; thread.join(); "
        "built = model._weighted_fitter; assert built is not None; "
        "fit = model.fit_bgnbd(simulate()); assert model._weighted_fitter is built; "
        "print(json.dumps(fit.params))"
    )
    params = json.loads(fresh_python(code))
    _, bgnbd, _ = fitted
    assert params == pytest.approx(bgnbd.params, rel=1e-9)
