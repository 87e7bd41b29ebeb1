"""Inline SVG charts for the benchmark page: no library, no network, deterministic text.

* :func:`line_chart`: DER (and components) against the collar, one line per series.
* :func:`bar_chart`: stacked bars (the boundary-error histogram, errors by speaker count).
* :func:`timeline_body`: one recording's tracks in seconds (x) and rows (y), drawn once
  and shown by ``<use>`` in an overview and a zoomed view that follows the audio.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

#: miss, false alarm, confusion, then series colours (colour-blind safe, Okabe-Ito)
COLORS = {"miss": "#d55e00", "false_alarm": "#e69f00", "confusion": "#cc79a7",
          "der": "#000000", "change": "#0072b2", "overlap": "#009e73", "edge": "#999999"}
PALETTE = ("#0072b2", "#009e73", "#d55e00", "#cc79a7", "#e69f00", "#56b4e9", "#f0e442",
           "#8c564b", "#7f7f7f", "#bcbd22")
LABELS = {"miss": "miss", "false_alarm": "false alarm", "confusion": "confusion",
          "der": "DER", "change": "speaker change", "overlap": "overlap edge", "edge": "edge"}
W, H, PAD = 560, 260, 44


def _num(x: float) -> str:
    return f"{x:.2f}".rstrip("0").rstrip(".")


def _axes(x_ticks: Sequence[tuple[float, str]], y_ticks: Sequence[tuple[float, str]],
          x_label: str, y_label: str) -> list[str]:
    """Axis lines, ticks (positions already in pixels) and labels."""
    parts = [f'<line x1="{PAD}" y1="{H - PAD}" x2="{W - 10}" y2="{H - PAD}" class="axis"/>',
             f'<line x1="{PAD}" y1="10" x2="{PAD}" y2="{H - PAD}" class="axis"/>']
    for x, text in x_ticks:
        parts.append(f'<text x="{_num(x)}" y="{H - PAD + 14}" class="tick" '
                     f'text-anchor="middle">{escape(text)}</text>')
    for y, text in y_ticks:
        parts.append(f'<line x1="{PAD}" y1="{_num(y)}" x2="{W - 10}" y2="{_num(y)}" '
                     f'class="grid"/><text x="{PAD - 4}" y="{_num(y + 3)}" class="tick" '
                     f'text-anchor="end">{escape(text)}</text>')
    parts.append(f'<text x="{(W + PAD) / 2:.0f}" y="{H - 8}" class="label" '
                 f'text-anchor="middle">{escape(x_label)}</text>')
    parts.append(f'<text x="12" y="{(H - PAD) / 2:.0f}" class="label" text-anchor="middle" '
                 f'transform="rotate(-90 12 {(H - PAD) / 2:.0f})">{escape(y_label)}</text>')
    return parts


def _nice_top(value: float) -> float:
    for top in (1, 2, 5, 10, 20, 25, 50, 100, 200, 500, 1000, 2000, 5000, 10000):
        if value <= top:
            return float(top)
    return float(value)


def _legend(names: Sequence[tuple[str, str]]) -> str:
    items = "".join(f'<span class="key"><i style="background:{color}"></i>{escape(name)}</span>'
                    for name, color in names)
    return f'<div class="legend">{items}</div>'


def line_chart(x: Sequence[float], series: dict[str, Sequence[float | None]],
               x_label: str, y_label: str, dashed: Sequence[str] = ()) -> str:
    """Lines through (x, y) per series (None: no point), y from 0; an SVG and its legend."""
    values = [v for ys in series.values() for v in ys if v is not None]
    top = _nice_top(max(values, default=1.0) * 1.05)
    lo, hi = min(x, default=0.0), max(x, default=1.0)
    span = (hi - lo) or 1.0

    def px(v: float) -> float:
        return PAD + (v - lo) / span * (W - PAD - 20)

    def py(v: float) -> float:
        return H - PAD - v / top * (H - PAD - 10)

    parts = _axes([(px(v), _num(v)) for v in x], [(py(top * k / 4), _num(top * k / 4))
                                                    for k in range(5)], x_label, y_label)
    legend = []
    for k, (name, ys) in enumerate(series.items()):
        color = COLORS.get(name.split(" ")[0].lower(), PALETTE[k % len(PALETTE)])
        points = " ".join(f"{px(a):.1f},{py(b):.1f}" for a, b in zip(x, ys) if b is not None)
        dash = ' stroke-dasharray="5 3"' if name in dashed else ""
        parts.append(f'<polyline points="{points}" fill="none" stroke="{color}" '
                     f'stroke-width="2"{dash}><title>{escape(LABELS.get(name, name))}</title>'
                     '</polyline>')
        legend.append((LABELS.get(name, name), color))
    return _svg(parts) + _legend(legend)


def bar_chart(labels: Sequence[str], stacks: dict[str, Sequence[float]], x_label: str,
              y_label: str, every: int = 1) -> str:
    """Stacked bars, one per label; ``every``: label every n-th bar."""
    totals = [sum(s[k] for s in stacks.values()) for k in range(len(labels))]
    top = _nice_top(max(totals, default=1.0) or 1.0)
    n = max(len(labels), 1)
    width = (W - PAD - 20) / n

    def py(v: float) -> float:
        return H - PAD - v / top * (H - PAD - 10)

    ticks = [(PAD + (k + 0.5) * width, text) for k, text in enumerate(labels) if k % every == 0]
    parts = _axes(ticks, [(py(top * k / 4), _num(top * k / 4)) for k in range(5)],
                  x_label, y_label)
    base = [0.0] * n
    for k, (name, values) in enumerate(stacks.items()):
        color = COLORS.get(name, PALETTE[k % len(PALETTE)])
        for i, v in enumerate(values):
            if v <= 0:
                continue
            y0, y1 = py(base[i]), py(base[i] + v)
            parts.append(f'<rect x="{PAD + i * width + 0.5:.1f}" y="{y1:.1f}" '
                         f'width="{max(width - 1, 0.5):.1f}" height="{y0 - y1:.1f}" '
                         f'fill="{color}"><title>{escape(labels[i])}: '
                         f'{escape(LABELS.get(name, name))} {_num(v)}</title></rect>')
            base[i] += v
    return _svg(parts) + _legend([(LABELS.get(n_, n_), COLORS.get(n_, PALETTE[k % len(PALETTE)]))
                                  for k, n_ in enumerate(stacks)])


def _svg(parts: list[str]) -> str:
    return (f'<svg viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img">'
            + "".join(parts) + "</svg>")


ROW = 10  # height of one track, in the timeline's own units


def timeline_body(tracks: Sequence[tuple[str, Sequence[Sequence]]], colors: dict[str, str],
                  element_id: str) -> tuple[str, list[str]]:
    """``<g id=element_id>`` of rectangles ``x = seconds``, one row per (name, turns):
    turns are ``[start, end, colour key]``; returns the group and the row names."""
    parts, names = [f'<g id="{element_id}">'], []
    for row, (name, spans) in enumerate(tracks):
        names.append(name)
        y = row * ROW + 1
        for start, end, key in spans:
            parts.append(f'<rect x="{start:.3f}" y="{y}" width="{max(end - start, 0.001):.3f}" '
                         f'height="{ROW - 2}" fill="{colors.get(key, "#777")}"/>')
    parts.append("</g>")
    return "".join(parts), names
