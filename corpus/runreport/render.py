"""The run report page (reports/index.html) from the summary dict: every figure it shows is in summary.json."""

from __future__ import annotations

import html
import math
from collections.abc import Iterable
from typing import Any

from corpus.runreport.page import Section, cards, chart, page, table, warnings

TOP_LANGUAGES = 30  # the language chart shows the biggest; the table lists all
SMALL_COUNT = 10  # a count axis up to this steps its ticks by 1


def _go():
    import plotly.graph_objects as go

    return go


def _mb(n: float) -> float:
    return round(n / 1e6, 3)


def _count_axis(values: Iterable[float], log: bool = False) -> dict[str, Any]:
    """An axis of counts (records, clusters, pages): integer ticks only. plotly's automatic ticks step
    by 0.5 or 0.2 on a small range ("0.5 records"), so a range up to SMALL_COUNT steps by 1; above it the
    automatic step is at least 1. A log axis of counts ticks at powers of ten and starts at 0.5, so a
    count of 1 is a visible bar (a log bar starts at the axis' bottom)."""
    top = max((v for v in values if v is not None), default=0)
    if log:
        return {"type": "log", "tickformat": ",d", "dtick": 1, "range": [math.log10(0.5), math.log10(max(top, 1) * 2)]}
    axis: dict[str, Any] = {"tickformat": ",d", "rangemode": "tozero"}
    if top <= SMALL_COUNT:
        axis.update(tick0=0, dtick=1)
    return axis


def render_report(s: dict[str, Any]) -> str:
    sections = [_overview(s), _funnel(s), _languages(s), _inputs(s), _safety(s), _dedup(s), _dependency_order(s), _decont(s), _recall(s), _mixture(s),
                _shards(s)]
    run = s.get("run", {})
    lead = (f"Output <code>{html.escape(s.get('output', ''))}</code>"
            + (f" · {run['wall_seconds']} s wall on {run.get('cpus')} CPUs{_runner_start(run)}" if run.get("wall_seconds") else "")
            + f" · report built in {s.get('build_seconds', 0)} s · every figure is in <code>summary.json</code>")
    return page("coder-corpus run report", lead, [x for x in sections if x is not None])


def _runner_start(run: dict[str, Any]) -> str:
    """The wall time leaves the runner's start out (run.json): say so, and how long it took."""
    start = run.get("runner_start_seconds")
    if not start:  # no runner was started (in-process), or an old run.json
        return ""
    return f" (not counting the {start} s spent starting Ray)"


def _overview(s: dict[str, Any]) -> Section:
    stages = s.get("stages", [])
    first = stages[0] if stages else {}
    sh, langs, run = s.get("shards", {}), s.get("languages", {}), s.get("run", {})
    items = [("documents ingested", first.get("kept", 0)), ("MB of text ingested", _mb(first.get("bytes_kept", 0))),
             ("languages kept", langs.get("kept_languages", 0)), ("languages in the shards", langs.get("in_shards", 0)),
             ("tokens written", sh.get("tokens", 0)), ("FIM examples whole in a row", f"{sh.get('fim', {}).get('whole_in_a_row', 0):.1%}")]
    if run.get("mb_per_s_per_core") and run.get("complete", True):  # a partial run's rate is not end to end
        items.append(("MB/s per core", run["mb_per_s_per_core"]))
    return Section("Overview", "overview", cards(items) + warnings(s.get("warnings", [])))


def _funnel(s: dict[str, Any]) -> Section:
    go = _go()
    stages = s.get("stages", [])
    names = [st["name"] for st in stages]
    sec = Section("Funnel", "funnel", "<p>Records and bytes into each stage, kept, and dropped by reason "
                  "(every stage accounts for its records: in = kept + dropped). Dropped rows are in "
                  "<code>OUT/&lt;stage&gt;/_dropped/</code> with the file named and the reason's detail.</p>")
    rec = go.Figure([go.Bar(name="kept", x=names, y=[st["kept"] for st in stages]),
                     go.Bar(name="dropped", x=names, y=[sum(st["dropped"].values()) for st in stages])])
    rec.update_layout(barmode="stack", title="Records per stage", yaxis_title="records",
                      yaxis=_count_axis([st["kept"] + sum(st["dropped"].values()) for st in stages]))
    byt = go.Figure([go.Bar(name="kept", x=names, y=[_mb(st["bytes_kept"]) for st in stages]),
                     go.Bar(name="dropped", x=names, y=[_mb(sum(st["bytes_dropped"].values())) for st in stages])])
    byt.update_layout(barmode="stack", title="MB per stage", yaxis_title="MB")
    reasons = [(f"{st['name']}: {r}", n) for st in stages for r, n in st["dropped"].items() if n]
    reasons.sort(key=lambda x: x[1])
    why = go.Figure(go.Bar(x=[n for _, n in reasons], y=[r for r, _ in reasons], orientation="h"))
    why.update_layout(title="Dropped records by stage and reason", xaxis_title="records", xaxis=_count_axis([n for _, n in reasons], log=True),
                      height=max(320, 24 * len(reasons) + 120))
    # A chart with nothing to draw is left out (a run without drops has no reasons chart).
    sec.charts = [chart(rec, "funnel-records"), chart(byt, "funnel-bytes")] + ([chart(why, "funnel-reasons")] if reasons else [])
    rows = [[st["name"], st["in"], st["kept"], sum(st["dropped"].values()),
             ", ".join(f"{r} {n:,}" for r, n in sorted(st["dropped"].items(), key=lambda x: -x[1])) or "",
             _mb(st["bytes_in"]), _mb(st["bytes_kept"]), st.get("seconds"), st.get("task_cpu_seconds")] for st in stages]
    sec.html += table(["stage", "in", "kept", "dropped", "dropped by reason", "MB in", "MB kept", "seconds", "task CPU s"], rows)
    sec.html += _rewrites(stages)
    return sec


# Why a stage's bytes change with no record dropped (MB in != MB kept + MB dropped).
REWRITES = {
    "langid": "Jupyter notebooks are rewritten as scripts of their cells (jupytext light: code cells as code, "
              "markdown cells as comments, outputs and the JSON around them dropped; "
              "<code>stages.langid.notebooks_as_scripts</code>), so their bytes shrink while every record is kept.",
    "repo_samples": "files of a repository are concatenated into one sample, each under a path header.",
}


def _rewrites(stages: list[dict[str, Any]]) -> str:
    """A note for each stage whose kept + dropped bytes differ from its input: what it rewrote."""
    notes = []
    for st in stages:
        change = st["bytes_kept"] + sum(st["bytes_dropped"].values()) - st["bytes_in"]
        if change:
            why = REWRITES.get(st["name"], "the stage rewrites the text of the records it keeps.")
            notes.append(f"<li><code>{html.escape(st['name'])}</code>: {_mb(change):+,} MB with no record dropped: {why}</li>")
    return f"<p>Bytes changed by rewriting, not dropping:</p><ul>{''.join(notes)}</ul>" if notes else ""


def _languages(s: dict[str, Any]) -> Section | None:
    langs = s.get("languages", {})
    rows = langs.get("by_language", {})
    if not rows:
        return None
    go = _go()
    top = sorted(rows.items(), key=lambda kv: -kv[1]["bytes_detected"])[:TOP_LANGUAGES][::-1]
    fig = go.Figure([go.Bar(name="kept", y=[k for k, _ in top], x=[_mb(v["bytes_kept"]) for _, v in top], orientation="h"),
                     go.Bar(name="dropped", y=[k for k, _ in top], x=[_mb(v["bytes_dropped"]) for _, v in top], orientation="h")])
    fig.update_layout(barmode="stack", title=f"MB per language (biggest {len(top)})", xaxis_title="MB",
                      height=max(360, 22 * len(top) + 140))
    tok = sorted(((k, v["tokens"]) for k, v in rows.items() if v["tokens"]), key=lambda kv: kv[1])[-TOP_LANGUAGES:]
    tfig = go.Figure(go.Bar(y=[k for k, _ in tok], x=[v for _, v in tok], orientation="h"))
    tfig.update_layout(title="Shard tokens per language (each file once)", xaxis_title="tokens", xaxis=_count_axis([v for _, v in tok], log=True),
                       height=max(360, 22 * len(tok) + 140))
    sec = Section("Languages", "languages",
                  f"<p>Files per language detected at <code>{langs['detected_at']}</code> and kept after <code>{langs['kept_at']}</code> "
                  "(the last stage whose rows are files; later stages work on repository samples): "
                  f"{langs['kept_languages']} languages kept, {langs['in_shards']} of them in the shards. "
                  "<code>(none)</code>: web pages and files no language claims.</p>")
    sec.charts = [chart(fig, "languages-bytes")] + ([chart(tfig, "languages-tokens")] if tok else [])
    sec.html += table(["language", "files detected", "files kept", "files dropped", "MB kept", "MB dropped", "tokens"],
                      [[k, v["files_detected"], v["files_kept"], v["files_dropped"], _mb(v["bytes_kept"]), _mb(v["bytes_dropped"]), v["tokens"]]
                       for k, v in rows.items()])
    return sec


def _inputs(s: dict[str, Any]) -> Section | None:
    inp = s.get("inputs", {})
    if not inp:
        return None
    rows = [[label, v["stage"], v["repositories"], v["web_pages"], v["web_hosts"],
             ", ".join(f"{k} {n:,}" for k, n in sorted(v["documents_by_source"].items()))] for label, v in inp.items()]
    note = "" if inp.get("kept", {}).get("repositories_exact", True) else (
        "<p>Repositories split over several parts count once per part (no repo_samples stage groups them).</p>")
    return Section("Repositories and web", "inputs",
                   table(["", "at stage", "repositories", "web pages", "web hosts", "documents by source"], rows) + note)


def _safety(s: dict[str, Any]) -> Section | None:
    """Redaction counts by kind and files by licence (docs/safety.md); tables only."""
    red, lic = s.get("redaction") or {}, s.get("licenses") or {}
    if not red and not lic.get("files"):
        return None
    body = ""
    if red:
        body += "<p>Secrets and personal data replaced by the redact stage (files kept).</p>" + table(
            ["kind", "replaced"], [[k, n] for k, n in sorted(red.items(), key=lambda kv: -kv[1])])
    if lic.get("files"):
        body += f"<p>Repository files by licence (SPDX) at stage {html.escape(lic.get('stage', ''))}.</p>" + table(
            ["licence", "files", "MB"], [[k, n, _mb(lic.get("bytes", {}).get(k, 0))] for k, n in lic["files"].items()])
    return Section("Redaction and licences", "safety", body)


def _dedup(s: dict[str, Any]) -> Section | None:
    dedup = s.get("dedup", {})
    if not dedup:
        return None
    go = _go()
    sec = Section("Deduplication", "dedup")
    for name, d in dedup.items():
        sec.html += f"<h3>{html.escape(name)}</h3>" + cards([
            ("records in", d["in"]), ("duplicates dropped", d["dropped"]), ("duplicate rate", f"{d['duplicate_rate']:.2%}"),
            ("clusters", d.get("clusters", 0)), ("MB dropped", _mb(d["bytes_dropped"]))])
        sizes = d.get("cluster_sizes", {})
        if not sizes:
            sec.html += "<p>No duplicates.</p>"
            continue
        fig = go.Figure(go.Bar(x=[str(k) for k in sizes], y=list(sizes.values())))
        fig.update_layout(title=f"{name}: cluster sizes", xaxis_title="copies in the cluster (kept + dropped)",
                          yaxis_title="clusters", xaxis_type="category", yaxis=_count_axis(sizes.values()))
        # The chart goes under its own heading (the section's grid comes after every heading).
        sec.html += f'<div class="grid">{chart(fig, f"dedup-{name}")}</div>'
        examples = d.get("examples", [])
        if examples:
            sec.html += table(["copies", "kept", "dropped (first few)"], [
                [e["size"], _where(e["kept"]), "; ".join(_where(m) for m in e["dropped"])] for e in examples])
    return sec


def _where(doc: dict[str, Any]) -> str:
    if doc.get("path") is None:
        return doc.get("id", "?")
    return f"{doc['repo']}/{doc['path']}" if doc.get("repo") else doc["path"]


def _decont(s: dict[str, Any]) -> Section | None:
    d = s.get("decont", {})
    if not d:
        return None
    go = _go()
    names = list(d["benchmarks"])
    b = d["benchmarks"]
    fig = go.Figure([go.Bar(name="items", x=names, y=[b[n]["items"] for n in names]),
                     go.Bar(name="items matched", x=names, y=[b[n]["items_matched"] for n in names]),
                     go.Bar(name="contaminated documents", x=names, y=[b[n]["documents"] for n in names])])
    # A log axis: 1 matched item next to 5,000 items is a visible bar, not a pixel (a zero draws no bar).
    fig.update_layout(barmode="group", title="Benchmarks: items and matches (log scale)", yaxis_title="count",
                      yaxis=_count_axis([b[n][k] for n in names for k in ("items", "items_matched", "documents")], log=True))
    link = f'<p>Every hit with its context: <a href="{d["report"]}">{d["report"]}</a> (also <a href="{d["markdown"]}">Markdown</a>).</p>'
    missing = "".join(f"<li><code>{html.escape(m['name'])}</code>: {html.escape(m.get('reason', ''))}</li>" for m in d.get("missing", []))
    body = link + table(["benchmark", "items", "items matched", "hits", "contaminated documents", "matched items (first 50)"],
                        [[n, b[n]["items"], b[n]["items_matched"], b[n]["hits"], b[n]["documents"], ", ".join(map(str, b[n]["matched_items"]))]
                         for n in names])
    if d.get("items"):
        partial = "" if d.get("items_complete", True) else " (from the hits listed in decontamination.json only: the run's hit files are gone)"
        body += (f"<p>Hits per benchmark item (the {len(d['items'])} most hit of {d['items_total']}){partial}:</p>"
                 + table(["benchmark", "item", "hits", "documents"], [[x["benchmark"], x["item"], x["hits"], x["documents"]] for x in d["items"]]))
    if missing:
        body += f"<p>Benchmarks not checked:</p><ul>{missing}</ul>"
    sec = Section("Decontamination", "decont", body)
    sec.charts = [chart(fig, "decont-benchmarks")] if names else []
    return sec


def _dependency_order(s: dict[str, Any]) -> Section | None:
    langs = s.get("dependency_order") or {}
    if not langs:
        return None

    def share(v: Any) -> str:
        return "" if v is None else f"{v:.1%}"

    return Section("Dependency order", "dependency-order", (
        "<p>Repository samples in dependency order (<code>stages.repo_samples.order: dependency</code>): "
        "import statements read with tree-sitter, those resolved to a file of the same repository, and the "
        "resolved edges whose imported file comes first in the sample order, overall and apart for the edges "
        "inside an import cycle (no order can put all of those first) and the others "
        "(<code>OUT/repo_samples/imports.json</code>).</p>")
        + table(["language", "files", "import statements", "resolved", "edges", "imported first", "edges in cycles",
                 "imported first: outside cycles", "imported first: in cycles"],
                [[lang, v.get("files", 0), v.get("statements", 0), share(v.get("resolved_share")), v.get("edges", 0),
                  share(v.get("imported_first_share")), v.get("cyclic_edges", 0),
                  share(v.get("acyclic_imported_first_share")), share(v.get("cyclic_imported_first_share"))]
                 for lang, v in sorted(langs.items())]))


def _recall(s: dict[str, Any]) -> Section | None:
    r = s.get("recall", {})
    its = r.get("iterations", [])
    if not its:
        return None
    go = _go()
    x = [f"iteration {it['iteration']}" for it in its]
    labels = sorted({k for it in its for k in it["recalled_pages"]})
    pages = go.Figure([go.Bar(name=f"{lab} pages", x=x, y=[it["recalled_pages"].get(lab, 0) for it in its]) for lab in labels]
                      + [go.Scatter(name=f"{lab}: new domains", x=x, y=[it["new_domains"].get(lab, 0) for it in its], mode="lines+markers", yaxis="y2")
                         for lab in labels])
    pages.update_layout(barmode="group", title="Pages recalled and new domains per iteration", yaxis_title="pages",
                        yaxis=_count_axis([v for it in its for v in it["recalled_pages"].values()]),
                        yaxis2={"title": "new domains", "overlaying": "y", "side": "right",
                                **_count_axis([v for it in its for v in it["new_domains"].values()])})
    plabels = sorted({k for it in its for k in it["heldout_precision"]})
    prec = go.Figure([go.Scatter(name=f"{lab} precision", x=x, y=[it["heldout_precision"].get(lab) for it in its], mode="lines+markers")
                      for lab in plabels]
                     + [go.Scatter(name="balanced accuracy", x=x, y=[it["heldout_balanced_accuracy"] for it in its], mode="lines+markers",
                                   line={"dash": "dot"})])
    prec.update_layout(title="Classifier on held-out seed passages (mean over folds)", yaxis_range=[0, 1.05])
    sec = Section("Recall", "recall", table(
        ["iteration", "pages recalled", "tokens recalled", "new domains", "seed-passage precision (held out)", "seed-passage balanced accuracy",
         "held-out seed passages"],
        [[it["iteration"], _kv(it["recalled_pages"]), _kv(it["recalled_tokens"]), _kv(it["new_domains"]), _kv(it["heldout_precision"]),
          it["heldout_balanced_accuracy"], it["heldout_examples"]] for it in its]))
    measured = any(it["heldout_balanced_accuracy"] is not None or it["heldout_precision"] for it in its)
    sec.html += _page_eval(r.get("page_eval") or {})
    sec.charts = [chart(pages, "recall-pages")] + ([chart(prec, "recall-precision")] if measured else [])
    return sec


def _page_eval(pe: dict[str, Any]) -> str:
    """Precision and recall per class on the labelled real pages (docs/recall.md), and where they came from."""
    if not pe.get("pages"):
        missing = ", ".join(f"{m['source']} ({m['package']})" for m in pe.get("missing", []))
        return f"<p>No labelled real pages were available to evaluate on{': missing ' + html.escape(missing) if missing else ''}.</p>" if pe else ""
    body = (f"<h3>On {pe['pages']} labelled real pages</h3><p>The final model at threshold {pe.get('threshold')} (code also needs P(code) >= "
            f"{pe.get('evidence', {}).get('min_code_probability', 0)} and a share of at least "
            f"{pe.get('evidence', {}).get('min_code_tokens', 0)} of its tokens written as code; a page with a share of at least "
            f"{pe.get('evidence', {}).get('min_math_words', 0)} of mathematical words is math, not code) on real HTML pages "
            "whose label follows the written rule of docs/recall.md (documentation of programming: code; of mathematics: math; "
            "everything else: other). The figures above are on held-out seed passages. <em>Test</em> pages come from sources "
            "no rule, threshold or seed was tuned on; <em>dev</em> pages from those they were tuned on.</p>")
    parts = [(f"{split} ({v['pages']} pages)", v["per_class"]) for split, v in pe.get("splits", {}).items()] or [("all", pe.get("per_class", {}))]
    body += table(["pages", "class", "precision", "recall", "pages labelled", "pages predicted", "correct"],
                  [[name, c, v["precision"], v["recall"], v["labelled"], v["predicted"], v["correct"]] for name, pc in parts for c, v in pc.items()])
    body += table(["source", "split", "predicted code", "predicted math", "predicted other"],
                  [[src, v.get("split", ""), v.get("code", 0), v.get("math", 0), v.get("other", 0)] for src, v in pe.get("by_source", {}).items()])
    if pe.get("missing"):
        body += "<p>Sources not installed: " + html.escape(", ".join(f"{m['source']} ({m['package']})" for m in pe["missing"])) + "</p>"
    return body


def _kv(d: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}" for k, v in sorted(d.items()))


def _mixture(s: dict[str, Any]) -> Section | None:
    m = s.get("mixture", {})
    if not m.get("target"):
        return None
    go = _go()
    domains = sorted(set(m["target"]) | set(m.get("achieved", {})))
    fig = go.Figure([go.Bar(name="target", x=domains, y=[m["target"].get(d, 0) for d in domains]),
                     go.Bar(name="achieved", x=domains, y=[m.get("achieved", {}).get(d, 0) for d in domains])])
    fig.update_layout(barmode="group", title="Mixture of the train tokens: target vs achieved", yaxis_tickformat=".0%")
    sec = Section("Mixture", "mixture", table(["domain", "target", "achieved", "tokens", "available tokens", "repeat rate"], [
        [d, f"{m['target'].get(d, 0):.1%}", f"{m.get('achieved', {}).get(d, 0):.1%}", m.get("achieved_tokens", {}).get(d, 0),
         m.get("available_tokens", {}).get(d, 0), m.get("rates", {}).get(d, "")] for d in domains]) + warnings(m.get("warnings", [])))
    sec.charts = [chart(fig, "mixture")]
    return sec


def _shards(s: dict[str, Any]) -> Section | None:
    sh = s.get("shards", {})
    if not sh:
        return None
    go = _go()
    fim = sh["fim"]
    sec = Section("Shards", "shards", cards([
        ("tokens", sh["tokens"]), ("train tokens", sh["train_tokens"]), ("validation tokens", sh["eval_tokens"]),
        ("rows", sh["rows"]), ("shards", sh["shards"]), ("FIM examples", fim["examples"]),
        ("FIM share of code chunks", f"{fim['share_of_code_chunks']:.1%}"), ("FIM whole in a row", f"{fim['whole_in_a_row']:.1%}")]))
    charts = []
    for key, title, chart_id in (("tokens_by_domain", "Train tokens by domain", "shards-domain"),
                                 ("tokens_by_source", "Tokens by source", "shards-source")):
        d = sh.get(key, {})
        if d:
            fig = go.Figure(go.Pie(labels=list(d), values=list(d.values()), hole=0.45, sort=True))
            fig.update_layout(title=title)
            charts.append(chart(fig, chart_id))
    if fim.get("code_chunks"):
        fig = go.Figure(go.Bar(x=["chunks made FIM examples", "chunks left as they are"],
                               y=[fim["examples"], max(0, fim["code_chunks"] - fim["examples"])]))
        fig.update_layout(title=f"FIM at rate {fim.get('rate')} ({fim.get('mode')}) over the FIM-domain chunks", yaxis_title="chunks",
                          yaxis=_count_axis([fim["examples"], fim["code_chunks"]]))
        charts.append(chart(fig, "shards-fim"))
    sec.charts = charts
    return sec
