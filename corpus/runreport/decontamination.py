"""The decontamination report as a self-contained HTML page (Plotly charts), and the writer of all three files."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from corpus import storage
from corpus.runreport import page
from decont.report import MAX_LISTED_HITS, _pct, _unit, render_markdown


def write_reports(report: dict[str, Any], out_dir: str | Path) -> dict[str, str]:
    """Write decontamination.json, .md and .html into out_dir (a local path or an object-store URI,
    through corpus.storage); returns their locations."""
    out = str(out_dir)
    paths = {ext: storage.join(out, f"decontamination.{ext}") for ext in ("json", "md", "html")}
    storage.write_text(paths["json"], json.dumps(report, indent=1, ensure_ascii=False, default=str) + "\n")
    storage.write_text(paths["md"], render_markdown(report))
    storage.write_text(paths["html"], render_html(report))
    return paths


# ---------------------------------------------------------------- HTML
# Built with the shared page builder (corpus/runreport/page.py): Plotly charts that size themselves to
# the window, plotly.js embedded once, the same look as the run report that links here.

MAX_CHART_ROWS = 30  # sources / languages per chart: more bars would be unreadable
_HITS_CSS = (
    "<style>table.hits td{text-align:left;white-space:normal;vertical-align:top}"
    "table.hits pre{white-space:pre-wrap;margin:0;max-width:560px}mark{background:#ffd54f}</style>"
)


def _context_html(h: dict[str, Any]) -> str:
    """The hit's context, escaped, with the matched n-gram marked (the only markup that is ours)."""
    ctx, ng = h.get("context") or "", h.get("ngram") or ""
    i = ctx.find(ng) if ng else -1
    if i < 0:
        return html.escape(ctx)
    return html.escape(ctx[:i]) + "<mark>" + html.escape(ng) + "</mark>" + html.escape(ctx[i + len(ng) :])


def _benchmark_chart(r: dict[str, Any]) -> str:
    import plotly.graph_objects as go

    names = list(r["benchmarks"])
    fig = go.Figure()
    for label, key, color in (("items", "items", "#9aa5b1"), ("items matched", "items_matched", "#d64545")):
        values = [r["benchmarks"][n][key] for n in names]
        # Labels on the bars: a handful of matched items next to thousands would otherwise be invisible.
        fig.add_bar(name=label, y=names, x=values, orientation="h", marker_color=color, text=values, textposition="outside")
    fig.update_layout(title="Benchmark items: total vs matched", barmode="group", yaxis={"autorange": "reversed"},
                      xaxis={"title": "items"})
    return page.chart(fig, "decont-benchmarks")


def _group_chart(r: dict[str, Any], key: str, what: str) -> str:
    """Contaminated documents per source or language (the largest MAX_CHART_ROWS), rate in the hover."""
    import plotly.graph_objects as go

    rows = sorted(((n, v) for n, v in r[key].items() if v["contaminated"]), key=lambda kv: (-kv[1]["contaminated"], kv[0]))
    if not rows:
        return ""
    rows = rows[:MAX_CHART_ROWS]
    fig = go.Figure(go.Bar(
        y=[str(n) for n, _ in rows], x=[v["contaminated"] for _, v in rows], orientation="h", marker_color="#d64545",
        text=[v["contaminated"] for _, v in rows], textposition="outside",
        customdata=[[v["scanned"], _pct(v["contaminated"], v["scanned"])] for _, v in rows],
        hovertemplate="%{y}: %{x} of %{customdata[0]} documents (%{customdata[1]})<extra></extra>",
        name="contaminated"))
    fig.update_layout(title=f"Contaminated documents by {what}", yaxis={"autorange": "reversed"}, xaxis={"title": "documents"})
    return page.chart(fig, f"decont-by-{what}")


def _group_section(r: dict[str, Any], key: str, title: str, what: str) -> page.Section:
    rows = sorted(r[key].items(), key=lambda kv: (-kv[1]["contaminated"], -kv[1]["scanned"], str(kv[0])))
    chart = _group_chart(r, key, what)
    text = "" if chart else "<p>No contaminated documents.</p>"
    text += page.table([what, "scanned", "contaminated", "rate", "MB"],
                       [[str(n), v["scanned"], v["contaminated"], _pct(v["contaminated"], v["scanned"]), round(v["bytes"] / 1e6, 2)]
                        for n, v in rows])
    return page.Section(title, f"by-{what}", text, [chart] if chart else [])


def _hits_section(r: dict[str, Any]) -> page.Section:
    e = html.escape
    hits = r["hits"]
    total = r.get("hits_total", len(hits))
    notes = ""
    if total > len(hits):
        notes += f"<p>decontamination.json lists {len(hits):,}; all are in {e(str(r.get('hits_dataset', 'the hits dataset')))}.</p>"
    if len(hits) > MAX_LISTED_HITS:
        notes += f"<p>First {MAX_LISTED_HITS:,} listed; all are in decontamination.json.</p>"
    head = "".join(f"<th>{h}</th>" for h in ("document", "benchmark", "item", "field", "context (n-gram marked)"))
    body = "".join(
        f"<tr><td>{e(str(h['doc']))}</td><td>{e(str(h['benchmark']))}</td><td>{e(str(h['item']))}</td>"
        f"<td>{e(str(h['field']))}</td><td><pre>{_context_html(h)}</pre></td></tr>"
        for h in hits[:MAX_LISTED_HITS]
    )
    table_html = f'<table class="hits"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>' if hits else "<p>No hits.</p>"
    return page.Section(f"Hits ({total:,})", "hits", _HITS_CSS + notes + table_html)


def render_html(r: dict[str, Any]) -> str:
    """The report as one self-contained page (Plotly charts, tables, every hit with its marked context)."""
    e = html.escape
    d, rule, index = r["documents"], r["rule"], r["index"]
    lead = e(
        f"Rule: a document is contaminated if it contains any {rule['n']}-gram of a benchmark text; benchmark strings of "
        f"{rule['min_short']}..{rule['n'] - 1} grams are matched whole. Gram unit: {rule['unit']}. "
        f"Rule variant: {rule.get('rule', 'guarded')}. Each document is one {_unit(r)}."
    )
    summary = page.cards([
        ("documents scanned", d.get("scanned", 0)),
        ("contaminated", d.get("contaminated", 0)),
        ("contaminated share", _pct(d.get("contaminated", 0), d.get("scanned", 0))),
        ("skipped", d.get("skipped", 0)),
        ("MB scanned", f"{d.get('bytes', 0) / 1e6:,.1f}"),
    ]) + (
        f"<p>Index: {index['keys']:,} keys, {index['memory_bytes'] / 1e6:.1f} MB, built in {index['build_seconds']:.2f} s; "
        "hits are verified gram by gram (false-positive rate of the index: 0).</p>"
    ) + page.warnings(f"Not checked: {m['name']} ({m['reason']})" for m in r["missing"])
    sections = [page.Section("Summary", "summary", summary)]
    bench_table = page.table(
        ["benchmark", "items", "indexed", "matched", "documents", "hits", "keys", "source"],
        [[n, b["items"], b["items_indexed"], b["items_matched"], b["documents"], b["hits"], b["keys"], str(b["source"])]
         for n, b in r["benchmarks"].items()],
    )
    sections.append(page.Section("Benchmarks", "benchmarks", bench_table, [_benchmark_chart(r)] if r["benchmarks"] else []))
    sections.append(_group_section(r, "by_source", "By source", "source"))
    sections.append(_group_section(r, "by_language", "By language", "language"))
    if r["skipped"]:
        sections.append(page.Section("Skipped records", "skipped", page.table(
            ["reason", "count"], sorted(r["skipped"].items(), key=lambda kv: -kv[1]))))
    sections.append(_hits_section(r))
    return page.page("Decontamination report", lead, sections)
