"""Render the QA report as one self-contained HTML file (plotly inlined, no network)."""

from __future__ import annotations

import datetime as _dt
import html
import json

import numpy as np

from ._optional import require
from .accuracy import frequencies
from .metrics import Metrics, Record
from .privacy import DCR_DRAWS
from .scoring import Part, Reference

TRAIN_COLOR, SYN_COLOR, HOLD_COLOR = "#7f8c8d", "#2a7ae2", "#e67e22"

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;margin:0;color:#222;background:#f6f7f9}
main{max-width:1200px;margin:0 auto;padding:24px}
h1{margin:0 0 4px}h2{margin-top:40px;border-bottom:2px solid #dde;padding-bottom:4px}h3{margin-top:24px}
.sub{color:#666;margin-bottom:16px}
.cards{display:flex;flex-wrap:wrap;gap:12px}
.card{background:#fff;border:1px solid #dde;border-radius:8px;padding:12px 16px;min-width:150px}
.card .v{font-size:26px;font-weight:600}.card .l{color:#555;font-size:13px}.card .r{color:#888;font-size:12px}
.flag{background:#fdecea;border:1px solid #e74c3c;color:#922;padding:10px 14px;border-radius:6px;margin:12px 0}
.ok{background:#eafaf1;border:1px solid #27ae60;color:#1e6b3a;padding:10px 14px;border-radius:6px;margin:12px 0}
.note{background:#fff8e1;border:1px solid #f0c36d;padding:8px 12px;border-radius:6px;margin:8px 0}
table{border-collapse:collapse;background:#fff;font-size:13px;margin:8px 0}
th,td{border:1px solid #dde;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#eef0f4}td.n{text-align:right;font-variant-numeric:tabular-nums}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(360px,1fr));gap:8px}
.fig{background:#fff;border:1px solid #dde;border-radius:6px}
.scroll{overflow-x:auto}
.part{border-left:4px solid #2a7ae2;padding-left:16px;margin-top:32px}
.hint{color:#555;font-size:13px;margin:4px 0}
.bar{width:220px;height:10px;background:#eef0f4;border-radius:5px;overflow:hidden}
.bar span{display:block;height:100%;background:#2a7ae2}
tr.top td{background:#fdecea;font-weight:600}tr.top .bar span{background:#e74c3c}
td.v-low{background:#eafaf1;color:#1e6b3a;font-weight:600}td.v-moderate{background:#fff8e1;color:#8a6d1a;font-weight:600}
td.v-high{background:#fdecea;color:#922;font-weight:600}td.ci{white-space:nowrap}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _pct(x: float | None) -> str:
    return "–" if x is None or not np.isfinite(x) else f"{x:.1%}"


def _num(x: float | None, digits: int = 3) -> str:
    return "–" if x is None or not np.isfinite(x) else f"{x:.{digits}f}"


def _safe_label(s: str) -> str:
    # plotly treats some tags in labels as markup; show data values literally
    return str(s).replace("<", "‹").replace(">", "›")


class _Figures:
    """Turns plotly figures into HTML, inlining plotly.js with the first one only."""

    def __init__(self):
        self.pio = require("plotly.io")
        self.go = require("plotly.graph_objects")
        self.subplots = require("plotly.subplots")
        self._js_done = False

    def html(self, fig) -> str:
        fig.update_layout(template="plotly_white", margin=dict(l=40, r=10, t=40, b=40), font=dict(size=11))
        div = self.pio.to_html(
            fig,
            full_html=False,
            include_plotlyjs=not self._js_done,
            config={"displayModeBar": False, "responsive": True},
        )
        self._js_done = True
        return f'<div class="fig">{div}</div>'


def render(data: Part, model: Part | None, ref: Reference, metrics: Metrics) -> str:
    """The whole report page."""
    figs = _Figures()
    dp = ((metrics.settings or {}).get("training") or {}).get("differential_privacy")
    body = [
        f"<h1>{_e(metrics.title)}</h1>",
        f'<div class="sub">lookalike QA report · generated {_e(_dt.datetime.now().strftime("%Y-%m-%d %H:%M"))} · '
        + " · ".join(f"{_e(k)}: {v:,} rows" for k, v in metrics.rows.items())
        + f" · {len(ref.columns)} columns · seed {metrics.seed}</div>",
    ]
    body += [f'<div class="note">{_e(n)}</div>' for n in metrics.notes]
    if metrics.settings:
        body.append("<h2>Settings</h2>" + _kv_table(metrics.settings))
    if model is not None:
        body.append(
            '<div class="note">The synthetic table was conditioned (seeded, imputed or rebalanced). '
            "<b>Model QA</b> scores the model's own unconditional sample against the training data; "
            "<b>Data QA</b> scores the delivered table, whose distributions differ on purpose.</div>"
        )
        body.append('<div class="part"><h2>Model QA: model sample vs training</h2>')
        body += _part(model, ref, figs, prefix="model", dp=dp)
        body.append("</div>")
        body.append('<div class="part"><h2>Data QA: synthetic table vs training</h2>')
        body += _part(data, ref, figs, prefix="data", dp=dp)
        body.append("</div>")
    else:
        body += _part(data, ref, figs, prefix="data", dp=dp)
    page = "\n".join(body)
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>{_e(metrics.title)}</title><style>{CSS}</style></head>"
        f"<body><main>\n{page}\n</main></body></html>\n"
    )


def _part(part: Part, ref: Reference, figs: _Figures, prefix: str, dp: dict | None = None) -> list[str]:
    m = part.metrics
    out = ["<h2>Summary</h2>", _summary(m)]
    out += ["<h2>Accuracy per column</h2>", "<p>Worst first, by mean bivariate accuracy.</p>", _column_table(m)]
    out += ["<h2>Univariate distributions</h2>", _univariate(part, ref, figs)]
    out += ["<h2>Bivariate distributions</h2>", _bivariate(part, ref, figs)]
    if m.text:
        out += ["<h2>Text</h2>", _text(m)]
    out += ["<h2>Privacy</h2>", _dp_line(dp) + _privacy(part, figs)]
    if m.discriminator is not None:
        out += ["<h2>Discriminator</h2>", _discriminator(m)]
    if m.utility is not None:
        out += ["<h2>ML utility</h2>", _utility(m)]
    out += ["<h2>Correlations</h2>", _correlations(m, figs)]
    return out


def _card(label: str, value: str, ref: str = "") -> str:
    r = f'<div class="r">{_e(ref)}</div>' if ref else ""
    return f'<div class="card"><div class="l">{_e(label)}</div><div class="v">{_e(value)}</div>{r}</div>'


def _summary(m: Metrics) -> str:
    a, p, d, u = m.accuracy, m.privacy, m.discriminator, m.utility
    href = a.reference

    def ref_of(name: str) -> str:
        return f"holdout: {_pct(getattr(href, name))}" if href is not None else "no holdout"

    cards = [
        _card("Accuracy (overall)", _pct(a.overall), ref_of("overall")),
        _card("Univariate", _pct(a.univariate), ref_of("univariate")),
        _card("Bivariate", _pct(a.bivariate), ref_of("bivariate")),
        _card("Trivariate", _pct(a.trivariate), ref_of("trivariate")),
        _card("DCR share (train vs holdout)", _num(p.dcr_share) if p.dcr_share is not None else "–",
              "ideal 0.5; flagged above 0.52" if p.dcr_share is not None else "needs a holdout"),
        _card("Identical to a training row", _pct(p.identical_share),
              f"holdout: {_pct(p.holdout_identical_share)}" if p.holdout_identical_share is not None else ""),
    ]
    if p.attacks is not None:
        cards.append(_card("Privacy attacks", p.attacks.verdict, "worst verdict of the attack suite"))
    if d is not None:
        top = next(iter(m.discriminator_columns.items()), None)
        hint = f"ideal 0.5 · most telling: {top[0]} ({top[1]:.2f})" if top else "ideal 0.5"
        cards.append(_card("Discriminator AUC", _num(d.auc, 2), hint))
    if u is not None:
        cards.append(_card(f"ML utility ({u.metric}, {u.target})", _num(u.synthetic), f"trained on train: {_num(u.reference)}"))
    if p.flag:
        banner = '<div class="flag"><b>Privacy check failed.</b><ul>' + "".join(
            f"<li>{_e(r)}</li>" for r in p.flag_reasons
        ) + "</ul></div>"
    else:
        banner = '<div class="ok">Privacy check passed: synthetic rows are no closer to the training rows than unseen rows are.</div>'
    return banner + '<div class="cards">' + "".join(cards) + "</div>"


def _kv_table(d: dict) -> str:
    rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(json.dumps(v, default=str))}</td></tr>" for k, v in d.items())
    return f"<table>{rows}</table>"


def _column_table(m: Metrics) -> str:
    head = "<tr><th>column</th><th>kind</th><th>univariate</th><th>bivariate (mean)</th>"
    has_ref = m.accuracy.reference is not None
    if has_ref:
        head += "<th>holdout univariate</th><th>holdout bivariate</th>"
    rows = []
    for c in sorted(m.accuracy.columns, key=lambda c: c.bivariate):
        r = f"<tr><td>{_e(c.column)}</td><td>{_e(c.kind)}</td><td class='n'>{_pct(c.univariate)}</td><td class='n'>{_pct(c.bivariate)}</td>"
        if has_ref:
            r += f"<td class='n'>{_pct(c.reference_univariate)}</td><td class='n'>{_pct(c.reference_bivariate)}</td>"
        rows.append(r + "</tr>")
    return f"<div class='scroll'><table>{head}</tr>{''.join(rows)}</table></div>"


def _univariate(part: Part, ref: Reference, figs: _Figures) -> str:
    go = figs.go
    divs = []
    for j, b in enumerate(ref.bins):
        f_trn = frequencies(ref.train_codes, ref.sizes, (j,))
        f_syn = frequencies(part.codes, ref.sizes, (j,))
        keep = (f_trn > 0) | (f_syn > 0)
        labels = [_safe_label(lb) for lb, k in zip(b.labels, keep) if k]
        fig = go.Figure(
            [
                go.Bar(name="train", x=labels, y=f_trn[keep], marker_color=TRAIN_COLOR),
                go.Bar(name="synthetic", x=labels, y=f_syn[keep], marker_color=SYN_COLOR),
            ]
        )
        acc = part.metrics.accuracy.columns[j].univariate
        fig.update_layout(
            title=f"{_safe_label(b.column.name)} · {acc:.1%}", height=280, barmode="group",
            yaxis_tickformat=".0%", legend=dict(orientation="h", y=1.12, x=1, xanchor="right"),
        )
        divs.append(figs.html(fig))
    return '<div class="grid">' + "".join(divs) + "</div>"


def _bivariate(part: Part, ref: Reference, figs: _Figures) -> str:
    pairs = part.metrics.accuracy.pairs
    if not pairs:
        return "<p>Only one column: no pairs.</p>"
    # pairs of a column with a single occupied bin say nothing; show them only if nothing else
    occupied = [(np.bincount(ref.train_codes[:, j], minlength=s) > 0).sum() for j, s in enumerate(ref.sizes)]
    informative = [k for k, (i, j) in enumerate(part.accuracy.pairs) if occupied[i] > 1 and occupied[j] > 1]
    candidates = informative or list(range(len(pairs)))
    order = sorted(candidates, key=lambda k: (pairs[k].accuracy, k))
    worst = order[:3]
    best = [k for k in order[::-1][:3] if k not in worst]
    out = []
    for heading, chosen in (("Best pairs", best), ("Worst pairs", worst)):
        if not chosen:
            continue
        out.append(f"<h3>{heading}</h3>")
        for k in chosen:
            i, j = part.accuracy.pairs[k]
            out.append(_heatmap_pair(part, ref, figs, i, j, pairs[k].accuracy))
    return "".join(out)


def _heatmap_pair(part: Part, ref: Reference, figs: _Figures, i: int, j: int, accuracy: float) -> str:
    go, sp = figs.go, figs.subplots
    si, sj = ref.sizes[i], ref.sizes[j]
    f_trn = frequencies(ref.train_codes, ref.sizes, (i, j)).reshape(si, sj)
    f_syn = frequencies(part.codes, ref.sizes, (i, j)).reshape(si, sj)
    rows = (f_trn.sum(1) > 0) | (f_syn.sum(1) > 0)
    cols = (f_trn.sum(0) > 0) | (f_syn.sum(0) > 0)
    y = [_safe_label(lb) for lb, k in zip(ref.bins[i].labels, rows) if k]
    x = [_safe_label(lb) for lb, k in zip(ref.bins[j].labels, cols) if k]
    zmax = float(max(f_trn.max(), f_syn.max()))
    fig = sp.make_subplots(rows=1, cols=2, subplot_titles=("train", "synthetic"), horizontal_spacing=0.12)
    for c, f in enumerate((f_trn, f_syn), start=1):
        fig.add_trace(
            go.Heatmap(z=f[rows][:, cols], x=x, y=y, zmin=0, zmax=zmax, colorscale="Blues", showscale=c == 2,
                       hovertemplate="%{y} × %{x}: %{z:.2%}<extra></extra>"),
            row=1, col=c,
        )
    names = f"{_safe_label(ref.columns[i].name)} × {_safe_label(ref.columns[j].name)}"
    fig.update_layout(title=f"{names} · accuracy {accuracy:.1%}", height=380)
    fig.update_xaxes(type="category")
    fig.update_yaxes(type="category")
    return figs.html(fig)


def _dp_line(dp: dict | None) -> str:
    """The model's differential-privacy guarantee, when it was trained with one."""
    if not dp:
        return ""
    spent, asked, delta = (_e(str(dp.get(k))) for k in ("epsilon_spent", "epsilon", "delta_spent"))
    return (f"<p><b>Differential privacy:</b> the model was trained with ε = {spent} spent (of {asked} requested), "
            f"δ = {delta}: what the model file holds changes little when any one training row is added or "
            "removed.</p>")


def _privacy(part: Part, figs: _Figures) -> str:
    p = part.metrics.privacy
    rows = [
        ("sample size (rows per table)", f"{p.sample_size:,}", ""),
        ("DCR share (closer to training than to holdout)", _num(p.dcr_share), "0.5"),
        ("DCR 5th percentile", _num(p.dcr_p5, 4), _num(p.holdout_dcr_p5, 4)),
        ("NNDR 5th percentile", _num(p.nndr_p5, 4), _num(p.holdout_nndr_p5, 4)),
        ("identical to a training row", _pct(p.identical_share), _pct(p.holdout_identical_share)),
    ]
    table = "<table><tr><th>measure</th><th>synthetic → train</th><th>holdout → train (reference)</th></tr>" + "".join(
        f"<tr><td>{_e(a)}</td><td class='n'>{_e(b)}</td><td class='n'>{_e(c)}</td></tr>" for a, b, c in rows
    ) + "</table>"
    go = figs.go
    fig = go.Figure()
    hi = np.percentile(part.dcr_synthetic, 99) if len(part.dcr_synthetic) else 1.0
    series = [("synthetic → train", part.dcr_synthetic, SYN_COLOR)]
    if part.dcr_holdout is not None:
        series.append(("holdout → train", part.dcr_holdout, HOLD_COLOR))
        hi = max(hi, np.percentile(part.dcr_holdout, 99))
    for name, d, color in series:
        fig.add_trace(go.Histogram(x=np.minimum(d, hi), name=name, opacity=0.6, marker_color=color,
                                   xbins=dict(start=0, end=float(hi) * 1.001 + 1e-9, size=float(hi) / 50 + 1e-9),
                                   histnorm="probability"))
    fig.update_layout(barmode="overlay", title="Distance to the closest training record", height=340,
                      xaxis_title="distance (scale-free encoding)", yaxis_tickformat=".0%")
    text = (
        "<p>Each synthetic row's distance to its closest training record (DCR). If the synthetic rows are "
        "no closer to the training rows than unseen holdout rows are, the two histograms overlap and the DCR "
        f"share is about 0.5. On tables larger than the sample the share is the mean over {DCR_DRAWS} samples, "
        "so it hardly depends on which rows were drawn.</p>"
    )
    return text + table + figs.html(fig) + _attacks(part.metrics)


_ATTACK_TEXT = {
    "singling_out": ("Singling out",
                     "From one synthetic row, a rule (say age = 37, job = Sales, hours &ge; 70) that fits only that "
                     "synthetic row; it succeeds when it fits exactly one real person."),
    "singling_out_univariate": ("Singling out (one column)",
                                "The same with one-column rules: a value only one synthetic row has, the smallest "
                                "or the largest number."),
    "linkability": ("Linkability",
                    "Two halves of a person's record (two disjoint sets of columns) are re-joined when the nearest "
                    "synthetic row on each half is the same row."),
}


def _verdict(v: str) -> str:
    return f"<td class='v-{_e(v)}'>{_e(v)}</td>"


def _risk_row(label: str, explain: str, r) -> str:
    return (f"<tr><td><b>{label}</b><div class='hint'>{explain}</div></td><td class='n'>{r.attempts:,}</td>"
            f"<td class='n'>{_pct(r.attack_rate)}</td><td class='n'>{_pct(r.control_rate)}</td>"
            f"<td class='n'>{_num(r.risk)}</td><td class='n ci'>{_num(r.ci_low)}&ndash;{_num(r.ci_high)}</td>"
            f"{_verdict(r.verdict)}</tr>")


def _attacks(m: Metrics) -> str:
    """The attack suite: each attack on training rows beside the same on unseen rows."""
    p = m.privacy
    out = ["<h3>Attacks</h3>"]
    if p.attacks is None:
        return out[0] + f"<div class='note'>{_e(p.attacks_skipped or 'The privacy attacks did not run.')}</div>"
    a = p.attacks
    out.append(
        "<p>What could an attacker holding the synthetic table learn about the people in the training data? Each "
        "attack is tried on training rows and, as the <b>control</b>, on as many real rows the model never saw. "
        "What it achieves on the control, the synthetic data reveals about anyone like them; only the excess is "
        "a leak. <b>Risk</b> = (training &minus; control) / (1 &minus; control), 0 = nothing beyond the control, "
        "1 = every attempt the control missed succeeds; with its 95% interval.</p>"
        "<p class='hint'>Verdict: <b>low</b> when the risk is at most 0.05 and its interval ends at 0.10 or below; "
        "<b>high</b> when even the interval's lower end reaches 0.10; <b>moderate</b> in between (or too few "
        "attempts to tell). Membership: low when the AUC is at most 0.55 (upper end 0.60), high from a lower end "
        "of 0.60.</p>"
    )
    head = ("<tr><th>attack</th><th>attempts</th><th>success on training rows</th><th>success on unseen rows "
            "(control)</th><th>risk</th><th>95% interval</th><th>verdict</th></tr>")
    rows = [_risk_row(*_ATTACK_TEXT[k], getattr(a, k)) for k in _ATTACK_TEXT if getattr(a, k) is not None]
    if a.inference is not None:
        worst = a.inference.columns[0]
        rows.append(_risk_row(
            "Attribute inference",
            f"Knowing every other column of a person, guess one (the secret) from the nearest synthetic row: exact "
            f"for categories, within 5 percentiles for numbers. All {len(a.inference.columns)} secret column(s) "
            f"pooled; highest single column: <b>{_e(worst.column)}</b> (risk {_num(worst.risk)}, interval "
            f"{_num(worst.ci_low)}&ndash;{_num(worst.ci_high)}, {worst.verdict}).",
            a.inference.pooled.model_copy(update={"verdict": a.inference.verdict})))
    if a.membership is not None:
        mb = a.membership
        rows.append(
            "<tr><td><b>Membership inference</b><div class='hint'>Tell training rows from unseen rows by their "
            "distance to the nearest synthetic row. AUC 0.5 = a coin flip; 1.0 = every training row is "
            f"recognisable.</div></td><td class='n'>{mb.attempts:,} + {mb.attempts:,}</td>"
            f"<td class='n' colspan='2'>AUC {_num(mb.auc)}</td><td class='n'>{_num(mb.advantage)} (2 AUC &minus; 1)</td>"
            f"<td class='n ci'>{_num(mb.ci_low)}&ndash;{_num(mb.ci_high)}</td>{_verdict(mb.verdict)}</tr>")
    out.append(f"<div class='scroll'><table>{head}{''.join(rows)}</table></div>")
    if a.linkability is not None:
        lk = a.linkability
        out.append(f"<p class='hint'>Linkability halves: {_e(', '.join(lk.columns_a))} | "
                   f"{_e(', '.join(lk.columns_b))}. Singling-out rules are counted among {a.population:,} training "
                   f"rows and as many unseen rows.</p>")
    if a.inference is not None and len(a.inference.columns) > 1:
        body = "".join(
            f"<tr><td>{_e(c.column)}</td><td class='n'>{_pct(c.attack_rate)}</td><td class='n'>{_pct(c.control_rate)}"
            f"</td><td class='n'>{_num(c.risk)}</td><td class='n ci'>{_num(c.ci_low)}&ndash;{_num(c.ci_high)}</td>"
            f"{_verdict(c.verdict)}</tr>" for c in a.inference.columns)
        out.append("<details><summary>Attribute inference per secret column</summary><div class='scroll'><table>"
                   "<tr><th>secret</th><th>guessed on training rows</th><th>on unseen rows</th><th>risk</th>"
                   f"<th>95% interval</th><th>verdict</th></tr>{body}</table></div></details>")
    out += [f"<div class='note'>{_e(n)}</div>" for n in a.notes]
    return "".join(out)


_TEXT_FIGURES = [  # (field, heading, as a share)
    ("non_empty_share", "non-empty", True),
    ("null_share", "null", True),
    ("length_accuracy", "length accuracy", True),
    ("term_accuracy", "term accuracy", True),
    ("exact_match_share", "copies a training text", True),
    ("unique_share", "unique", True),
    ("distinct_2", "distinct-2", True),
    ("mean_length", "mean length", False),
    ("term_median_accuracy", "term medians ±10%", True),
    ("classifier_accuracy", "predicts categories", True),
]


def _text(m: Metrics) -> str:
    """One row per text column, each figure beside the holdout's, then sample texts."""
    has_ref = any(t.reference is not None for t in m.text.values())
    head = "<tr><th>column</th>" + "".join(f"<th>{_e(h)}</th>" for _, h, _ in _TEXT_FIGURES) + "</tr>"

    def cell(value: float | None, share: bool) -> str:
        if value is None:
            return "–"
        return _pct(value) if share else _num(value, 1)

    rows = []
    for name, t in m.text.items():
        r = f"<tr><td>{_e(name)}</td>"
        for field, _, share in _TEXT_FIGURES:
            ref = f" <span class='hint'>· {cell(getattr(t.reference, field), share)}</span>" if t.reference else ""
            r += f"<td class='n'>{cell(getattr(t, field), share)}{ref}</td>"
        rows.append(r + "</tr>")
    out = [
        "<p>Each free-text column against the training texts: accuracies are 1 − total variation distance of "
        "character lengths (10 quantile bins) and of lowercase word frequencies (top 1,000 training terms and "
        "'other'); distinct-2 is distinct word bigrams over all bigrams. Term medians: share of frequent terms "
        "whose rows have a numeric column's median within ±10% of training's; predicts categories: accuracy of a "
        "classifier trained on the table's texts predicting its categorical columns on the holdout."
        + (" The holdout's figure follows each synthetic one, after the dot: the best to expect." if has_ref
           else " No holdout was given, so there is no reference figure.") + "</p>",
        f"<div class='scroll'><table>{head}{''.join(rows)}</table></div>",
    ]
    for name, t in m.text.items():
        n = max(len(t.samples), len(t.real_samples))
        body = "".join(
            f"<tr><td>{_e(t.samples[i]) if i < len(t.samples) else ''}</td>"
            f"<td>{_e(t.real_samples[i]) if i < len(t.real_samples) else ''}</td></tr>"
            for i in range(n)
        )
        out.append(f"<h3>Sample texts: {_e(name)}</h3>")
        out.append(f"<div class='scroll'><table><tr><th>synthetic</th><th>holdout (real)</th></tr>{body}</table></div>"
                   if n else "<p>–</p>")
    return "".join(out)


def _records_table(records: list[Record]) -> str:
    if not records:
        return "<p>–</p>"
    cols = list(records[0].values)
    head = "<tr><th>P(synthetic)</th>" + "".join(f"<th>{_e(c)}</th>" for c in cols) + "</tr>"
    body = "".join(
        f"<tr><td class='n'>{r.score:.3f}</td>" + "".join(f"<td>{_e(r.values.get(c) if r.values.get(c) is not None else '')}</td>" for c in cols) + "</tr>"
        for r in records
    )
    return f"<div class='scroll'><table>{head}{body}</table></div>"


def _discriminator(m: Metrics) -> str:
    d = m.discriminator
    return (
        f"<p>A LightGBM classifier was trained to tell {d.rows_per_class:,} training rows from as many synthetic rows "
        f"(80% to train, 20% to test). Its AUC on the test part is <b>{d.auc:.3f}</b>: 0.5 means it cannot tell them "
        "apart, 1.0 means every synthetic row is easy to spot.</p>"
        + _giveaways(m)
        + "<h3>Synthetic rows it finds most fake</h3>" + _records_table(d.most_fake)
        + "<h3>Training rows it finds most real</h3>" + _records_table(d.most_real)
    )


def _bar(auc: float) -> str:
    width = 100 * min(1.0, max(0.0, (auc - 0.5) / 0.5))  # 0.5 (indistinguishable) → empty bar
    return f"<div class='bar'><span style='width:{width:.0f}%'></span></div>"


def _lift(lift: float) -> str:
    text = f"{lift:+.3f}"
    return f"<b>{text}</b>" if lift >= 0.05 else text


def _giveaways(m: Metrics) -> str:
    """Columns (and pairs) that tell synthetic from real on their own, the worst first."""
    cols = m.discriminator_columns
    out = ["<h3>What gives the synthetic data away</h3>"]
    if not cols:
        return out[0] + "<p>The classifier found no column to lean on.</p>"
    top, top_auc = next(iter(cols.items()))
    out.append(
        f"<p>Look at <b>{_e(top)}</b> first: on its own it tells synthetic from training rows with AUC "
        f"<b>{top_auc:.3f}</b>.</p>"
        "<p class='hint'>Each line is a classifier that sees only that column (same 80/20 split), for the columns "
        "the full classifier uses most. 0.5 = indistinguishable; 1.0 = that column alone exposes every synthetic row.</p>"
    )
    rows = "".join(
        ("<tr class='top'>" if k == 0 else "<tr>") + f"<td>{_e(c)}</td><td class='n'>{a:.3f}</td><td>{_bar(a)}</td></tr>"
        for k, (c, a) in enumerate(cols.items())
    )
    out.append(f"<div class='scroll'><table><tr><th>column</th><th>AUC alone</th><th></th></tr>{rows}</table></div>")
    if m.discriminator_pairs:
        rows = "".join(
            f"<tr><td>{_e(p.columns[0])} × {_e(p.columns[1])}</td><td class='n'>{p.auc:.3f}</td>"
            f"<td class='n'>{_lift(p.lift)}</td><td>{_bar(p.auc)}</td></tr>"
            for p in m.discriminator_pairs
        )
        out.append(
            "<p class='hint'>Pairs of the top columns, each seen by a classifier of its own. A pair whose AUC is well "
            "above its better column's alone (bold) is given away by how the two combine, not by either one.</p>"
            "<div class='scroll'><table><tr><th>columns</th><th>AUC together</th><th>beyond the better column</th>"
            f"<th></th></tr>{rows}</table></div>"
        )
    return "".join(out)


def _utility(m: Metrics) -> str:
    u = m.utility
    rows = [(u.metric, u.synthetic, u.reference)]
    if u.synthetic_f1_macro is not None or u.reference_f1_macro is not None:
        rows.append(("f1 macro", u.synthetic_f1_macro, u.reference_f1_macro))
    table = "<table><tr><th>metric</th><th>trained on synthetic</th><th>trained on train</th></tr>" + "".join(
        f"<tr><td>{_e(a)}</td><td class='n'>{_num(b)}</td><td class='n'>{_num(c)}</td></tr>" for a, b, c in rows
    ) + "</table>"
    return (
        f"<p>LightGBM predicts <b>{_e(u.target)}</b> ({_e(u.task)}) from the other columns; both models are "
        "scored on the holdout, which neither has seen.</p>" + table
    )


def _correlations(m: Metrics, figs: _Figures) -> str:
    c = m.correlations
    names = [_safe_label(n) for n in c.columns]
    fig = figs.subplots.make_subplots(rows=1, cols=2, subplot_titles=("train", "synthetic"), horizontal_spacing=0.15)
    for k, z in enumerate((c.train, c.synthetic), start=1):
        fig.add_trace(
            figs.go.Heatmap(z=z, x=names, y=names, zmin=0, zmax=1, colorscale="Blues", showscale=k == 2,
                            hovertemplate="%{y} × %{x}: %{z:.2f}<extra></extra>"),
            row=1, col=k,
        )
    size = max(420, 28 * len(names) + 160)
    fig.update_layout(title="Association (Cramér's V on the binned columns)", height=size)
    fig.update_yaxes(autorange="reversed")
    return (
        f"<p>Mean absolute difference between the matrices: <b>{c.mean_abs_difference:.3f}</b>.</p>" + figs.html(fig)
    )
