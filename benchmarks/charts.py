"""Draw docs/benchmarks.md's charts from the recorded figures in benchmarks/figures.json.

Hand-written SVG (grouped horizontal bars), no plotting library: the charts are simple
and this keeps the docs redrawable with nothing but Python. Run after adding a run's
numbers to figures.json:

    python benchmarks/charts.py            # writes docs/img/*.svg
"""

from __future__ import annotations

import json
import sys
from html import escape
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728")
LABEL_W, BAR_W, BAR_H, GAP, TOP = 220, 460, 16, 14, 46


def _number(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:g}"


def bar_chart(chart: dict) -> str:
    """One chart as an SVG document: a row per label, a bar per series."""
    series, rows = chart["series"], chart["rows"]
    top = max(v for row in rows for v in row["values"]) or 1
    row_h = len(series) * BAR_H + GAP
    height = TOP + len(rows) * row_h + 10
    width = LABEL_W + BAR_W + 110
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="12">',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="8" y="18" font-size="13" font-weight="bold">{escape(chart["title"])}</text>',
    ]
    x = 8
    for i, name in enumerate(series):
        out.append(
            f'<rect x="{x}" y="27" width="10" height="10" fill="{COLORS[i % len(COLORS)]}"/>'
            f'<text x="{x + 14}" y="36">{escape(name)}</text>'
        )
        x += 24 + 7 * len(name)
    for r, row in enumerate(rows):
        y = TOP + r * row_h
        out.append(
            f'<text x="{LABEL_W - 8}" y="{y + len(series) * BAR_H / 2 + 4}" '
            f'text-anchor="end">{escape(row["label"])}</text>'
        )
        for i, value in enumerate(row["values"]):
            w = max(1.0, BAR_W * value / top)
            by = y + i * BAR_H
            out.append(
                f'<rect x="{LABEL_W}" y="{by}" width="{w:.1f}" height="{BAR_H - 2}" '
                f'fill="{COLORS[i % len(COLORS)]}"/>'
                f'<text x="{LABEL_W + w + 4:.1f}" y="{by + BAR_H - 5}">{_number(value)} {escape(chart["unit"])}</text>'
            )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main(argv: list[str]) -> int:
    figures = json.loads((ROOT / "benchmarks" / "figures.json").read_text())
    out_dir = ROOT / "docs" / "img"
    out_dir.mkdir(parents=True, exist_ok=True)
    for chart in figures["charts"]:
        (out_dir / chart["file"]).write_text(bar_chart(chart))
        print(f"wrote {out_dir / chart['file']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
