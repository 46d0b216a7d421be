"""BG/NBD + Gamma-Gamma: fit, predict and judge a fit. Pure functions on pandas frames.

The models (Fader, Hardie & Lee 2005, "Counting your customers the easy way" and "RFM and
CLV"; Fader & Hardie 2013, "The Gamma-Gamma model of monetary value") come from
pymc-marketing, fitted by MAP with flat priors, i.e. maximum likelihood: Gamma-Gamma with
`GammaGammaModel.fit`; BG/NBD with the library's `BetaGeoNBD` likelihood over the distinct
(frequency, recency, T) rows weighted by how many customers share each (`BetaGeoModel` has
no weights; 1.5M customers have ~600k distinct rows, and the fit went from 32 s to 12 s on a
loaded 2-core machine), then a `BetaGeoModel` holding those parameters serves the library's
predictive methods. Same optimum as `BetaGeoModel.fit` (CDNOW: equal to 1e-10). The library
(pymc, pytensor) is imported inside the functions that fit, never when this module is
imported: loading the code location must not pay for it.

Input: one row per customer with a purchase (summary.py):

| column | meaning |
| --- | --- |
| `frequency` | repeat purchase days: distinct purchase days after the first one |
| `recency_days` | days from the first to the last purchase day |
| `age_days` | days from the first purchase day to the as-of date (the model's T) |
| `monetary_value` | mean net value of the repeat purchase days (null without repeat) |

Time is in weeks inside the models (days / 7), as in the papers, so `alpha` is comparable
with the published 4.414 for CDNOW; horizons in days are converted.

The log-likelihoods and the convergence test are computed here in closed form (numpy), not
by the library: they are what `clv_model_fits` reports, and they check the library's optimum
independently (the gradient of the log-likelihood at the fitted parameters must be ~0).
"""

from __future__ import annotations

import math
import threading
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.special import betaln, gammaln

from pipelines.lib.background import OnceInBackground

DAYS_PER_WEEK = 7.0
BG_NBD = "bg_nbd"
GAMMA_GAMMA = "gamma_gamma"
BG_NBD_PARAMETERS = ("r", "alpha", "a", "b")
GAMMA_GAMMA_PARAMETERS = ("p", "q", "v")
# Converged when no parameter can still move the log-likelihood: |d LL / d log(param)| per
# customer below this. L-BFGS stops at ~1e-7 on CDNOW; an optimizer stopped by its
# evaluation budget far from the optimum shows 1e-2 or more.
MAX_GRADIENT_PER_CUSTOMER = 1e-4
# Fewer customers than this (or fewer repeat buyers) leave the parameters unidentified.
MIN_CUSTOMERS = 50
MIN_REPEAT_BUYERS = 20


@dataclass(frozen=True)
class Fit:
    """One fitted model: what `clv_model_fits` stores, plus why it cannot be used (if so)."""

    model: str
    params: dict[str, float]
    log_likelihood: float
    customers: int
    converged: bool
    problems: tuple[str, ...] = ()
    fitted: object | None = field(default=None, compare=False, repr=False)  # library model

    @property
    def usable(self) -> bool:
        return self.converged and not self.problems


# --- closed-form log-likelihoods (per customer) -------------------------------------------


def bgnbd_log_likelihood(
    params: Mapping[str, float], x: np.ndarray, t_x: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """BG/NBD log-likelihood of each customer (FHL 2005, eq. 6), time in the params' unit."""
    r, alpha, a, b = (params[k] for k in BG_NBD_PARAMETERS)
    common = gammaln(r + x) - gammaln(r) + r * math.log(alpha)
    term_alive = betaln(a, b + x) - betaln(a, b) - (r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        term_dead = (
            betaln(a + 1, np.maximum(b + x - 1, 1e-300))
            - betaln(a, b)
            - (r + x) * np.log(alpha + t_x)
        )
    term_dead = np.where(x > 0, term_dead, -np.inf)
    return common + np.logaddexp(term_alive, term_dead)


def gamma_gamma_log_likelihood(
    params: Mapping[str, float], x: np.ndarray, m: np.ndarray
) -> np.ndarray:
    """Gamma-Gamma log-likelihood of each repeat buyer's mean spend m over x transactions."""
    p, q, v = (params[k] for k in GAMMA_GAMMA_PARAMETERS)
    return (
        gammaln(p * x + q)
        - gammaln(p * x)
        - gammaln(q)
        + q * math.log(v)
        + (p * x - 1) * np.log(m)
        + p * x * np.log(x)
        - (p * x + q) * np.log(v + m * x)
    )


def _max_gradient(loglik: Callable[[dict[str, float]], float], params: dict[str, float]) -> float:
    """max |d LL / d log(param)| by central differences (scale-free across parameters)."""
    worst = 0.0
    step = 1e-5
    for name, value in params.items():
        up = {**params, name: value * math.exp(step)}
        down = {**params, name: value * math.exp(-step)}
        worst = max(worst, abs(loglik(up) - loglik(down)) / (2 * step))
    return worst


def _judge(model: str, params: dict[str, float], loglik: float, grad: float, n: int) -> list[str]:
    problems = [
        f"{model} parameter {name} = {value!r} is not a positive finite number"
        for name, value in params.items()
        if not (math.isfinite(value) and value > 0)
    ]
    if not math.isfinite(loglik):
        problems.append(f"{model} log-likelihood is {loglik!r} at the fitted parameters")
    if not math.isfinite(grad) or grad > MAX_GRADIENT_PER_CUSTOMER * max(n, 1):
        problems.append(
            f"{model} fit did not converge: |d log-likelihood / d log(parameter)| = {grad:.3g} "
            f"at the optimum found (at most {MAX_GRADIENT_PER_CUSTOMER:g} per customer allowed)"
        )
    return problems


def _flat(names: tuple[str, ...]) -> dict:
    """Flat (improper) priors on the positive reals: MAP = maximum likelihood."""
    from pymc_extras.prior import Prior

    return {name: Prior("HalfFlat") for name in names}


def _posterior_point(fitted, names: tuple[str, ...]) -> dict[str, float]:
    posterior = fitted.idata.posterior
    return {name: float(np.asarray(posterior[name]).ravel()[0]) for name in names}


def _quiet_fit(fitted, data: pd.DataFrame) -> None:
    with warnings.catch_warnings():
        # arviz announces its refactor on import; pymc warns about the flat priors' lack of
        # a random generator: neither concerns a MAP fit.
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", UserWarning)
        fitted.fit(data=data, method="map", progressbar=False)


# --- fitting --------------------------------------------------------------------------------


def bgnbd_frame(summary: pd.DataFrame) -> pd.DataFrame:
    """The library's input: customer_id (row number), frequency, recency and T in weeks."""
    return pd.DataFrame(
        {
            "customer_id": np.arange(len(summary)),
            "frequency": summary["frequency"].to_numpy(dtype=float),
            "recency": summary["recency_days"].to_numpy(dtype=float) / DAYS_PER_WEEK,
            "T": summary["age_days"].to_numpy(dtype=float) / DAYS_PER_WEEK,
        }
    )


def compress(frame: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """The distinct (frequency, recency, T) rows of a BG/NBD frame, renumbered, and how many
    customers share each: the likelihood only depends on them (1.5M customers → ~600k rows)."""
    columns = ["frequency", "recency", "T"]
    groups = frame.groupby(columns, sort=False).ngroup().to_numpy()
    unique = frame.drop_duplicates(columns)[columns].reset_index(drop=True)
    unique.insert(0, "customer_id", np.arange(len(unique)))
    return unique, np.bincount(groups, minlength=len(unique)).astype(float)


class _WeightedBgNbd:
    """The weighted BG/NBD log-likelihood and its gradient, compiled once per process.

    pymc-marketing's BetaGeoModel has no weights, so the likelihood is the library's own
    BG/NBD distribution (`pymc_marketing.clv.distributions.BetaGeoNBD`) summed with weights
    in a `pm.Potential`, over data containers (`pm.Data`): the calibration fit and the
    holdout fit of a run (and every fit after them in the same process) reuse one compiled
    function, where `pm.find_MAP` compiled four per fit (start-value check, log-likelihood,
    gradient, result transform: ~1.5 s each fit on a small warehouse). The optimum is the
    one `find_MAP` finds: L-BFGS-B from the same start (every parameter 1), on the
    log-transformed parameters, without the Jacobian term, i.e. maximum likelihood.
    """

    def __init__(self) -> None:
        import pymc as pm
        from pymc_marketing.clv.distributions import BetaGeoNBD

        empty = np.zeros(1)
        with pm.Model() as self.model:
            self.recency = pm.Data("recency", empty)
            self.frequency = pm.Data("frequency", empty)
            self.T = pm.Data("T", empty + 1)
            self.counts = pm.Data("counts", empty)
            variables = {name: pm.HalfFlat(name) for name in BG_NBD_PARAMETERS}
            distribution = BetaGeoNBD.dist(
                a=variables["a"],
                b=variables["b"],
                r=variables["r"],
                alpha=variables["alpha"],
                T=self.T,
            )
            observed = pm.math.stack([self.recency, self.frequency], axis=1)
            pm.Potential("log_likelihood", (self.counts * pm.logp(distribution, observed)).sum())
        values = [self.model.rvs_to_values[variables[name]] for name in BG_NBD_PARAMETERS]
        self.function = pm.compile(
            values,
            [
                self.model.logp(jacobian=False),
                self.model.dlogp([variables[name] for name in BG_NBD_PARAMETERS], jacobian=False),
            ],
        )

    def fit(self, unique: pd.DataFrame, counts: np.ndarray) -> dict[str, float]:
        from scipy.optimize import minimize

        self.recency.set_value(unique["recency"].to_numpy(dtype=float))
        self.frequency.set_value(unique["frequency"].to_numpy(dtype=float))
        self.T.set_value(unique["T"].to_numpy(dtype=float))
        self.counts.set_value(np.asarray(counts, dtype=float))

        def negative(x: np.ndarray) -> tuple[float, np.ndarray]:
            value, gradient = self.function(*x)
            return -float(value), -np.asarray(gradient, dtype=float)

        # find_MAP's defaults: L-BFGS-B, at most 5000 evaluations
        result = minimize(
            negative,
            np.zeros(len(BG_NBD_PARAMETERS)),
            jac=True,
            method="L-BFGS-B",
            options={"maxfun": 5000},
        )
        return {name: float(np.exp(x)) for name, x in zip(BG_NBD_PARAMETERS, result.x, strict=True)}


_weighted_fitter: _WeightedBgNbd | None = None
_weighted_lock = threading.Lock()


def _weighted_bgnbd_map(unique: pd.DataFrame, counts: np.ndarray) -> dict[str, float]:
    """Maximum likelihood of BG/NBD over distinct rows weighted by their customer counts
    (on 1.5M customers it halves the fit against BetaGeoModel.fit on every customer)."""
    with _weighted_lock:
        return _built_fitter().fit(unique, counts)


def _built_fitter() -> _WeightedBgNbd:
    """The process's compiled likelihood, built on first use (hold `_weighted_lock`)."""
    global _weighted_fitter
    if _weighted_fitter is None:
        _weighted_fitter = _WeightedBgNbd()
    return _weighted_fitter


def _prepare() -> None:
    try:
        with _weighted_lock:
            _built_fitter()
    except Exception:  # noqa: BLE001 - the fit builds it again and reports the error there
        pass


_preparation = OnceInBackground(_prepare, "clv-prepare")


def prepare_in_background() -> threading.Thread:
    """Import pymc and compile the weighted BG/NBD likelihood on a daemon thread, once per
    process, so that a fit later in the run finds them ready.

    Both are fixed costs of the first fit in a process (~3.7 s of imports and ~3.5 s of
    pytensor compiling on this machine, whatever the data size) and need no data: the run's
    dbt step starts this while dbt, a child process, works, so they come off the run's
    critical path. A fit that comes first waits on the same lock instead of building twice;
    if building fails here, the fit builds again and reports the error where it belongs.
    """
    return _preparation.start()


def _predictive_bgnbd(unique: pd.DataFrame, params: dict[str, float]):
    """A BetaGeoModel holding fitted parameters, for the library's predictive methods."""
    import arviz as az
    from pymc_marketing.clv import BetaGeoModel

    fitted = BetaGeoModel(model_config=_flat(BG_NBD_PARAMETERS))
    fitted.build_model(data=unique)
    fitted.fit_result = az.from_dict(
        posterior={name: np.array([[value]]) for name, value in params.items()}
    )
    return fitted


def fit_bgnbd(summary: pd.DataFrame) -> Fit:
    """Fit BG/NBD on every customer of `summary` (time in weeks), through the distinct
    (frequency, recency, T) rows weighted by their customer counts (compress)."""
    n = len(summary)
    repeat = int((summary["frequency"] > 0).sum())
    if n < MIN_CUSTOMERS or repeat < MIN_REPEAT_BUYERS:
        return Fit(
            BG_NBD,
            {},
            math.nan,
            n,
            False,
            (
                f"{BG_NBD}: {n} customers with a purchase, {repeat} with a repeat purchase day; "
                f"at least {MIN_CUSTOMERS} and {MIN_REPEAT_BUYERS} are needed to fit",
            ),
        )
    unique, counts = compress(bgnbd_frame(summary))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # arviz announces its refactor
            warnings.simplefilter("ignore", UserWarning)
            params = _weighted_bgnbd_map(unique, counts)
            fitted = _predictive_bgnbd(unique, params)
    except Exception as exc:  # any library failure withholds the predictions, not the run
        return Fit(BG_NBD, {}, math.nan, n, False, (f"{BG_NBD} fit failed: {exc!r}",))
    x, t_x, T = (unique[c].to_numpy() for c in ("frequency", "recency", "T"))

    def loglik(p: dict[str, float]) -> float:
        return float((counts * bgnbd_log_likelihood(p, x, t_x, T)).sum())

    return _finish(BG_NBD, params, loglik, n, fitted)


def gamma_gamma_frame(summary: pd.DataFrame) -> pd.DataFrame:
    """The Gamma-Gamma fit's input: repeat buyers with a positive mean repeat spend."""
    repeat = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
    return pd.DataFrame(
        {
            "customer_id": np.arange(len(repeat)),
            "frequency": repeat["frequency"].to_numpy(dtype=float),
            "monetary_value": repeat["monetary_value"].to_numpy(dtype=float),
        }
    )


def fit_gamma_gamma(summary: pd.DataFrame) -> Fit:
    """Fit Gamma-Gamma on the repeat buyers whose mean repeat-day net value is positive."""
    data = gamma_gamma_frame(summary)
    n = len(data)
    if n < MIN_REPEAT_BUYERS:
        return Fit(
            GAMMA_GAMMA,
            {},
            math.nan,
            n,
            False,
            (f"{GAMMA_GAMMA}: {n} repeat buyers; at least {MIN_REPEAT_BUYERS} are needed",),
        )
    try:
        from pymc_marketing.clv import GammaGammaModel

        fitted = GammaGammaModel(model_config=_flat(GAMMA_GAMMA_PARAMETERS))
        _quiet_fit(fitted, data)
        params = _posterior_point(fitted, GAMMA_GAMMA_PARAMETERS)
    except Exception as exc:
        return Fit(GAMMA_GAMMA, {}, math.nan, n, False, (f"{GAMMA_GAMMA} fit failed: {exc!r}",))
    x, m = data["frequency"].to_numpy(), data["monetary_value"].to_numpy()

    def loglik(p: dict[str, float]) -> float:
        return float(gamma_gamma_log_likelihood(p, x, m).sum())

    fit = _finish(GAMMA_GAMMA, params, loglik, n, fitted)
    if fit.params.get("q", 0.0) <= 1:  # the population mean spend v p / (q - 1) needs q > 1
        fit = Fit(
            fit.model,
            fit.params,
            fit.log_likelihood,
            n,
            fit.converged,
            (
                *fit.problems,
                f"{GAMMA_GAMMA} q = {fit.params.get('q')!r}: the mean spend of a "
                "customer without repeat purchases is undefined for q <= 1",
            ),
            fitted,
        )
    return fit


def _finish(
    model: str,
    params: dict[str, float],
    loglik: Callable[[dict[str, float]], float],
    n: int,
    fitted: object,
) -> Fit:
    finite = all(math.isfinite(v) and v > 0 for v in params.values())
    value = loglik(params) if finite else math.nan
    grad = _max_gradient(loglik, params) if finite else math.nan
    problems = _judge(model, params, value, grad, n)
    converged = finite and math.isfinite(grad) and grad <= MAX_GRADIENT_PER_CUSTOMER * max(n, 1)
    return Fit(model, params, value, n, converged, tuple(problems), fitted)


# --- predictions ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PredictionSettings:
    """The `clv` family of the segment settings seed (int_segment_settings)."""

    holdout_days: int = 90
    holdout_max_customers: int = 200_000
    annual_discount_rate: float = 0.0
    high_tier_share: float = 0.10
    medium_tier_share: float = 0.40


def _values(array) -> np.ndarray:
    """A MAP prediction (chain, draw, customer_id) as one value per customer."""
    return np.asarray(array).reshape(-1)


def expected_purchases(fit: Fit, frame: pd.DataFrame, days: float) -> np.ndarray:
    return _values(fit.fitted.expected_purchases(data=frame, future_t=days / DAYS_PER_WEEK))


def predict(
    summary: pd.DataFrame, bgnbd: Fit, gamma_gamma: Fit, settings: PredictionSettings
) -> pd.DataFrame:
    """One row per customer of `summary`: probability alive, expected purchases in 90 and 365
    days, expected order value, predicted 365-day CLV (discounted monthly) and CLV tier."""
    from pymc_marketing.clv import customer_lifetime_value

    frame = bgnbd_frame(summary)
    alive = _values(bgnbd.fitted.expected_probability_alive(data=frame))
    purchases_90 = expected_purchases(bgnbd, frame, 90)
    purchases_365 = expected_purchases(bgnbd, frame, 365)
    spend_input = pd.DataFrame(
        {
            "customer_id": frame["customer_id"],
            "frequency": frame["frequency"],
            # A customer without repeat purchases (or a non-positive repeat mean) gets the
            # population mean: individual weight p*x/(p*x+q-1) is 0 at x = 0.
            "monetary_value": summary["monetary_value"].fillna(0.0).clip(lower=0).to_numpy(),
        }
    )
    spend_input.loc[spend_input["monetary_value"] <= 0, "frequency"] = 0.0
    order_value = _values(gamma_gamma.fitted.expected_customer_spend(data=spend_input))
    monthly_discount = (1 + settings.annual_discount_rate) ** (1 / 12) - 1
    clv = _values(
        customer_lifetime_value(
            bgnbd.fitted,
            data=frame.assign(future_spend=order_value),
            future_t=12,
            discount_rate=monthly_discount,
            time_unit="W",
        )
    )
    out = pd.DataFrame(
        {
            "customer_key": summary["customer_key"].to_numpy(),
            "probability_alive": alive,
            "expected_purchases_90_days": purchases_90,
            "expected_purchases_365_days": purchases_365,
            "expected_average_order_value": order_value,
            "predicted_clv_365_days": clv,
        }
    )
    out["clv_tier"] = clv_tiers(out["predicted_clv_365_days"].to_numpy(), settings)
    return out


def clv_tiers(clv: np.ndarray, settings: PredictionSettings) -> np.ndarray:
    """high: the top `high_tier_share` of customers by predicted CLV, medium: the next
    `medium_tier_share`, low: the rest (ties at a cut-off go to the higher tier)."""
    if len(clv) == 0:
        return np.array([], dtype=object)
    high_cut = np.quantile(clv, 1 - settings.high_tier_share, method="higher")
    medium_cut = np.quantile(
        clv, 1 - settings.high_tier_share - settings.medium_tier_share, method="higher"
    )
    return np.where(clv >= high_cut, "high", np.where(clv >= medium_cut, "medium", "low"))


def prediction_problems(predictions: pd.DataFrame) -> list[str]:
    """What makes the predictions unpublishable: NaN/inf, probabilities outside [0, 1],
    negative expectations."""
    problems = []
    numeric = predictions.select_dtypes("number")
    bad = numeric.columns[~np.isfinite(numeric.to_numpy()).all(axis=0)]
    for column in bad:
        count = int((~np.isfinite(numeric[column].to_numpy())).sum())
        problems.append(f"customer_predictions.{column}: {count} NaN or infinite values")
    alive = predictions["probability_alive"]
    outside = int(((alive < 0) | (alive > 1)).sum())
    if outside:
        problems.append(f"customer_predictions.probability_alive: {outside} values outside [0, 1]")
    for column in numeric.columns.drop("probability_alive"):
        negative = int((numeric[column] < 0).sum())
        if negative:
            problems.append(f"customer_predictions.{column}: {negative} negative values")
    return problems
