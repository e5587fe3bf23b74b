"""Is a drawing readable? Find text that overlaps other text, a box or a line.

A picture whose labels sit on each other teaches nothing. :func:`find_overlaps` draws a
matplotlib figure with the Agg renderer (the one notebooks use for inline PNGs), measures the
true extent of every piece of text (with its box, when it has one) and every line, arrow and
marker, and reports:

- text on text: two labels, a label and a box, two boxes;
- text on a line: a line, arrow or marker passing through a label or a box that is not one
  of its own ends (an arrow may touch the boxes it connects);
- text outside the figure, cut off.

Lines marked as guides (``gid="guide"``: a sequence diagram's lifelines, grid lines) are
background, and may pass behind text; so may a line that crosses text out on purpose
(``gid="strike"``: "this value was overwritten"). The course's test suite runs this on every drawing
every notebook makes (tests/notebooks/test_drawings.py)::

    >>> from matplotlib.figure import Figure
    >>> figure = Figure(figsize=(3, 1))
    >>> ax = figure.add_axes((0, 0, 1, 1))
    >>> ax.set_axis_off()
    >>> _ = ax.text(0.1, 0.5, "order.created"), ax.text(0.15, 0.5, "payment.taken")
    >>> find_overlaps(figure)
    ["text 'order.created' overlaps text 'payment.taken'"]
"""

from __future__ import annotations

from typing import Any

__all__ = ["find_overlaps"]

_TOLERANCE = 1.0  # pixels: anti-aliasing may touch, ink may not overlap


def _text_extents(figure: Any, renderer: Any) -> list[tuple[str, Any, Any]]:
    from matplotlib.text import Text

    found = []
    for text in figure.findobj(Text):
        if not text.get_visible() or not text.get_text().strip():
            continue
        if text.axes is not None and not text.axes.get_visible():
            continue
        patch = text.get_bbox_patch()
        extent = (patch if patch is not None else text).get_window_extent(renderer)
        if extent.width <= 0 or extent.height <= 0:
            continue
        found.append((text.get_text().replace("\n", " "), extent, text))
    return found


def _shrunk(extent: Any) -> Any:
    from matplotlib.transforms import Bbox

    t = _TOLERANCE
    return Bbox.from_extents(extent.x0 + t, extent.y0 + t, extent.x1 - t, extent.y1 - t)


def _line_paths(figure: Any) -> list[tuple[str, Any]]:
    """Every line, arrow and marker drawn in an Axes, as a path in pixels, with a name."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import FancyArrowPatch
    from matplotlib.path import Path

    skip: set[int] = set()  # legends, axis ticks: they sit beside their own text by design
    for ax in figure.axes:
        legend = ax.get_legend()
        for part in (legend, ax.xaxis, ax.yaxis):
            if part is not None:
                skip.update(id(a) for a in part.findobj())
    paths = []
    for artist in figure.findobj(lambda a: isinstance(a, (Line2D, FancyArrowPatch))):
        if id(artist) in skip or artist.axes is None:
            continue
        if not artist.get_visible() or artist.get_gid() in ("guide", "strike"):
            continue
        if isinstance(artist, FancyArrowPatch):
            path = artist.get_transform().transform_path(artist.get_path())
            # as plain polylines: a CLOSEPOLY's dummy vertex (0, 0) must not count as a point
            for polyline in path.to_polygons(closed_only=False):
                paths.append(("arrow", Path(polyline)))
            continue
        xy = artist.get_transform().transform(artist.get_xydata())
        if len(xy) == 0:
            continue
        label = artist.get_label()
        name = "a line" if not label or label.startswith("_") else f"line {label!r}"
        if artist.get_linestyle() not in ("None", "", " "):
            paths.append((name, Path(xy)))
        if artist.get_marker() not in (None, "None", "", " "):
            half = artist.get_markersize() * figure.dpi / 72 / 2
            for x, y in xy:
                corners = [(x - half, y - half), (x + half, y - half), (x + half, y + half)]
                corners += [(x - half, y + half), (x - half, y - half)]
                paths.append((f"a marker of {name}", Path(corners)))
    return paths


def find_overlaps(figure: Any, *, tight: bool = False) -> list[str]:
    """Every overlap in ``figure`` (text/text, text/line, text cut off), in words; [] if none.

    ``tight=True``: the figure is shown cropped to its contents (``bbox_inches="tight"``, as
    Jupyter shows pyplot figures inline), so text past its edge is not cut off.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = figure.canvas
    if not isinstance(canvas, FigureCanvasAgg):
        canvas = FigureCanvasAgg(figure)
    canvas.draw()  # places every text's box, as saving a PNG would
    renderer = canvas.get_renderer()
    texts = _text_extents(figure, renderer)
    problems = []
    width, height = figure.bbox.width, figure.bbox.height
    for name, extent, _ in [] if tight else texts:
        if (
            extent.x0 < -_TOLERANCE
            or extent.y0 < -_TOLERANCE
            or extent.x1 > width + _TOLERANCE
            or extent.y1 > height + _TOLERANCE
        ):
            problems.append(f"text {name!r} is cut off by the edge of the figure")
    for i, (name_a, a, _) in enumerate(texts):
        for name_b, b, _ in texts[i + 1 :]:
            if _shrunk(a).overlaps(_shrunk(b)):
                problems.append(f"text {name_a!r} overlaps text {name_b!r}")
    lines = _line_paths(figure)
    for name, extent, _ in texts:
        box = _shrunk(extent)
        for line_name, path in lines:
            if path.intersects_bbox(box, filled=False):
                problems.append(f"{line_name} crosses text {name!r}")
    return problems
