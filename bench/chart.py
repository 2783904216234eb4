"""A latency-percentile chart drawn with Pillow (no plotting library): one line per target, log-scale ms."""

from __future__ import annotations

import math
from pathlib import Path

from PIL import Image, ImageDraw

WIDTH, HEIGHT, MARGIN = 900, 500, 70
COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"]


def draw_latency_chart(series: dict[str, dict[str, float]], path: Path) -> None:
    """Percentile (x, categorical) against latency in ms (y, log10) for each named series; writes a PNG."""
    path.parent.mkdir(exist_ok=True)
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    percentiles = sorted({key for points in series.values() for key in points}, key=float)
    values = [value for points in series.values() for value in points.values() if value > 0]
    if not percentiles or not values:
        draw.text((MARGIN, MARGIN), "no latency figures", fill="black")
        image.save(path)
        return
    low, high = math.floor(math.log10(min(values))), math.ceil(math.log10(max(values)))
    high = max(high, low + 1)

    def x(index: int) -> float:
        return MARGIN + index * (WIDTH - 2 * MARGIN) / max(len(percentiles) - 1, 1)

    def y(value: float) -> float:
        fraction = (math.log10(max(value, 10.0**low)) - low) / (high - low)
        return HEIGHT - MARGIN - fraction * (HEIGHT - 2 * MARGIN)

    draw.rectangle((MARGIN, MARGIN, WIDTH - MARGIN, HEIGHT - MARGIN), outline="black")
    for exponent in range(low, high + 1):
        level = y(10.0**exponent)
        draw.line((MARGIN, level, WIDTH - MARGIN, level), fill="#dddddd")
        draw.text((8, level - 6), f"{10.0**exponent:g} ms", fill="black")
    for index, percentile in enumerate(percentiles):
        draw.text((x(index) - 12, HEIGHT - MARGIN + 8), f"p{percentile}", fill="black")
    for number, (name, points) in enumerate(series.items()):
        colour = COLOURS[number % len(COLOURS)]
        line = [(x(i), y(points[p])) for i, p in enumerate(percentiles) if points.get(p, 0) > 0]
        if len(line) > 1:
            draw.line(line, fill=colour, width=3)
        for point in line:
            draw.ellipse((point[0] - 4, point[1] - 4, point[0] + 4, point[1] + 4), fill=colour)
        draw.text((MARGIN + 10, MARGIN + 10 + 16 * number), name, fill=colour)
    title = "latency by percentile (log scale): wrk, 100 keep-alive connections, unless named open loop or one client"
    draw.text((MARGIN, 20), title, fill="black")
    image.save(path)
