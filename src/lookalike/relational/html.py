"""The related-tables QA report as one self-contained HTML page (same look as the flat report).

Per child table: the summary figures (synthetic beside the holdout subjects, both scored
against the training tables), the distribution of events per subject, the weakest column
pairs and the coherence of consecutive events per column; a long regular series adds its
time-series figures (autocorrelation by lag, calendar profile, value and level accuracy, a
few series side by side); then referential integrity.
"""

from __future__ import annotations

import datetime as _dt

import numpy as np

from ..qa.html import CSS, HOLD_COLOR, SYN_COLOR, TRAIN_COLOR, _Figures, _card, _e, _num, _pct

FIGURES = [
    ("sequence_lengths", "sequence lengths", "events per subject"),
    ("univariate", "univariate", "the child's own columns, one at a time"),
    ("bivariate", "bivariate", "pairs of the child's columns"),
    ("parent_child", "parent × child", "child column × parent column, the row joined to its parent"),
    ("coherence", "coherence", "(value now, value next) of consecutive events of one subject"),
    ("distinct_per_subject", "distinct per subject", "number of distinct categories per subject"),
    ("time_gaps", "time gaps", "gaps between consecutive events"),
]
WORST = 12  # rows of the per-pair / per-column tables


def render(metrics: dict, lengths: dict[str, dict[str, np.ndarray]], title: str = "Related-tables QA report") -> str:
    """``metrics``: ``relational_metrics`` output; ``lengths[child][which]``: events per subject
    for which in ("training", "synthetic", "holdout")."""
    figs = _Figures()
    rows = metrics["integrity"]
    body = [
        f"<h1>{_e(title)}</h1>",
        f'<div class="sub">lookalike related-tables QA · generated {_e(_dt.datetime.now().strftime("%Y-%m-%d %H:%M"))} · '
        + " · ".join(f"{_e(t)}: {d['rows']:,} synthetic rows" for t, d in rows.items()) + "</div>",
        '<div class="note">Accuracy is 1 − total variation distance of binned distributions (10 quantile bins, '
        "top-10 categories) against the training tables. The holdout column scores real subjects that were "
        "never trained on in the same way: the level a perfect model reaches with this much data.</div>",
    ]
    for child, entry in metrics["tables"].items():
        body.append(_child(child, entry, lengths.get(child, {}), figs))
    body.append("<h2>Referential integrity</h2>" + _integrity(metrics))
    page = "\n".join(body)
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>{_e(title)}</title><style>{CSS}</style></head>"
        f"<body><main>\n{page}\n</main></body></html>\n"
    )


def _child(child: str, entry: dict, lengths: dict[str, np.ndarray], figs: _Figures) -> str:
    syn, hold = entry["synthetic"], entry.get("holdout", {})
    cards = "".join(
        _card(label, _pct(syn.get(key)), f"holdout {_pct(hold.get(key))}" if hold else "")
        for key, label, _ in FIGURES if syn.get(key) is not None)
    out = [f"<h2>{_e(child)}</h2>", f'<div class="cards">{cards}</div>']
    head = "<tr><th>figure</th><th>what it compares</th><th>synthetic</th>" + ("<th>holdout</th>" if hold else "")
    trs = "".join(
        f"<tr><td>{_e(label)}</td><td>{_e(what)}</td><td class='n'>{_pct(syn.get(key))}</td>"
        + (f"<td class='n'>{_pct(hold.get(key))}</td>" if hold else "") + "</tr>"
        for key, label, what in FIGURES if syn.get(key) is not None)
    if syn.get("order_violations") is not None:
        trs += (f"<tr><td>events out of order</td><td>later event dated before the previous one</td>"
                f"<td class='n'>{syn['order_violations']:,}</td>" + ("<td></td>" if hold else "") + "</tr>")
    out.append(f"<table>{head}</tr>{trs}</table>")
    if lengths:
        out.append("<h3>Events per subject</h3>" + _lengths_figure(child, lengths, figs))
    out.append('<div class="grid">')
    out.append("<div><h3>Weakest column pairs</h3>" + _worst(syn.get("bivariate_by_pair", {}),
                                                           hold.get("bivariate_by_pair", {}), "pair") + "</div>")
    out.append("<div><h3>Coherence per column</h3>" + _worst(syn.get("coherence_by_column", {}),
                                                           hold.get("coherence_by_column", {}), "column") + "</div>")
    out.append("</div>")
    if entry.get("series"):
        out.append(_series(child, entry["series"], figs))
    return "\n".join(out)


SLOTS = {"day_of_week": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]}


def _series(child: str, series: dict, figs: _Figures) -> str:
    """The time-series section: per measure, ACF by lag, the calendar profile, accuracies, examples."""
    go = figs.go
    colors = {"training": TRAIN_COLOR, "synthetic": SYN_COLOR, "holdout": HOLD_COLOR}
    cal = series.get("calendar", {})
    out = [f"<h3>Time series ({_e(series['frequency'])}, step {series['step_seconds']:g} s)</h3>",
           '<div class="note">Autocorrelation per subject on the calendar grid (lag k: k steps; missing steps '
           "skipped), median over subjects. The profile is the mean value per calendar slot relative to the "
           "subject's mean. Level accuracy: 1 − TVD of (parent attribute, subject mean level in 3 bins).</div>"]
    if cal:
        trs = "".join(f"<tr><td>{_e(w)}</td><td class='n'>{_pct(d.get('on_grid'))}</td>"
                      f"<td class='n'>{_pct(d.get('ordered'))}</td><td class='n'>{_pct(d.get('unique'))}</td>"
                      f"<td class='n'>{_pct(d.get('one_step_share'))}</td></tr>" for w, d in cal.items())
        out.append("<table><tr><th></th><th>on the grid</th><th>in order</th><th>unique per subject</th>"
                   f"<th>one-step share</th></tr>{trs}</table>")
    for c, m in series["measures"].items():
        lags = series["lags"]
        head = "<tr><th>lag</th>" + "".join(f"<th>{_e(w)}</th>" for w in m["acf"]) + "</tr>"
        trs = "".join("<tr><td>" + str(k) + "</td>" + "".join(
            f"<td class='n'>{_num(a.get(str(k)), 2)}</td>" for a in m["acf"].values()) + "</tr>" for k in lags)
        acc = [("values", m.get("value_accuracy", {}))] + [
            (f"{p} × level", {w: d.get(p) for w, d in m.get("level_accuracy", {}).items()})
            for p in next(iter(m.get("level_accuracy", {}).values()), {})]
        acc_rows = "".join(f"<tr><td>{_e(name)}</td>" + "".join(f"<td class='n'>{_pct(d.get(w))}</td>"
                                                                for w in ("synthetic", "holdout") if w in m["acf"])
                           + "</tr>" for name, d in acc)
        out.append(f"<h3>{_e(child)}.{_e(c)}</h3><div class='grid'><div><table>{head}{trs}</table></div>"
                   f"<div><table><tr><th>accuracy</th>" + "".join(f"<th>{w}</th>" for w in ("synthetic", "holdout")
                                                                  if w in m["acf"]) + f"</tr>{acc_rows}</table></div></div>")
        fig = go.Figure()
        for w, prof in m["profile"].items():
            keys = sorted(prof, key=lambda k: int(k))
            labels = [SLOTS.get(series["profile_by"], [])[int(k)] if series["profile_by"] in SLOTS else str(k)
                      for k in keys]
            fig.add_bar(x=labels, y=[prof[k] for k in keys], name=w, marker_color=colors.get(w))
        fig.update_layout(barmode="group", height=280, title=f"{c}: mean by {series['profile_by']} / subject mean",
                          yaxis_title="relative level")
        out.append(figs.html(fig))
        fig = go.Figure()
        for w, examples in m.get("examples", {}).items():
            for i, v in enumerate(examples):
                fig.add_scatter(y=v, mode="lines", name=f"{w} {i + 1}", line={"color": colors.get(w), "width": 1})
        fig.update_layout(height=320, title=f"{c}: the last steps of a few series", xaxis_title="step",
                          yaxis_title=c)
        out.append(figs.html(fig))
    return "\n".join(out)


def _lengths_figure(child: str, lengths: dict[str, np.ndarray], figs: _Figures) -> str:
    go = figs.go
    top = max((int(np.percentile(v, 99)) for v in lengths.values() if len(v)), default=0)
    edges = np.unique(np.linspace(0, top + 1, min(top + 2, 41)).round())
    fig = go.Figure()
    colors = {"training": TRAIN_COLOR, "synthetic": SYN_COLOR, "holdout": HOLD_COLOR}
    for which, v in lengths.items():
        if not len(v):
            continue
        share = np.histogram(np.minimum(v, edges[-1] - 1), bins=edges)[0] / len(v)
        fig.add_bar(x=edges[:-1], y=share, name=which, marker_color=colors.get(which))
    fig.update_layout(barmode="group", height=300, title=f"{child}: events per subject (last bar: ≥ {int(edges[-2])})",
                      xaxis_title="events", yaxis_title="share of subjects", yaxis_tickformat=".0%")
    return figs.html(fig)


def _worst(syn: dict, hold: dict, what: str) -> str:
    if not syn:
        return "<p>–</p>"
    items = sorted(syn.items(), key=lambda kv: (kv[1] is None, kv[1] if kv[1] is not None else 0))[:WORST]
    head = f"<tr><th>{what}</th><th>synthetic</th>" + ("<th>holdout</th>" if hold else "") + "</tr>"
    trs = "".join(f"<tr><td>{_e(k)}</td><td class='n'>{_pct(v)}</td>"
                  + (f"<td class='n'>{_pct(hold.get(k))}</td>" if hold else "") + "</tr>" for k, v in items)
    return f"<div class='scroll'><table>{head}{trs}</table></div>"


def _integrity(metrics: dict) -> str:
    reused = metrics.get("reused_real_keys", {})
    trs = []
    for table, d in metrics["integrity"].items():
        refs = sorted({k.rsplit(".", 1)[0] for k in d if k.endswith(".dangling")})
        ref_txt = "; ".join(f"{c}: {d[c + '.dangling']:,} dangling, null {_pct(d[c + '.null_share'])}" for c in refs)
        trs.append(f"<tr><td>{_e(table)}</td><td class='n'>{d['rows']:,}</td>"
                   f"<td class='n'>{_num(d.get('duplicate_keys'), 0) if 'duplicate_keys' in d else '–'}</td>"
                   f"<td class='n'>{reused.get(table, '–')}</td><td>{_e(ref_txt) or '–'}</td></tr>")
    bad = sum(v for d in metrics["integrity"].values() for k, v in d.items()
              if k.endswith(".dangling") or k == "duplicate_keys") + sum(reused.values())
    verdict = ('<div class="ok">Every key is unique and new, and every foreign key resolves.</div>' if bad == 0 else
               f'<div class="flag">{bad:,} key problem(s): see the table.</div>')
    return (verdict + "<table><tr><th>table</th><th>rows</th><th>duplicate keys</th><th>real keys reused</th>"
            "<th>foreign keys</th></tr>" + "".join(trs) + "</table>")
