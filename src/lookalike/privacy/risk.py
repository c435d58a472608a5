"""The typed results of the attack suite, and the interval maths behind them.

An attack's *risk* is the share of what it could still get wrong that the synthetic data
lets it get right beyond the control: ``(attack - control) / (1 - control)``, clipped at 0.
Its 95% interval propagates the Wilson intervals of both rates to their difference
(Newcombe's hybrid score interval, the standard one for two independent proportions),
scaled like the risk: wide when attempts are few or the control is near 1.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, Field

Verdict = Literal["low", "moderate", "high"]

Z95 = 1.959963984540054  # two-sided 95%
LOW_RISK = 0.05  # a risk at most this, ...
LOW_RISK_UPPER = 0.10  # ... with its interval's upper end at most this, is low
HIGH_RISK_LOWER = 0.10  # an interval whose lower end reaches this is high
LOW_AUC, LOW_AUC_UPPER, HIGH_AUC_LOWER = 0.55, 0.60, 0.60  # the same for membership AUC


def wilson(successes: int, attempts: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a success rate; (0, 1) when there were no attempts."""
    if attempts <= 0:
        return 0.0, 1.0
    p = successes / attempts
    denom = 1 + z * z / attempts
    centre = (p + z * z / (2 * attempts)) / denom
    half = z * math.sqrt(p * (1 - p) / attempts + z * z / (4 * attempts * attempts)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def _unit(x: float) -> float:
    return min(1.0, max(0.0, x))


def risk_interval(attack_successes: int, control_successes: int, attempts: int) -> tuple[float, float, float]:
    """The risk and its 95% interval: Newcombe's interval of attack - control (each rate's
    Wilson interval, combined in quadrature), divided by 1 - control, clipped to 0..1."""
    if attempts <= 0:
        return 0.0, 0.0, 1.0
    a, c = attack_successes / attempts, control_successes / attempts
    if c >= 1.0:
        return 0.0, 0.0, 0.0  # the control always succeeds: nothing left for the synthetic data to add
    a_lo, a_hi = wilson(attack_successes, attempts)
    c_lo, c_hi = wilson(control_successes, attempts)
    diff = a - c
    low = diff - math.sqrt((a - a_lo) ** 2 + (c_hi - c) ** 2)
    high = diff + math.sqrt((a_hi - a) ** 2 + (c - c_lo) ** 2)
    room = 1.0 - c
    return _unit(diff / room), _unit(low / room), _unit(high / room)


def verdict(risk: float, ci_low: float, ci_high: float) -> Verdict:
    if ci_low >= HIGH_RISK_LOWER:
        return "high"
    if risk <= LOW_RISK and ci_high <= LOW_RISK_UPPER:
        return "low"
    return "moderate"


class AttackRisk(BaseModel):
    """One attack against training rows beside the same attack against control rows."""

    attack_rate: float = Field(description="success rate against training rows")
    control_rate: float = Field(description="success rate against held-out (control) rows")
    risk: float = Field(description="(attack - control) / (1 - control), clipped at 0; 0 ideal")
    ci_low: float = Field(description="95% interval of the risk (Newcombe: both rates' Wilson intervals, propagated)")
    ci_high: float
    attempts: int = Field(description="attempts against each of the training and control rows")
    verdict: Verdict = Field(description="low: risk <= 0.05 and upper end <= 0.10; high: lower end >= 0.10")

    @classmethod
    def from_counts(cls, attack_successes: int, control_successes: int, attempts: int, **extra) -> AttackRisk:
        a = attack_successes / attempts if attempts else 0.0
        c = control_successes / attempts if attempts else 0.0
        risk, lo, hi = risk_interval(attack_successes, control_successes, attempts)
        return cls(attack_rate=a, control_rate=c, risk=risk, ci_low=lo, ci_high=hi, attempts=attempts,
                   verdict=verdict(risk, lo, hi), **extra)


class LinkabilityRisk(AttackRisk):
    """Re-joining the two halves of a person's row through the synthetic rows."""

    columns_a: list[str]
    columns_b: list[str]
    neighbours: int = Field(description="k: success when the k nearest synthetic rows of both halves share one")


class ColumnInference(AttackRisk):
    """Guessing one column (the secret) of a real row from its nearest synthetic row."""

    column: str


class InferenceRisk(BaseModel):
    """Attribute inference, one secret column at a time, and pooled over the columns.

    The headline is the pooled attack (every guess of every secret column counts as one
    attempt): a column's own interval is wide where the control already guesses right
    most of the time (risk divides by 1 - control), and the largest of many noisy
    per-column figures overstates the risk. A column whose own interval shows a leak
    (lower end >= 0.10) still makes the verdict high."""

    pooled: AttackRisk = Field(description="all secret columns' guesses together")
    columns: list[ColumnInference] = Field(description="per secret column, highest risk first")
    max_risk: float
    mean_risk: float
    worst_column: str
    verdict: Verdict = Field(description="high if the pooled attack or any column is high, else the pooled verdict")


class MembershipRisk(BaseModel):
    """Telling training rows from held-out rows by their distance to the nearest synthetic row."""

    auc: float = Field(description="P(a training row is closer than a held-out row); 0.5 ideal")
    ci_low: float = Field(description="95% interval of the AUC (Hanley-McNeil)")
    ci_high: float
    advantage: float = Field(description="2 AUC - 1, clipped at 0: the attacker's edge over a coin flip")
    attempts: int = Field(description="training rows scored, and as many held-out rows")
    verdict: Verdict = Field(description="low: AUC <= 0.55 and upper end <= 0.60; high: lower end >= 0.60")


class Attacks(BaseModel):
    """The attack suite: what the synthetic data adds to an attacker's odds against the
    training rows, beyond what it reveals about similar people it never saw."""

    population: int = Field(description="rows per side for singling out: training rows and as many control rows")
    singling_out: AttackRisk | None = Field(
        None, description="multivariate predicates isolating one synthetic row, tried on the real rows")
    singling_out_univariate: AttackRisk | None = Field(
        None, description="one-column predicates: rare values and extremes of the synthetic data")
    linkability: LinkabilityRisk | None = None
    inference: InferenceRisk | None = None
    membership: MembershipRisk | None = None
    verdict: Verdict = Field(description="the worst verdict of the attacks")
    notes: list[str] = Field(default_factory=list)


def membership_risk(auc: float, positives: int, negatives: int) -> MembershipRisk:
    """The AUC with its Hanley-McNeil interval and verdict."""
    a = min(max(auc, 1e-9), 1 - 1e-9)
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    var = (a * (1 - a) + (positives - 1) * (q1 - a * a) + (negatives - 1) * (q2 - a * a))
    var /= max(1, positives * negatives)
    half = Z95 * math.sqrt(max(var, 0.0))
    lo, hi = max(0.0, auc - half), min(1.0, auc + half)
    if lo >= HIGH_AUC_LOWER:
        v: Verdict = "high"
    elif auc <= LOW_AUC and hi <= LOW_AUC_UPPER:
        v = "low"
    else:
        v = "moderate"
    return MembershipRisk(auc=auc, ci_low=lo, ci_high=hi, advantage=max(0.0, 2 * auc - 1), attempts=positives,
                          verdict=v)


def worst(verdicts: list[Verdict]) -> Verdict:
    order = ("low", "moderate", "high")
    return max(verdicts, key=order.index) if verdicts else "low"
