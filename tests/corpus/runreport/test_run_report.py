"""The run report (reports/index.html + summary.json): its figures equal what the run wrote, it reads no
text column, it is self-contained, and every chart draws in a real browser at two window widths."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from corpus import storage
from corpus.runreport import write_run_report
from corpus.runreport.summary import build_summary

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
WIDTHS = (1400, 480)


@pytest.fixture(scope="module")
def report_run(tmp_path_factory):
    """A finished run of the end-to-end fixture (tests/pipelines/test_pipeline.py's input), in process."""
    from corpus.engine.executor import Executor, write_stats_report
    from corpus.engine.runner import InProcessRunner
    from pipelines.graph import build_stages
    from tests.pipelines.test_pipeline import _config

    root = tmp_path_factory.mktemp("report")
    cfg = _config(root, None)
    out = root / "out"
    results = Executor(str(out), seed=cfg.seed, runner=InProcessRunner()).run(build_stages(cfg))
    write_stats_report(out, results)
    written = write_run_report(str(out))
    return out, written


def _rows(folder: Path) -> int:
    return sum(pq.read_metadata(p).num_rows for p in folder.glob("part-*.parquet"))


def test_summary_figures_equal_what_the_run_wrote(report_run) -> None:
    out, written = report_run
    s = json.loads(Path(written["summary"]).read_text())
    stats = json.loads((out / "reports" / "stats.json").read_text())
    assert [st["name"] for st in s["stages"]] == stats["order"]
    for st in s["stages"]:
        assert st["in"] == stats["stages"][st["name"]]["in"] and st["dropped"] == stats["stages"][st["name"]]["dropped"]
        assert st["in"] == st["kept"] + sum(st["dropped"].values())
    langs = s["languages"]
    assert langs["kept_at"] == "decont"  # the last stage before repo_samples in the default order
    assert sum(v["files_kept"] for v in langs["by_language"].values()) == _rows(out / "decont")
    assert sum(v["files_detected"] for v in langs["by_language"].values()) == _rows(out / "langid")
    assert langs["by_language"]["Python"]["files_kept"] > 0 and langs["by_language"]["Python"]["tokens"] > 0
    # The fixture's pkg/copy.py is an exact copy of pkg/mod0.py: one cluster of two, both named.
    exact = s["dedup"]["dedup_exact"]
    assert exact["cluster_sizes"].get("2", 0) >= 1 and exact["clusters"] == sum(exact["cluster_sizes"].values())
    names = {e["kept"]["path"] for e in exact["examples"]} | {m["path"] for e in exact["examples"] for m in e["dropped"]}
    assert {"pkg/copy.py", "pkg/mod0.py"} <= names
    he = s["decont"]["benchmarks"]["humaneval"]
    decont = json.loads((out / "reports" / "decontamination.json").read_text())["benchmarks"]["humaneval"]
    assert he["documents"] == 1 and he["items_matched"] == decont["items_matched"] >= 1  # the planted solution
    items = s["decont"]["items"]
    assert {x["item"] for x in items} == {str(i) for i in decont["matched_items"]} and all(x["documents"] == 1 for x in items)
    assert sum(x["hits"] for x in items) == decont["hits"] == he["hits"]
    manifest = json.loads((out / "shards" / "manifest.json").read_text())
    assert sum(s["shards"]["tokens_by_source"].values()) == sum(sh["tokens"] for sh in manifest["shards"])
    assert s["shards"]["tokens"] == manifest["totals"]["tokens"] and s["mixture"] == manifest["mixture"]
    kept = s["inputs"]["kept"]
    assert kept["stage"] == "dedup_near" and kept["repositories_exact"]
    assert kept["repositories"] == len({r for r in pq.read_table(out / "dedup_near", columns=["repo"])["repo"].to_pylist() if r}) == 3
    assert [it["iteration"] for it in s["recall"]["iterations"]] == [1, 2, 3]
    assert all(it["heldout_balanced_accuracy"] is not None for it in s["recall"]["iterations"])
    recall_json = json.loads((out / "reports" / "recall.json").read_text())
    pe = s["recall"]["page_eval"]  # the labelled real pages, as the recall stage scored them
    assert pe["pages"] == recall_json["page_eval"]["pages"] and pe["per_class"] == recall_json["page_eval"]["per_class"]
    if pe["pages"]:
        assert sum(v["labelled"] for v in pe["per_class"].values()) == pe["pages"]


def test_the_report_reads_no_text_column(report_run, monkeypatch) -> None:
    out, _ = report_run
    read: list[tuple[str, tuple]] = []
    real = storage.parquet_file

    class Spy:
        def __init__(self, uri):
            self.uri, self.f = uri, real(uri)
            self.schema_arrow = self.f.schema_arrow

        def read(self, columns=None, **kw):
            read.append((self.uri, tuple(columns) if columns is not None else None))
            return self.f.read(columns=columns, **kw)

    monkeypatch.setattr(storage, "parquet_file", Spy)
    build_summary(str(out))
    assert read, "the summary reads part columns"
    assert all(cols is not None and "text" not in cols and "input_ids" not in cols for _, cols in read), read


def test_page_is_self_contained(report_run) -> None:
    _, written = report_run
    page = Path(written["html"]).read_text()
    # Nothing fetched from elsewhere (plotly.js itself mentions CDNs in strings it never loads here).
    assert not re.search(r'<(script|link|img|iframe)\b[^>]*\b(src|href)\s*=\s*["\']?(https?:)?//', page, re.I)
    assert page.count('class="chart plotly-graph-div"') >= 8
    summary = json.loads(Path(written["summary"]).read_text())
    assert f"{summary['shards']['tokens']:,}" in page  # a headline figure of summary.json is on the page
    assert "Hits per benchmark item" in page and "pkg/copy.py" in page  # the leaked item, a dedup cluster
    assert "seed-passage precision (held out)" in page  # the seed-passage figure, named as such
    pe = summary["recall"]["page_eval"]
    assert (f"On {pe['pages']} labelled real pages" in page) if pe.get("pages") else ("No labelled real pages" in page)


def test_each_dedup_chart_sits_under_its_own_heading(report_run) -> None:
    _, written = report_run
    page = Path(written["html"]).read_text().split("</head>", 1)[1]
    heads = [(m.start(), m.group(1)) for m in re.finditer(r"<h3>([^<]+)</h3>", page)]
    charts = [(m.start(), m.group(1)) for m in re.finditer(r'id="chart-dedup-([a-z_]+)"', page)]
    assert {name for _, name in charts} == {"dedup_exact", "dedup_near"} or {name for _, name in charts} == {"dedup_exact"}
    for at, name in charts:
        assert max((h for h in heads if h[0] < at), key=lambda h: h[0])[1] == name


def test_the_page_says_what_wall_time_and_byte_changes_leave_out() -> None:
    """The wall time leaves Ray's start out (run.json) and says so; a stage whose bytes change with no
    record dropped (langid rewriting notebooks) says why."""
    from corpus.runreport.render import render_report

    row = {"name": "langid", "in": 2, "kept": 2, "out": 2, "dropped": {}, "bytes_in": 5_000_000, "bytes_kept": 3_000_000,
           "bytes_dropped": {}, "seconds": 1, "task_cpu_seconds": 1}
    page = render_report({"output": "out", "run": {"wall_seconds": 12.5, "runner_start_seconds": 3.25, "cpus": 2},
                          "stages": [row], "languages": {}, "inputs": {}, "dedup": {}, "decont": {}, "recall": {},
                          "mixture": {}, "shards": {}, "warnings": []}).split("</head>", 1)[1]
    assert "12.5 s wall on 2 CPUs (not counting the 3.25 s spent starting Ray)" in page
    assert "<code>langid</code>: -2.0 MB with no record dropped: Jupyter notebooks are rewritten" in page
    page = render_report({"output": "out", "run": {"wall_seconds": 12.5, "runner_start_seconds": 0.0, "cpus": 2},
                          "stages": [{**row, "bytes_kept": 5_000_000}], "languages": {}, "inputs": {}, "dedup": {}, "decont": {},
                          "recall": {}, "mixture": {}, "shards": {}, "warnings": []}).split("</head>", 1)[1]
    assert "starting Ray" not in page and "rewriting" not in page


def test_corpus_report_command_rewrites_an_existing_output(report_run, tmp_path) -> None:
    from corpus.cli import main

    out, written = report_run
    Path(written["html"]).unlink()
    assert main(["report", str(out)]) == 0
    assert Path(written["html"]).exists()
    assert main(["report", str(tmp_path)]) == 2  # not a run: says so, writes nothing
    assert not (tmp_path / "reports").exists()


# ----------------------------------------------------------------------------------- in a browser


def _browser(tmp_path: Path):
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("Debian's chromium and chromium-driver are not installed (`make system-deps` installs them as root)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    # Root needs --no-sandbox; the network flags keep Chromium from calling out of a closed network.
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    # Script errors, including ones the console log would not keep, land in window.__errors.
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": (
        "window.__errors = []; addEventListener('error', e => window.__errors.push(String(e.message)));"
        "addEventListener('unhandledrejection', e => window.__errors.push(String(e.reason)));")})
    return driver


_CHART_STATE = """
return Array.from(document.querySelectorAll('.chart')).map(c => {
  const r = c.getBoundingClientRect();
  const svg = c.querySelector('svg.main-svg');
  return {id: c.id, drawn: !!svg && svg.getBoundingClientRect().width > 0,
          traces: c.querySelectorAll('g.trace, g.slice').length,
          right: r.right, width: r.width, svg_width: svg ? svg.getBoundingClientRect().width : 0};
});
"""


# The parts of a chart that must not cover each other: the toolbar (modebar), the title, the legend, the
# axis titles; and every count axis's tick labels (an axis titled as a count must not show "0.5").
_CHART_PARTS = """
const parts = {modebar: '.modebar', title: '.g-gtitle', legend: '.legend', 'x title': '.g-xtitle',
               'y title': '.g-ytitle', 'y2 title': '.g-y2title'};
return Array.from(document.querySelectorAll('.chart')).map(c => {
  const boxes = {};
  for (const [name, sel] of Object.entries(parts)) {
    const el = c.querySelector(sel);
    if (!el) continue;
    const r = el.getBoundingClientRect();
    if (r.width > 0 && r.height > 0) boxes[name] = [r.left, r.top, r.right, r.bottom];
  }
  const axes = [];
  const layout = c.layout || {};
  for (const key of Object.keys(layout).filter(k => /^[xy]axis\\d*$/.test(k))) {
    const t = layout[key].title;
    const id = key[0] + key.slice(5);  // yaxis2 -> y2: its ticks are g.y2tick
    axes.push({axis: key, title: t ? (typeof t === 'string' ? t : (t.text || '')) : '',
               ticks: Array.from(c.querySelectorAll('g.' + id + 'tick text')).map(el => el.textContent)});
  }
  return {id: c.id, boxes: boxes, axes: axes};
});
"""
COUNT_TITLES = ("records", "clusters", "pages", "new domains", "count", "chunks", "tokens")


def _overlap(a: list[float], b: list[float]) -> float:
    """Area (px²) two boxes [left, top, right, bottom] share."""
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))


def page_problems(driver, url: str, width: int) -> list[str]:
    """What is wrong with a page of charts at a window width: script errors (console or window),
    charts that drew nothing, charts wider than the window. [] when every chart drew."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.set_window_size(width, 1000)
    driver.get(url)
    WebDriverWait(driver, 30).until(lambda d: d.execute_script("return document.readyState") == "complete")
    try:  # plotly draws asynchronously: wait until every chart has its svg, or time out and report it
        WebDriverWait(driver, 20).until(lambda d: all(c["drawn"] and c["svg_width"] <= c["width"] + 1 for c in d.execute_script(_CHART_STATE)))
    except Exception:  # noqa: BLE001 - a timeout is reported below as the undrawn charts
        pass
    problems = [f"console: {e['message']}" for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    problems += [f"script error: {e}" for e in driver.execute_script("return window.__errors || []")]
    client = driver.execute_script("return document.documentElement.clientWidth")
    charts = driver.execute_script(_CHART_STATE)
    if not charts:
        problems.append("no charts on the page")
    for c in charts:
        if not c["drawn"] or c["traces"] == 0:
            problems.append(f"chart {c['id']} drew nothing")
        if c["right"] > client + 1:
            problems.append(f"chart {c['id']} overflows the {client}px window (right edge {c['right']:.0f})")
        if c["svg_width"] > c["width"] + 1:  # drawn wider than its box: the right part is cut off
            problems.append(f"chart {c['id']} is clipped: drawn {c['svg_width']:.0f}px wide in a {c['width']:.0f}px box")
    for c in driver.execute_script(_CHART_PARTS):
        names = sorted(c["boxes"])
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                if _overlap(c["boxes"][a], c["boxes"][b]) > 4:  # a few px² of anti-aliasing are not an overlap
                    problems.append(f"chart {c['id']}: the {a} overlaps the {b}")
        for ax in c["axes"]:
            if ax["title"] in COUNT_TITLES and any("." in t for t in ax["ticks"]):
                problems.append(f"chart {c['id']}: count axis {ax['axis']} ({ax['title']}) has fractional ticks {ax['ticks']}")
    return problems


@pytest.mark.parametrize("page", ["index.html", "decontamination.html"])
def test_every_chart_draws_in_chromium(report_run, tmp_path, page) -> None:
    out, _ = report_run
    driver = _browser(tmp_path)
    try:
        for width in WIDTHS:
            problems = page_problems(driver, (out / "reports" / page).as_uri(), width)
            assert problems == [], f"{page} at {width}px: {problems}"
    finally:
        driver.quit()


def test_the_browser_check_catches_a_broken_page(tmp_path) -> None:
    """The check above must be able to fail: a chart whose script throws, and an empty chart."""
    from corpus.runreport.page import plotly_js

    bad = tmp_path / "bad.html"
    bad.write_text(f"<html><head><script>{plotly_js()}</script></head><body>"
                   '<div id="a" class="chart"></div><script>Plotly.newPlot("a", [{type: "bar", y: [1]}]); undefinedFunction();</script>'
                   '<div id="b" class="chart" style="width: 3000px"></div>'
                   '<div id="c" class="chart" style="width: 300px; overflow: hidden"></div>'
                   '<script>Plotly.newPlot("c", [{type: "bar", y: [1, 2]}], {width: 700});</script>'
                   # a long title running under the toolbar, and a count axis stepping by 0.5
                   '<div id="d" class="chart" style="width: 500px"></div><script>Plotly.newPlot("d", [{type: "bar", y: [1, 2]}],'
                   ' {title: {text: "A long title that runs all the way to the right edge of it"}, margin: {t: 30},'
                   ' yaxis: {title: {text: "records"}}}, {displayModeBar: true});</script></body></html>')
    driver = _browser(tmp_path)
    try:
        problems = page_problems(driver, bad.as_uri(), 800)
    finally:
        driver.quit()
    assert any("undefinedFunction" in p for p in problems), problems
    assert any("chart b drew nothing" in p for p in problems), problems
    assert any("chart b overflows" in p for p in problems), problems
    assert any("chart chart-c is clipped" in p or "chart c is clipped" in p for p in problems), problems
    assert any("chart d: the modebar overlaps the title" in p for p in problems), problems
    assert any("chart d: count axis yaxis (records) has fractional ticks" in p for p in problems), problems


# ------------------------------------------------------------------ other run shapes, hostile names


@pytest.fixture(scope="module")
def subset_run(tmp_path_factory):
    """A run of three stages with nothing dropped: no dedup, decont, recall or shards to report."""
    from corpus.engine.executor import Executor, write_stats_report
    from corpus.engine.runner import InProcessRunner
    from pipelines.config import PipelineConfig
    from pipelines.graph import build_stages

    root = tmp_path_factory.mktemp("subset")
    repo = root / "repos" / "tidy"
    repo.mkdir(parents=True)
    for i in range(4):
        (repo / f"mod{i}.py").write_text("\n".join(f"def f{i}_{j}(x):\n    return x + {j}\n" for j in range(8)))
    cfg = PipelineConfig.model_validate({"inputs": [{"name": "github", "kind": "repos", "paths": [str(root / "repos")], "each_subdir": True}],
                                         "run": ["ingest", "langid", "filter"]})
    out = root / "out"
    results = Executor(str(out), seed=cfg.seed, runner=InProcessRunner()).run(build_stages(cfg))
    write_stats_report(out, results)
    return out, write_run_report(str(out))


def test_a_stage_subset_run_gets_a_report_without_empty_charts(subset_run, tmp_path) -> None:
    out, written = subset_run
    s = json.loads(Path(written["summary"]).read_text())
    assert [st["name"] for st in s["stages"]] == ["ingest", "langid", "filter"]
    assert s["dedup"] == {} and s["decont"] == {} and s["shards"] == {} and s["recall"] == {}
    assert s["languages"]["by_language"]["Python"]["files_kept"] == 4
    page = Path(written["html"]).read_text()
    assert 'id="chart-funnel-reasons"' not in page  # nothing dropped: no empty reasons chart
    driver = _browser(tmp_path)
    try:
        for width in WIDTHS:
            assert page_problems(driver, Path(written["html"]).as_uri(), width) == []
    finally:
        driver.quit()


def test_hostile_names_are_escaped_on_the_page() -> None:
    from corpus.runreport.render import render_report

    evil = '<img src=x onerror="alert(1)"></script><script>alert(2)</script>'
    summary = {
        "output": evil, "run": {}, "warnings": [evil],
        "stages": [{"name": "ingest", "in": 1, "kept": 1, "out": 1, "dropped": {evil: 0}, "bytes_in": 1, "bytes_kept": 1,
                    "bytes_dropped": {}, "seconds": 1, "task_cpu_seconds": 1, "parts": []}],
        "languages": {"detected_at": "langid", "kept_at": "filter", "kept_languages": 1, "in_shards": 0,
                      "by_language": {evil: {"files_detected": 1, "bytes_detected": 1, "files_kept": 1, "bytes_kept": 1,
                                             "files_dropped": 0, "bytes_dropped": 0, "tokens": 0}}},
        "inputs": {"kept": {"stage": "filter", "repositories": 1, "web_pages": 0, "web_hosts": 0, "documents_by_source": {evil: 1}}},
        "dedup": {"dedup_exact": {"in": 2, "dropped": 1, "duplicate_rate": 0.5, "bytes_dropped": 1, "clusters": 1,
                                  "cluster_sizes": {"2": 1}, "examples": [{"size": 2, "kept": {"repo": evil, "path": evil},
                                                                             "dropped": [{"repo": evil, "path": evil}]}]}},
        "decont": {"benchmarks": {evil: {"items": 1, "items_matched": 1, "hits": 1, "documents": 1, "matched_items": [evil]}},
                   "items": [{"benchmark": evil, "item": evil, "hits": 1, "documents": 1}], "items_total": 1,
                   "missing": [{"name": evil, "reason": evil}], "report": "decontamination.html", "markdown": "decontamination.md"},
        "recall": {}, "mixture": {}, "shards": {},
    }
    page = render_report(summary)
    body = page.split("</head>", 1)[1]  # plotly.js itself is in the head
    assert "<img src=x" not in body and "<script>alert(2)" not in body and "alert(1)\"></script>" not in body
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in body
