"""The decontamination report: one dict, written as decontamination.json, .md and a self-contained .html.

JSON shape (stable keys; extra keys may be added):
{
  "format": "coder-corpus-decont/1",
  "rule": {...DecontConfig...},
  "index": {"keys", "memory_bytes", "build_seconds", ...},
  "benchmarks": {name: {"items", "items_indexed", "items_matched", "documents", "hits", "keys", "short_strings", "source"}},
  "missing": [{"name", "source", "reason"}],
  "documents": {"scanned", "contaminated", "bytes", "skipped"},
  "skipped": {reason: count},
  "by_source": {source: {"scanned", "contaminated", "bytes"}},
  "by_language": {language: {...}},
  "hits": [{"doc", "id", "source", "repo", "path", "language", "benchmark", "item", "field", "ngram", "offset", "context", "grams", "matches"}]
}
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any, Iterable

from corpus.decont.index import DecontIndex

FORMAT = "coder-corpus-decont/1"
MAX_LISTED_HITS = 2000  # the Markdown / HTML pages list at most this many hits; the JSON has all


def build_report(
    index: DecontIndex,
    counts: dict[str, Any],
    hits: Iterable[dict[str, Any]],
    missing: Iterable[dict[str, str]] = (),
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Assemble the report from the index, merged scan counts (scan.merge_counts) and all hits."""
    hits = sorted(hits, key=lambda h: (h["benchmark"], str(h["item"]), str(h["doc"])))
    by_bench = counts.get("by_benchmark", {})
    benchmarks: dict[str, Any] = {}
    for name, st in index.stats.items():
        b = by_bench.get(name, {})
        benchmarks[name] = {
            "items": st.items,
            "items_indexed": st.items_indexed,
            "items_matched": len(b.get("items", [])),
            "documents": b.get("documents", 0),
            "hits": b.get("hits", 0),
            "keys": st.keys,
            "short_strings": st.short_strings,
            "source": st.source,
            "matched_items": list(b.get("items", [])),
        }
    report = {
        "format": FORMAT,
        "rule": dict(index.config.__dict__),
        "index": index.describe(),
        "benchmarks": benchmarks,
        "missing": list(missing),
        "documents": dict(counts.get("documents", {})),
        "skipped": dict(counts.get("skipped", {})),
        "by_source": dict(counts.get("by_source", {})),
        "by_language": dict(counts.get("by_language", {})),
        "hits": hits,
    }
    report["rule"]["min_content_by_benchmark"] = dict(index.config.min_content_by_benchmark)
    report["index"]["config"] = report["rule"]
    if extra:
        report.update(extra)
    return report


def write_reports(report: dict[str, Any], out_dir: str | Path) -> dict[str, str]:
    """Write decontamination.json, .md and .html into out_dir (a local path or an object-store URI,
    through corpus.storage); returns their locations."""
    from corpus import storage

    out = str(out_dir)
    paths = {ext: storage.join(out, f"decontamination.{ext}") for ext in ("json", "md", "html")}
    storage.write_text(paths["json"], json.dumps(report, indent=1, ensure_ascii=False, default=str) + "\n")
    storage.write_text(paths["md"], render_markdown(report))
    storage.write_text(paths["html"], render_html(report))
    return paths


# ---------------------------------------------------------------- Markdown


def _unit(r: dict[str, Any]) -> str:
    return "file (web: page)" if r.get("level") == "file" else "input record"


def _pct(a: int, b: int) -> str:
    return f"{100.0 * a / b:.3f}%" if b else "-"


def _md_cell(s: Any) -> str:
    return str(s).replace("|", "\\|").replace("\n", "⏎").replace("\r", "")


def render_markdown(r: dict[str, Any]) -> str:
    d = r["documents"]
    rule = r["rule"]
    lines = [
        "# Decontamination report",
        "",
        f"Rule: a document is contaminated if it contains any {rule['n']}-gram of a benchmark text; benchmark "
        f"strings of {rule['min_short']}..{rule['n'] - 1} grams are matched whole. Gram unit: `{rule['unit']}`. "
        f"Rule variant: `{rule.get('rule', 'guarded')}`. Each document is one {_unit(r)}.",
        "",
        f"- Documents scanned: **{d.get('scanned', 0)}** ({d.get('bytes', 0) / 1e6:.1f} MB), contaminated: "
        f"**{d.get('contaminated', 0)}** ({_pct(d.get('contaminated', 0), d.get('scanned', 0))}), skipped: {d.get('skipped', 0)}",
        f"- Index: {r['index']['keys']} keys, {r['index']['memory_bytes'] / 1e6:.1f} MB, built in "
        f"{r['index']['build_seconds']:.2f} s; hits are verified gram by gram (false-positive rate of the index: 0).",
        "",
        "## Benchmarks",
        "",
        "| benchmark | items | items indexed | items matched | documents | hits | keys | source |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, b in r["benchmarks"].items():
        lines.append(
            f"| {name} | {b['items']} | {b['items_indexed']} | {b['items_matched']} | {b['documents']} | {b['hits']} | {b['keys']} | {_md_cell(b['source'])} |"
        )
    if r["missing"]:
        lines += ["", "## Missing benchmarks (not checked)", "", "| benchmark | source | reason |", "|---|---|---|"]
        for m in r["missing"]:
            lines.append(f"| {m['name']} | {_md_cell(m.get('source', ''))} | {_md_cell(m['reason'])} |")
    for title, key in (("By source", "by_source"), ("By language", "by_language")):
        lines += ["", f"## {title}", "", "| name | scanned | contaminated | rate | MB |", "|---|---:|---:|---:|---:|"]
        for name, row in sorted(r[key].items(), key=lambda kv: -kv[1]["scanned"]):
            lines.append(
                f"| {_md_cell(name)} | {row['scanned']} | {row['contaminated']} | {_pct(row['contaminated'], row['scanned'])} | {row['bytes'] / 1e6:.2f} |"
            )
    if r["skipped"]:
        lines += ["", "## Skipped records", "", "| reason | count |", "|---|---:|"]
        for reason, n in sorted(r["skipped"].items(), key=lambda kv: -kv[1]):
            lines.append(f"| {_md_cell(reason)} | {n} |")
    hits = r["hits"]
    total = r.get("hits_total", len(hits))
    lines += ["", f"## Hits ({total})", ""]
    if total > len(hits):
        lines += [f"decontamination.json lists {len(hits)}; all are in {r.get('hits_dataset', 'the hits dataset')}.", ""]
    if len(hits) > MAX_LISTED_HITS:
        lines.append(f"First {MAX_LISTED_HITS} listed; all are in decontamination.json.")
        lines.append("")
    lines += ["| document | benchmark | item | field | n-gram | context |", "|---|---|---|---|---|---|"]
    for h in hits[:MAX_LISTED_HITS]:
        lines.append(
            f"| {_md_cell(h['doc'])} | {h['benchmark']} | {_md_cell(h['item'])} | {h['field']} | `{_md_cell(h['ngram'])}` | {_md_cell(h['context'])} |"
        )
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- HTML


def _bars(title: str, rows: list[tuple[str, float, float]], legend: tuple[str, str]) -> str:
    """Inline SVG: for each row a grey bar (total) and a red bar (part), both scaled to the largest total."""
    if not rows:
        return ""
    width, label_w, bar_h, gap = 760, 200, 12, 8
    top = 28
    height = top + len(rows) * (2 * bar_h + gap) + 10
    peak = max(max(a, b) for _, a, b in rows) or 1
    plot_w = width - label_w - 120
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" aria-label="{html.escape(title)}">',
        f'<text x="0" y="14" font-size="14" font-weight="bold">{html.escape(title)}</text>',
        f'<rect x="{label_w}" y="4" width="10" height="10" fill="#9aa5b1"/><text x="{label_w + 14}" y="13" font-size="11">{html.escape(legend[0])}</text>',
        f'<rect x="{label_w + 130}" y="4" width="10" height="10" fill="#d64545"/><text x="{label_w + 144}" y="13" font-size="11">{html.escape(legend[1])}</text>',
    ]
    y = top
    for label, total, part in rows:
        w1 = plot_w * total / peak
        w2 = plot_w * part / peak
        if part:
            w2 = max(w2, 1.5)  # a nonzero count stays visible next to a much larger total
        parts.append(f'<text x="{label_w - 6}" y="{y + bar_h + 4}" font-size="11" text-anchor="end">{html.escape(label[:32])}</text>')
        parts.append(f'<rect x="{label_w}" y="{y}" width="{w1:.1f}" height="{bar_h}" fill="#9aa5b1"/>')
        parts.append(f'<text x="{label_w + w1 + 4:.1f}" y="{y + bar_h - 2}" font-size="10">{total:g}</text>')
        parts.append(f'<rect x="{label_w}" y="{y + bar_h}" width="{w2:.1f}" height="{bar_h}" fill="#d64545"/>')
        parts.append(f'<text x="{label_w + w2 + 4:.1f}" y="{y + 2 * bar_h - 2}" font-size="10">{part:g}</text>')
        y += 2 * bar_h + gap
    parts.append("</svg>")
    return "\n".join(parts)


def _table(head: list[str], rows: list[list[Any]]) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _context_html(h: dict[str, Any]) -> str:
    ctx, ng = h.get("context") or "", h.get("ngram") or ""
    i = ctx.find(ng) if ng else -1
    if i < 0:
        return html.escape(ctx)
    return html.escape(ctx[:i]) + "<mark>" + html.escape(ng) + "</mark>" + html.escape(ctx[i + len(ng) :])


def render_html(r: dict[str, Any]) -> str:
    e = html.escape
    d = r["documents"]
    bench_rows = [(n, b["items"], b["items_matched"]) for n, b in r["benchmarks"].items()]
    src_rows = [(n, v["scanned"], v["contaminated"]) for n, v in sorted(r["by_source"].items(), key=lambda kv: -kv[1]["scanned"])][:30]
    lang_rows = [(n, v["scanned"], v["contaminated"]) for n, v in sorted(r["by_language"].items(), key=lambda kv: -kv[1]["scanned"])][:30]
    hits = r["hits"][:MAX_LISTED_HITS]
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Decontamination report</title>",
        "<style>body{font-family:sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse;margin:1em 0}"
        "td,th{border:1px solid #ccc;padding:3px 6px;font-size:12px;vertical-align:top}"
        "td pre{white-space:pre-wrap;margin:0;max-width:520px}mark{background:#ffd54f}.warn{color:#b00}</style></head><body>",
        "<h1>Decontamination report</h1>",
        f"<p>Rule: contaminated if a document contains any {r['rule']['n']}-gram of a benchmark text; benchmark strings of "
        f"{r['rule']['min_short']}..{r['rule']['n'] - 1} grams matched whole; gram unit <code>{e(r['rule']['unit'])}</code>; "
        f"rule variant <code>{e(str(r['rule'].get('rule', 'guarded')))}</code>; each document is one {e(_unit(r))}.</p>",
        f"<p>Documents scanned <b>{d.get('scanned', 0)}</b> ({d.get('bytes', 0) / 1e6:.1f} MB), contaminated <b>{d.get('contaminated', 0)}</b> "
        f"({_pct(d.get('contaminated', 0), d.get('scanned', 0))}), skipped {d.get('skipped', 0)}. "
        f"Index: {r['index']['keys']} keys, {r['index']['memory_bytes'] / 1e6:.1f} MB, built in {r['index']['build_seconds']:.2f} s.</p>",
    ]
    if r["missing"]:
        parts.append("<p class='warn'><b>Not checked:</b> " + "; ".join(f"{e(m['name'])} ({e(m['reason'])})" for m in r["missing"]) + "</p>")
    parts.append(_bars("Benchmark items: indexed vs matched", bench_rows, ("items", "items matched")))
    parts.append(
        _table(
            ["benchmark", "items", "indexed", "matched", "documents", "hits", "keys", "source"],
            [[e(n), b["items"], b["items_indexed"], b["items_matched"], b["documents"], b["hits"], b["keys"], e(str(b["source"]))] for n, b in r["benchmarks"].items()],
        )
    )
    parts.append(_bars("Documents by source: scanned vs contaminated", src_rows, ("scanned", "contaminated")))
    parts.append(_bars("Documents by language: scanned vs contaminated", lang_rows, ("scanned", "contaminated")))
    if r["skipped"]:
        parts.append("<h2>Skipped records</h2>" + _table(["reason", "count"], [[e(k), v] for k, v in r["skipped"].items()]))
    parts.append(f"<h2>Hits ({len(r['hits'])})</h2>")
    if len(r["hits"]) > MAX_LISTED_HITS:
        parts.append(f"<p>First {MAX_LISTED_HITS} listed; all are in decontamination.json.</p>")
    parts.append(
        _table(
            ["document", "benchmark", "item", "field", "context (n-gram marked)"],
            [[e(str(h["doc"])), e(h["benchmark"]), e(str(h["item"])), e(h["field"]), f"<pre>{_context_html(h)}</pre>"] for h in hits],
        )
    )
    parts.append("</body></html>")
    return "\n".join(parts)
