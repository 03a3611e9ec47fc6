"""The console's charts as SVG, drawn on the server: horizontal bars, one per label. Built with
ElementTree, so a label (a channel's or a language's name) is always text, never markup; the
page shows them as ``<img>``, where an SVG cannot run a script either."""

from __future__ import annotations

from xml.etree import ElementTree as ET

WIDTH = 420
ROW = 26
LABEL = 130
COLORS = ("#2f6fdb", "#1f9d74", "#d98b1f", "#c2410c", "#7c3aed", "#0e7490")


def bar_chart(
    title: str, rows: list[tuple[str, float]], *, percent: bool = False, colors: tuple = COLORS
) -> bytes:
    height = 36 + ROW * max(1, len(rows))
    svg = ET.Element(
        "svg",
        {
            "xmlns": "http://www.w3.org/2000/svg",
            "width": str(WIDTH),
            "height": str(height),
            "viewBox": f"0 0 {WIDTH} {height}",
            "role": "img",
            "font-family": "system-ui, sans-serif",
            "font-size": "13",
        },
    )
    ET.SubElement(svg, "title").text = title
    ET.SubElement(svg, "text", {"x": "0", "y": "16", "font-weight": "600"}).text = title
    top = max((value for _, value in rows), default=0) or 1
    span = WIDTH - LABEL - 60
    for i, (label, value) in enumerate(rows):
        y = 30 + i * ROW
        ET.SubElement(svg, "text", x="0", y=str(y + 14)).text = label[:20]
        share = min(value, 1.0) if percent else value / top
        width = max(1.0, span * share) if value else 0.0
        ET.SubElement(
            svg,
            "rect",
            x=str(LABEL),
            y=str(y),
            width=f"{width:.1f}",
            height=str(ROW - 8),
            rx="3",
            fill=colors[i % len(colors)],
        )
        shown = f"{value * 100:.0f}%" if percent else f"{value:g}"
        ET.SubElement(svg, "text", x=f"{LABEL + width + 6:.1f}", y=str(y + 14)).text = shown
    return ET.tostring(svg, encoding="utf-8", xml_declaration=True)
