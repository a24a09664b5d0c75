"""DIR/ablation.html: the ablation's comparisons and seed spread, in the run report's page style
(corpus.runreport.page). Every figure on it is in ablation.json."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from corpus.runreport.page import Section, cards, chart, page, table


def _bars(title: str, names: list[str], means: list[float], stds: list[float], chart_id: str, y: str) -> str:
    import plotly.graph_objects as go

    fig = go.Figure(go.Bar(x=names, y=means, error_y={"type": "data", "array": stds, "visible": True}))
    fig.update_layout(title=title, yaxis_title=y)
    lo = min(m - s for m, s in zip(means, stds)) if means else 0
    hi = max(m + s for m, s in zip(means, stds)) if means else 1
    pad = max(hi - lo, 1e-3) * 0.5
    fig.update_yaxes(range=[lo - pad, hi + pad])  # differences are small next to the loss: zoom on them
    return chart(fig, chart_id)


def _pm(d: dict[str, float]) -> str:
    return f"{d['mean']:.4f} ± {d['std']:.4f}"


def _cmp(c: dict[str, Any] | None) -> list[Any]:
    if c is None:
        return ["(reference)", "", ""]
    return [f"{c['delta']:+.4f}", f"{c['seed_spread']:.4f}", "yes" if c["beyond_seed_spread"] else "no"]


def render(result: dict[str, Any]) -> str:
    variants, ref, comps = result["variants"], result["reference"], result["comparisons"]
    names = list(variants)
    train = result["config"]["train"]
    ev = result["eval_set"]
    overview = Section("Overview", "overview", cards([
        ("variants", len(names)), ("seeds per variant", len(train["seeds"])), ("steps per run", train["steps"]),
        ("tokens per run", variants[ref]["tokens"]), ("evaluation files", ev["files"]),
        ("languages evaluated", len(ev["by_language"]))]) +
        f"<p>Reference variant <code>{html.escape(ref)}</code>. Evaluation set: the files of "
        f"{len(ev['groups'])} repositories / hosts held out of every variant's training data "
        f"({html.escape(', '.join(ev['groups']))}). A difference counts as real only when it exceeds the range "
        "the seeds span (<i>beyond seed spread</i>).</p>")

    rows = [[n, _pm(v["eval_loss"]), _pm(v["eval_loss"]["bits_per_byte"]), *_cmp(comps.get(n, {}).get("eval_loss"))]
            for n, v in variants.items()]
    held = Section("Held-out loss", "heldout", table(
        ["variant", "loss per token", "bits per byte", "Δ loss vs reference", "seed spread", "beyond seed spread"], rows),
        [_bars("held-out loss per token (mean ± std over seeds)", names, [v["eval_loss"]["mean"] for v in variants.values()],
               [v["eval_loss"]["std"] for v in variants.values()], "heldout", "loss"),
         _bars("held-out bits per byte", names, [v["eval_loss"]["bits_per_byte"]["mean"] for v in variants.values()],
               [v["eval_loss"]["bits_per_byte"]["std"] for v in variants.values()], "heldout-bpb", "bits per byte")])

    langs = sorted({lang for v in variants.values() for lang in v["eval_loss"]["by_language"]})
    lang_rows = [[lang, *[_pm(v["eval_loss"]["by_language"][lang]) if lang in v["eval_loss"]["by_language"] else ""
                          for v in variants.values()]] for lang in langs]
    by_lang = Section("Held-out loss by language", "languages", table(["language", *names], lang_rows))

    benches = sorted({b for v in variants.values() for b in v["benchmark_loss"]})
    bench_html, bench_charts = "", []
    for b in benches:
        rows = [[n, _pm(v["benchmark_loss"][b]), _pm(v["benchmark_loss"][b]["bits_per_byte"]),
                 *_cmp(comps.get(n, {}).get("benchmark_loss", {}).get(b))] for n, v in variants.items() if b in v["benchmark_loss"]]
        problems = next(v["benchmark_loss"][b]["problems"] for v in variants.values() if b in v["benchmark_loss"])
        bench_html += f"<h3>{html.escape(b)} ({problems} problems)</h3>" + table(
            ["variant", "loss per solution token", "bits per byte", "Δ loss vs reference", "seed spread", "beyond seed spread"], rows)
        present = [n for n in names if b in variants[n]["benchmark_loss"]]
        bench_charts.append(_bars(f"{b}: loss of the reference solution given the prompt", present,
                                  [variants[n]["benchmark_loss"][b]["mean"] for n in present],
                                  [variants[n]["benchmark_loss"][b]["std"] for n in present], f"bench-{b}", "loss"))
    bench = Section("Benchmark loss", "benchmarks", bench_html, bench_charts)

    variant_rows = []
    for n, v in variants.items():
        spec = result["config"]["variants"][n]
        variant_rows.append([n, ", ".join(spec.get("skip") or []) or "-", str(spec.get("stages") or "-"),
                             str(spec.get("contaminate") or "-"), v["pipeline"]["corpus_train_tokens"],
                             ", ".join(v["pipeline"]["stages_reused"]) or "-", ", ".join(v["pipeline"]["stages_ran"]) or "-",
                             v["pipeline"]["seconds"], v["seconds"]])
    pipeline = Section("Variants and their pipelines", "variants", table(
        ["variant", "skip", "stage overrides", "contaminate", "corpus train tokens", "stages reused", "stages computed",
         "pipeline s", "total s"], variant_rows))

    seed_rows = [[n, s["seed"], s["final_train_loss"], s["eval"]["loss"],
                  *[s["benchmarks"][b]["loss"] if b in s["benchmarks"] else "" for b in benches], s["train_seconds"], s["eval_seconds"]]
                 for n, v in variants.items() for s in v["seeds"]]
    seeds = Section("Every run", "seeds", table(["variant", "seed", "train loss (last 10 steps)", "held-out loss",
                                                 *[f"{b} loss" for b in benches], "train s", "eval s"], seed_rows))
    lead = (f"{len(names)} pipeline variants × {len(train['seeds'])} seeds, {train['steps']} steps of the "
            f"<code>{html.escape(train['preset'])}</code> preset each · every figure is in <code>ablation.json</code>")
    return page("coder-corpus ablation", lead, [overview, held, by_lang, bench, pipeline, seeds])


def write_page(result: dict[str, Any], path: Path) -> Path:
    path.write_text(render(result), encoding="utf-8")
    return path
