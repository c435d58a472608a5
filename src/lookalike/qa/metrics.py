"""The typed result of a QA report: what ``report`` returns and writes as JSON."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from ..privacy.risk import Attacks
from .privacy import DCR_DRAWS


class AccuracyScores(BaseModel):
    """Accuracy (1 - total variation distance of binned distributions), 0..1, higher is closer."""

    overall: float = Field(description="mean of univariate and bivariate")
    univariate: float
    bivariate: float
    trivariate: float


class ColumnAccuracy(BaseModel):
    column: str
    kind: Literal["numeric", "datetime", "categorical"]
    univariate: float
    bivariate: float = Field(description="mean accuracy of the pairs this column is part of")
    reference_univariate: float | None = Field(None, description="holdout vs training")
    reference_bivariate: float | None = None


class PairAccuracy(BaseModel):
    columns: tuple[str, str]
    accuracy: float


class Accuracy(AccuracyScores):
    """Synthetic vs training; ``reference`` is holdout vs training, the best to expect."""

    reference: AccuracyScores | None = None
    columns: list[ColumnAccuracy]
    pairs: list[PairAccuracy]
    n_triples: int


class Privacy(BaseModel):
    """Distances to the closest record (DCR) on equal-size samples, scale-free encoding."""

    sample_size: int
    dcr_share: float | None = Field(
        None, description="share of synthetic rows closer to training than to holdout (the mean over "
        f"{DCR_DRAWS} samples of sample_size rows when a table is larger); 0.5 ideal"
    )
    dcr_p5: float = Field(description="5th percentile of synthetic→training DCR")
    holdout_dcr_p5: float | None = Field(None, description="5th percentile of holdout→training DCR")
    nndr_p5: float = Field(description="5th percentile of nearest/second-nearest distance ratio, synthetic→training")
    holdout_nndr_p5: float | None = None
    identical_share: float = Field(description="share of synthetic rows identical to a training row")
    holdout_identical_share: float | None = None
    flag: bool = Field(False, description="True when the synthetic data looks too close to its training rows")
    flag_reasons: list[str] = Field(default_factory=list)
    attacks: Attacks | None = Field(
        None, description="the attack suite: singling out, linkability, attribute and membership inference, "
        "each against training rows beside held-out control rows")
    attacks_skipped: str | None = Field(None, description="why the attacks did not run, when they did not")


class Record(BaseModel):
    """One row shown in the report, values as text; score = P(synthetic) by the discriminator."""

    score: float
    values: dict[str, str | None]


class Discriminator(BaseModel):
    auc: float = Field(description="AUC of LightGBM telling training from synthetic rows; 0.5 ideal")
    rows_per_class: int
    most_fake: list[Record]
    most_real: list[Record]


class DiscriminatorPair(BaseModel):
    """A classifier that sees two columns only: what their combination gives away."""

    columns: tuple[str, str]
    auc: float = Field(description="held-out AUC of a LightGBM that sees only these two columns; 0.5 ideal")
    lift: float = Field(
        description="AUC above the better of the two columns alone: how much the combination, "
        "not either column, gives the synthetic data away"
    )


class Utility(BaseModel):
    target: str
    task: Literal["binary", "multiclass", "regression"]
    metric: Literal["auc", "accuracy", "r2"]
    synthetic: float = Field(description="trained on synthetic, scored on holdout")
    reference: float = Field(description="trained on training, scored on holdout")
    synthetic_f1_macro: float | None = None
    reference_f1_macro: float | None = None


class Correlations(BaseModel):
    """Cramér's V between binned columns, training beside synthetic."""

    columns: list[str]
    train: list[list[float]]
    synthetic: list[list[float]]
    mean_abs_difference: float


class TextScores(BaseModel):
    """One text column of one table against the training texts; shares and accuracies 0..1."""

    null_share: float
    non_empty_share: float = Field(description="share of non-null texts with more than white space")
    length_accuracy: float = Field(description="1 - TVD of character lengths in 10 quantile bins fitted on training")
    term_accuracy: float = Field(
        description="1 - TVD of lowercase word frequencies: the top 1,000 training terms and 'other'")
    exact_match_share: float = Field(description="share of non-null texts identical to a training text")
    unique_share: float = Field(description="distinct texts / non-null texts")
    distinct_2: float = Field(description="distinct word bigrams / all word bigrams")
    mean_length: float = Field(description="mean length in characters")
    term_median_accuracy: float | None = Field(
        default=None, description="text ↔ numbers: share of (frequent term, numeric column) pairs whose median "
        "over the rows with the term is within ±10% of the training figure")
    classifier_accuracy: float | None = Field(
        default=None, description="text ↔ categories: accuracy of a naive Bayes classifier predicting each "
        "categorical column from the text, trained on this table, tested on the holdout (mean over columns)")


class TextMetrics(TextScores):
    """The synthetic table's figures; ``reference`` is the holdout's, the best to expect."""

    reference: TextScores | None = None
    samples: list[str] = Field(default_factory=list, description="a few synthetic texts")
    real_samples: list[str] = Field(default_factory=list, description="as many holdout texts")


class Timings(BaseModel):
    """Seconds per step."""

    accuracy: float = 0.0
    privacy: float = 0.0
    discriminator: float = 0.0
    utility: float = 0.0
    correlations: float = 0.0
    text: float = 0.0
    attacks: float = 0.0
    html: float = 0.0
    total: float = 0.0


class Metrics(BaseModel):
    """Everything the QA report measured. ``model`` holds the model's own unconditional
    sample scored the same way, when the synthetic table was conditioned."""

    title: str
    rows: dict[str, int] = Field(description="rows per table: train, synthetic, holdout, model_sample")
    accuracy: Accuracy
    privacy: Privacy
    discriminator: Discriminator | None = None
    discriminator_columns: dict[str, float] = Field(
        default_factory=dict,
        description="what gives the synthetic data away: column → held-out AUC of a LightGBM that sees "
        "only that column (0.5 = indistinguishable), for the columns the discriminator uses most, "
        "highest first",
    )
    discriminator_pairs: list[DiscriminatorPair] = Field(
        default_factory=list, description="two-column classifiers among the top columns, highest AUC first"
    )
    utility: Utility | None = None
    correlations: Correlations
    text: dict[str, TextMetrics] | None = Field(
        None, description="free-text columns: column → figures beside the holdout's; None without text columns")
    model: Metrics | None = Field(None, description="Model QA: the model's unconditional sample vs training")
    settings: dict[str, Any] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)
    seed: int = 0
    timings: Timings = Field(default_factory=Timings)
