"""The decontamination report: one dict, written as decontamination.json, .md and a self-contained .html.

The HTML page and the writer of all three files are on the corpus side
(corpus/runreport/decontamination.py).

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

from collections.abc import Iterable
from typing import Any

from decont.index import DecontIndex

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
