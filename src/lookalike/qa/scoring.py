"""Score one table against the training data; shared state is computed once in ``Reference``."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import accuracy as acc
from . import privacy as priv
from .binning import ColumnBins, encode, fit_bins
from .columns import Column
from .correlations import cramers_v
from .discriminator import discriminate
from .metrics import (
    Accuracy,
    AccuracyScores,
    ColumnAccuracy,
    Correlations,
    Discriminator,
    DiscriminatorPair,
    Metrics,
    PairAccuracy,
    Privacy,
    Record,
    Timings,
    Utility,
)

log = logging.getLogger(__name__)

MAX_ACCURACY_ROWS = 200_000  # per table; bins and frequencies are stable far below this
DCR_SHARE_LIMIT = 0.52


def _sample(df: pd.DataFrame, n: int, rng: np.random.Generator) -> pd.DataFrame:
    return df if len(df) <= n else df.iloc[np.sort(rng.choice(len(df), n, replace=False))]


@dataclass
class Reference:
    """What every scored table is compared with: training data (and holdout) prepared once."""

    train: pd.DataFrame
    holdout: pd.DataFrame | None
    columns: list[Column]
    bins: list[ColumnBins]
    train_codes: np.ndarray
    holdout_codes: np.ndarray | None
    triples: list[tuple[int, int, int]]
    holdout_accuracy: acc.AccuracyResult | None
    encoder: priv.Encoder
    train_vectors: np.ndarray  # privacy sample, encoded, randomly ordered
    holdout_vectors: np.ndarray | None
    train_hashes: np.ndarray  # every training row
    holdout_hashes: np.ndarray | None  # every holdout row
    holdout_sample: np.ndarray | None  # row positions behind holdout_vectors
    progress: bool
    # for the DCR share: exact copies are looked up in equally many training and holdout rows
    train_exact: np.ndarray | None = None
    holdout_exact: np.ndarray | None = None
    # more (training, holdout) samples, encoded, that the DCR share is averaged over
    dcr_draws: list[tuple[np.ndarray, np.ndarray]] | None = None

    @classmethod
    def build(cls, train, holdout, columns, rng, progress) -> Reference:
        bins = fit_bins(train, columns)
        sizes = [b.size for b in bins]
        train_codes = encode(_sample(train, MAX_ACCURACY_ROWS, rng), bins)
        triples = acc.choose_triples(len(columns), rng)
        holdout_codes = holdout_acc = None
        if holdout is not None:
            holdout_codes = encode(_sample(holdout, MAX_ACCURACY_ROWS, rng), bins)
            holdout_acc = acc.accuracy(train_codes, holdout_codes, sizes, triples, progress)
        encoder = priv.Encoder(columns).fit(train)
        n = min(priv.MAX_ROWS, len(train), len(holdout) if holdout is not None else len(train))
        train_vectors = encoder.transform(train.iloc[rng.choice(len(train), n, replace=False)])
        holdout_vectors = holdout_sample = None
        if holdout is not None:
            holdout_sample = rng.choice(len(holdout), n, replace=False)
            holdout_vectors = encoder.transform(holdout.iloc[holdout_sample])
        dcr_draws = []
        if holdout is not None and max(len(train), len(holdout)) > n:  # other samples would differ
            draw = rng.spawn(1)[0]  # a stream of its own: every other figure keeps its rows
            for _ in range(priv.DCR_DRAWS - 1):
                dcr_draws.append((encoder.transform(train.iloc[draw.choice(len(train), n, replace=False)]),
                                  encoder.transform(holdout.iloc[draw.choice(len(holdout), n, replace=False)])))
        train_hashes = priv.row_hashes(train, columns)
        holdout_hashes = priv.row_hashes(holdout, columns) if holdout is not None else None
        train_exact = holdout_exact = None
        if holdout is not None:
            m = min(len(train), len(holdout))
            train_exact = train_hashes[rng.choice(len(train), m, replace=False)]
            holdout_exact = holdout_hashes[rng.choice(len(holdout), m, replace=False)]
        return cls(
            train=train,
            holdout=holdout,
            columns=columns,
            bins=bins,
            train_codes=train_codes,
            holdout_codes=holdout_codes,
            triples=triples,
            holdout_accuracy=holdout_acc,
            encoder=encoder,
            train_vectors=train_vectors,
            holdout_vectors=holdout_vectors,
            train_hashes=train_hashes,
            holdout_hashes=holdout_hashes,
            holdout_sample=holdout_sample,
            progress=progress,
            train_exact=train_exact,
            holdout_exact=holdout_exact,
            dcr_draws=dcr_draws,
        )

    @property
    def sizes(self) -> list[int]:
        return [b.size for b in self.bins]


@dataclass
class Part:
    """One scored table: its metrics and the evidence the HTML plots."""

    metrics: Metrics
    codes: np.ndarray
    accuracy: acc.AccuracyResult
    dcr_synthetic: np.ndarray  # synthetic → training
    dcr_synthetic_holdout: np.ndarray | None  # synthetic → holdout
    dcr_holdout: np.ndarray | None  # holdout → training


def score(
    synthetic: pd.DataFrame,
    ref: Reference,
    target: str | None,
    seed: int,
    rng: np.random.Generator,
    progress: bool,
    title: str,
    rows: dict[str, int],
    attacks: bool = True,
) -> Part:
    """All metrics of ``synthetic`` against the reference; ``attacks=False`` skips the
    privacy attack suite (the slowest privacy part)."""
    from tqdm.auto import tqdm

    timings = Timings()
    notes: list[str] = []
    steps = tqdm(total=6, desc=title, disable=not progress, leave=False)
    steps.set_postfix_str("accuracy")

    t = time.perf_counter()
    codes = encode(_sample(synthetic, MAX_ACCURACY_ROWS, rng), ref.bins)
    result = acc.accuracy(ref.train_codes, codes, ref.sizes, ref.triples, progress)
    accuracy = _accuracy_model(result, ref)
    if ref.holdout is None:
        notes.append("No holdout given: the accuracy reference, DCR share and ML utility are omitted.")
    timings.accuracy = time.perf_counter() - t
    steps.update()
    steps.set_postfix_str("privacy")

    t = time.perf_counter()
    privacy, dcr_syn, dcr_syn_hold, dcr_hold = _privacy(synthetic, ref, rng)
    timings.privacy = time.perf_counter() - t
    steps.update()
    steps.set_postfix_str("privacy attacks")

    t = time.perf_counter()
    if attacks:
        _attacks(privacy, synthetic, ref, target, seed)
    else:
        privacy.attacks_skipped = "The privacy attacks were turned off (attacks=False, CLI --no-attacks)."
    timings.attacks = time.perf_counter() - t
    steps.update()
    steps.set_postfix_str("discriminator")

    t = time.perf_counter()
    disc = discriminate(ref.train, synthetic, ref.columns, rng, seed)
    discriminator, disc_columns, disc_pairs = None, {}, []
    if disc is None:
        notes.append("Too few rows to train the discriminator; omitted.")
    else:
        discriminator = Discriminator(
            auc=disc.auc,
            rows_per_class=disc.n_rows,
            most_fake=_records(disc.most_fake, disc.fake_scores),
            most_real=_records(disc.most_real, disc.real_scores),
        )
        disc_columns = disc.column_auc
        disc_pairs = [
            DiscriminatorPair(columns=(a, b), auc=auc, lift=round(auc - max(disc_columns[a], disc_columns[b]), 4))
            for a, b, auc in disc.pair_auc
        ]
    timings.discriminator = time.perf_counter() - t
    steps.update()
    steps.set_postfix_str("ML utility")

    t = time.perf_counter()
    utility = None
    if target is not None and ref.holdout is not None:
        from .utility import utility as run_utility

        u = run_utility(ref.train, synthetic, ref.holdout, ref.columns, target, rng, seed)
        utility = Utility(target=target, **u.__dict__)
    elif target is not None:
        notes.append(f"ML utility for target '{target}' needs a holdout to score on; omitted.")
    timings.utility = time.perf_counter() - t
    steps.update()
    steps.set_postfix_str("correlations")

    t = time.perf_counter()
    v_train, v_syn = cramers_v(ref.train_codes, ref.sizes), cramers_v(codes, ref.sizes)
    correlations = Correlations(
        columns=[c.name for c in ref.columns],
        train=np.round(v_train, 4).tolist(),
        synthetic=np.round(v_syn, 4).tolist(),
        mean_abs_difference=float(np.abs(v_train - v_syn)[np.triu_indices(len(ref.columns), 1)].mean())
        if len(ref.columns) > 1
        else 0.0,
    )
    timings.correlations = time.perf_counter() - t
    steps.update()
    steps.close()

    metrics = Metrics(
        title=title,
        rows=dict(rows),
        accuracy=accuracy,
        privacy=privacy,
        discriminator=discriminator,
        discriminator_columns=disc_columns,
        discriminator_pairs=disc_pairs,
        utility=utility,
        correlations=correlations,
        notes=notes,
        seed=seed,
        timings=timings,
    )
    return Part(metrics, codes, result, dcr_syn, dcr_syn_hold, dcr_hold)


def _scores(r: acc.AccuracyResult) -> AccuracyScores:
    return AccuracyScores(
        overall=r.overall,
        univariate=float(r.univariate.mean()),
        bivariate=r.mean_bivariate,
        trivariate=r.mean_trivariate,
    )


def _accuracy_model(r: acc.AccuracyResult, ref: Reference) -> Accuracy:
    p = len(ref.columns)
    col_bi = r.column_bivariate(p)
    h = ref.holdout_accuracy
    h_bi = h.column_bivariate(p) if h is not None else None
    columns = [
        ColumnAccuracy(
            column=c.name,
            kind=c.kind,
            univariate=float(r.univariate[j]),
            bivariate=float(col_bi[j]),
            reference_univariate=float(h.univariate[j]) if h is not None else None,
            reference_bivariate=float(h_bi[j]) if h_bi is not None else None,
        )
        for j, c in enumerate(ref.columns)
    ]
    pairs = [
        PairAccuracy(columns=(ref.columns[i].name, ref.columns[j].name), accuracy=float(a))
        for (i, j), a in zip(r.pairs, r.bivariate)
    ]
    return Accuracy(
        **_scores(r).model_dump(),
        reference=_scores(h) if h is not None else None,
        columns=columns,
        pairs=pairs,
        n_triples=len(ref.triples),
    )


def _privacy(synthetic: pd.DataFrame, ref: Reference, rng: np.random.Generator):
    n = min(len(ref.train_vectors), len(synthetic))
    sample = rng.choice(len(synthetic), n, replace=False)
    syn_vectors = ref.encoder.transform(synthetic.iloc[sample])
    train_vectors = ref.train_vectors[:n]  # rows are in random order, so a prefix is a sample
    syn_hashes = priv.row_hashes(synthetic, ref.columns)
    identical = priv.identical_share(syn_hashes, ref.train_hashes)
    # exact copies are found in the full tables by hashing, nearest neighbours in the samples
    syn_to_train = priv.nearest(syn_vectors, train_vectors)
    to_train = syn_to_train.with_exact(np.isin(syn_hashes[sample], ref.train_hashes))
    fields: dict = {}
    dcr_syn_hold = dcr_hold = None
    reasons: list[str] = []
    if ref.holdout_vectors is not None:
        holdout_vectors = ref.holdout_vectors[:n]
        hold_hashes = ref.holdout_hashes[ref.holdout_sample[:n]]
        to_holdout = priv.nearest(syn_vectors, holdout_vectors).with_exact(
            np.isin(syn_hashes[sample], ref.holdout_exact)
        )
        to_train_eq = syn_to_train.with_exact(np.isin(syn_hashes[sample], ref.train_exact))
        hold_to_train = priv.nearest(holdout_vectors, train_vectors).with_exact(
            np.isin(hold_hashes, ref.train_hashes)
        )
        shares = [priv.dcr_share(to_train_eq.nearest, to_holdout.nearest)]
        draw = rng.spawn(1)[0]
        for train_k, holdout_k in ref.dcr_draws or []:  # the same share on other samples: less noise
            pick = draw.choice(len(synthetic), n, replace=False)
            vectors, copied = ref.encoder.transform(synthetic.iloc[pick]), syn_hashes[pick]
            shares.append(priv.dcr_share(
                priv.nearest(vectors, train_k[:n]).with_exact(np.isin(copied, ref.train_exact)).nearest,
                priv.nearest(vectors, holdout_k[:n]).with_exact(np.isin(copied, ref.holdout_exact)).nearest))
        share = float(np.mean(shares))
        hold_identical = priv.identical_share(ref.holdout_hashes, ref.train_hashes)
        fields = dict(
            dcr_share=share,
            holdout_dcr_p5=float(np.percentile(hold_to_train.nearest, 5)),
            holdout_nndr_p5=float(np.percentile(hold_to_train.nndr, 5)),
            holdout_identical_share=hold_identical,
        )
        dcr_syn_hold, dcr_hold = to_holdout.nearest, hold_to_train.nearest
        if share > DCR_SHARE_LIMIT:
            reasons.append(
                f"{share:.1%} of synthetic rows are closer to a training row than to a holdout row "
                f"(above {DCR_SHARE_LIMIT:.0%}): the generator may have memorised training rows"
            )
        # sampling noise allowance: holdout rows repeat training rows by chance too
        if identical > 1.5 * hold_identical + 0.002:
            reasons.append(
                f"{identical:.1%} of synthetic rows copy a training row, against {hold_identical:.1%} "
                "of holdout rows"
            )
    elif identical > 0.05:
        reasons.append(f"{identical:.1%} of synthetic rows copy a training row (no holdout to compare with)")
    privacy = Privacy(
        sample_size=n,
        dcr_p5=float(np.percentile(to_train.nearest, 5)),
        nndr_p5=float(np.percentile(to_train.nndr, 5)),
        identical_share=identical,
        flag=bool(reasons),
        flag_reasons=reasons,
        **fields,
    )
    return privacy, to_train.nearest, dcr_syn_hold, dcr_hold


def _attacks(privacy: Privacy, synthetic: pd.DataFrame, ref: Reference, target: str | None, seed: int) -> None:
    """Run the attack suite with held-out rows as the control; a high risk flags privacy."""
    from ..privacy.attacks import run_attacks, skip_reason

    reason = skip_reason(synthetic, ref.train, ref.holdout)
    if reason is not None:
        privacy.attacks_skipped = reason
        return
    log.info("running the privacy attacks")
    a = run_attacks(synthetic, ref.train, ref.holdout, ref.columns, target=target, seed=seed, encoder=ref.encoder)
    privacy.attacks = a
    named = [("singling out", a.singling_out), ("singling out (one column)", a.singling_out_univariate),
             ("linkability", a.linkability)]
    if a.inference is not None:
        high = [c for c in a.inference.columns if c.verdict == "high"]
        if high:
            named.append((f"attribute inference ({len(high)} of {len(a.inference.columns)} secret column(s) at high "
                          f"risk; worst '{high[0].column}')", high[0]))
    for name, r in named:
        if r is not None and r.verdict == "high":
            privacy.flag_reasons.append(
                f"{name}: risk {r.risk:.2f} (95% interval {r.ci_low:.2f}-{r.ci_high:.2f}); the attack succeeds on "
                f"{r.attack_rate:.1%} of training rows against {r.control_rate:.1%} of unseen rows")
    m = a.membership
    if m is not None and m.verdict == "high":
        privacy.flag_reasons.append(
            f"membership inference: AUC {m.auc:.3f} (95% interval {m.ci_low:.3f}-{m.ci_high:.3f}); training rows sit "
            "closer to the synthetic rows than unseen rows do")
    privacy.flag = bool(privacy.flag_reasons)


def _records(rows: pd.DataFrame, scores: np.ndarray) -> list[Record]:
    out = []
    for (_, row), s in zip(rows.iterrows(), scores):
        values = {str(k): (None if pd.isna(v) else str(v)) for k, v in row.items()}
        out.append(Record(score=float(s), values=values))
    return out
