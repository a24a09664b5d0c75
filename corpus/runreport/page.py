"""A self-contained HTML page of Plotly charts and small tables: the one page builder of every report.

plotly.js is embedded once per page (no CDN: reports are opened offline, from object stores, from
mail attachments). Charts size themselves to their container (`responsive`), and legends sit below the
plot area, so a narrow window neither clips a chart nor lays a legend over its title.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

CHART_CLASS = "chart"  # every chart's container: what the browser test looks for
MODEBAR_HEIGHT = 34  # px: plotly's toolbar (25 px buttons, 2 px from the top) and a gap
TOP_MARGIN = 84  # px above the plot area: the toolbar, then a one-line title

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 1200px;
       padding: 0 1rem 3rem; color: #1f2328; }
h1 { margin-top: 1.2rem; } h2 { border-bottom: 1px solid #d0d7de; padding-bottom: .2rem; margin-top: 2rem; }
.lead { color: #57606a; }
/* auto-fill, not auto-fit: a grid's first chart draws before its siblings exist and must not span the row */
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(100%, 480px), 1fr)); gap: 1rem; }
.grid > * { min-width: 0; }  /* a grid cell may shrink below the chart's first drawn width */
.chart { width: 100%; min-height: 340px; }
table { border-collapse: collapse; margin: .5rem 0 1rem; font-size: .9rem; display: block; overflow-x: auto; }
th, td { border: 1px solid #d0d7de; padding: .25rem .6rem; text-align: right; }
th, td { white-space: nowrap; } td.long { white-space: normal; min-width: 16rem; max-width: 40rem; overflow-wrap: anywhere; }
th:first-child, td:first-child { text-align: left; }
th { background: #f6f8fa; }
.cards { display: flex; flex-wrap: wrap; gap: .8rem; margin: 1rem 0; }
.card { border: 1px solid #d0d7de; border-radius: 6px; padding: .5rem .9rem; min-width: 9rem; }
.card b { display: block; font-size: 1.3rem; }
.warn { background: #fff8c5; border: 1px solid #d4a72c; border-radius: 6px; padding: .4rem .8rem; margin: .3rem 0; }
code { background: #f6f8fa; padding: 0 .2rem; }
"""


# Each chart draws as its <div> is parsed, before the rest of the grid exists (a lone first item spans
# the whole row), so it can be drawn wider than the cell it ends up in: redraw every chart at its final
# size once the page has laid out.
_RESIZE_ON_LOAD = ("window.addEventListener('load', function () {"
                   " document.querySelectorAll('.js-plotly-plot').forEach(function (el) { Plotly.Plots.resize(el); }); });")


def plotly_js() -> str:
    """The plotly.js bundle the installed plotly ships (embedded, so the page works offline)."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def chart(fig: Any, chart_id: str) -> str:
    """A figure as a <div> (plus the script that draws it), sized by its container."""
    import plotly.io as pio

    chart_id = f"chart-{chart_id}"  # apart from section anchors: two elements with one id break drawing

    # plotly's toolbar (modebar) sits in the top-right corner of the chart, over the top margin: the
    # title goes below it (pinned to the container's top, padded past the toolbar's height), and the
    # top margin leaves room for both, so a long title never runs under the toolbar's buttons.
    fig.update_layout(
        autosize=True,
        margin={"l": 60, "r": 20, "t": TOP_MARGIN, "b": 40},
        # The legend sits at the container's bottom edge (which plotly makes room for), not a fixed share
        # below the plot, so tick labels that rotate on a narrow window cannot push the axis title into it.
        legend={"orientation": "h", "yref": "container", "yanchor": "bottom", "y": 0, "xanchor": "left", "x": 0},
        title={"x": 0.01, "xanchor": "left", "y": 1, "yref": "container", "yanchor": "top", "pad": {"t": MODEBAR_HEIGHT}},
        template="plotly_white",
    )
    return pio.to_html(fig, full_html=False, include_plotlyjs=False, div_id=chart_id,
                       default_width="100%", default_height="380px",
                       config={"responsive": True, "displaylogo": False}).replace(
        'class="plotly-graph-div"', f'class="{CHART_CLASS} plotly-graph-div"', 1)


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """An HTML table; numbers get thousands separators."""
    def cell(v: Any) -> str:
        if isinstance(v, bool) or v is None:
            return html.escape(str(v if v is not None else ""))
        if isinstance(v, int):
            return f"{v:,}"
        if isinstance(v, float):
            return f"{v:,.4g}"
        return html.escape(str(v))

    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    def td(v: Any) -> str:
        long = isinstance(v, str) and len(v) > 40  # lists of reasons, paths: wrap; numbers never do
        return f'<td class="long">{cell(v)}</td>' if long else f"<td>{cell(v)}</td>"

    body = "".join("<tr>" + "".join(td(v) for v in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def cards(items: Iterable[tuple[str, Any]]) -> str:
    """Headline figures as small boxes."""
    out = []
    for label, value in items:
        text = f"{value:,}" if isinstance(value, int) else (f"{value:,.3g}" if isinstance(value, float) else str(value))
        out.append(f'<div class="card"><b>{html.escape(text)}</b>{html.escape(label)}</div>')
    return f'<div class="cards">{"".join(out)}</div>'


def warnings(lines: Iterable[str]) -> str:
    return "".join(f'<div class="warn">{html.escape(w)}</div>' for w in lines)


@dataclass
class Section:
    """One titled part of a page: prose/tables (`html`, already escaped) and charts in a grid."""

    title: str
    anchor: str
    html: str = ""
    charts: list[str] = field(default_factory=list)

    def render(self) -> str:
        grid = f'<div class="grid">{"".join(self.charts)}</div>' if self.charts else ""
        return f'<section id="{self.anchor}"><h2>{html.escape(self.title)}</h2>{self.html}{grid}</section>'


def page(title: str, lead: str, sections: list[Section]) -> str:
    """The whole document: plotly.js once, a table of contents, the sections."""
    toc = " · ".join(f'<a href="#{s.anchor}">{html.escape(s.title)}</a>' for s in sections)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style>"
        f"<script>{plotly_js()}</script></head><body>"
        f"<h1>{html.escape(title)}</h1><p class=\"lead\">{lead}</p><nav>{toc}</nav>"
        + "".join(s.render() for s in sections)
        + f"<script>{_RESIZE_ON_LOAD}</script></body></html>\n"
    )
