"""Bar charts as inline SVG, drawn on the server: the report page needs no script and works
under the service's Content-Security-Policy (presentation attributes only, no inline styles)."""
from __future__ import annotations

from markupsafe import Markup, escape

WIDTH, HEIGHT = 720, 260
MARGIN_LEFT, MARGIN_BOTTOM, MARGIN_TOP = 48, 56, 24
COLOURS = ("#3b6ea8", "#d08c2b", "#5b9a5b", "#a14d6b")


def bar_chart(title: str, labels: list[str], series: dict[str, list[float]]) -> Markup:
    """Grouped bars: one group per label, one bar per series, with a legend and a y-axis maximum."""
    peak = max([v for values in series.values() for v in values] + [1])
    plot_w, plot_h = WIDTH - MARGIN_LEFT - 8, HEIGHT - MARGIN_BOTTOM - MARGIN_TOP
    group_w = plot_w / max(1, len(labels))
    bar_w = max(2.0, group_w * 0.8 / max(1, len(series)))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" '
             f'height="{HEIGHT}" role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>',
             _axes(peak, plot_h)]
    for i, label in enumerate(labels):
        x0 = MARGIN_LEFT + i * group_w + group_w * 0.1
        for j, (name, values) in enumerate(series.items()):
            parts.append(_bar(x0 + j * bar_w, bar_w, values[i], peak, plot_h, COLOURS[j % len(COLOURS)], name, label))
        parts.append(f'<text x="{x0 + group_w * 0.4:.1f}" y="{HEIGHT - MARGIN_BOTTOM + 16}" font-size="11" '
                     f'text-anchor="middle">{escape(label)}</text>')
    parts.append(_legend(list(series)))
    parts.append("</svg>")
    return Markup("".join(parts))


def _axes(peak: float, plot_h: float) -> str:
    base = MARGIN_TOP + plot_h
    return (f'<line x1="{MARGIN_LEFT}" y1="{MARGIN_TOP}" x2="{MARGIN_LEFT}" y2="{base}" stroke="#555"/>'
            f'<line x1="{MARGIN_LEFT}" y1="{base}" x2="{WIDTH - 8}" y2="{base}" stroke="#555"/>'
            f'<text x="{MARGIN_LEFT - 6}" y="{MARGIN_TOP + 4}" font-size="11" text-anchor="end">{_num(peak)}</text>'
            f'<text x="{MARGIN_LEFT - 6}" y="{base}" font-size="11" text-anchor="end">0</text>')


def _bar(x: float, w: float, value: float, peak: float, plot_h: float, colour: str, name: str, label: str) -> str:
    h = plot_h * (value / peak) if peak else 0
    y = MARGIN_TOP + plot_h - h
    return (f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" fill="{colour}">'
            f'<title>{escape(label)} {escape(name)}: {_num(value)}</title></rect>')


def _legend(names: list[str]) -> str:
    y = HEIGHT - 14
    items = []
    for j, name in enumerate(names):
        x = MARGIN_LEFT + j * 150
        items.append(f'<rect x="{x}" y="{y - 9}" width="10" height="10" fill="{COLOURS[j % len(COLOURS)]}"/>'
                     f'<text x="{x + 14}" y="{y}" font-size="11">{escape(name)}</text>')
    return "".join(items)


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"
