"""Dependency-free inline SVG figures: forest plot, CONSORT flow, power and MDE curves, simulated power.

The one plotting stack of bitframe: reports inline these, and ``bitframe power --plot``
and ``bitframe diagnose --plot`` save them as ``.svg`` files (:func:`write_svg`).

Every generator returns one ``<svg>`` element as a string, ready to inline in
HTML (or save as ``.svg``). Design rules, all checked by the tests:

* accessible: ``role="img"``, ``aria-labelledby`` pointing at a ``<title>`` and a
  ``<desc>`` that states the data in words; text is real ``<text>`` (selectable,
  read by screen readers, scales without blurring);
* colour-blind safe: the Okabe-Ito palette (Okabe & Ito 2008), and series
  also differ by dash pattern so they survive greyscale printing;
* self-contained: no external fonts, images, scripts or links; the only URL is
  the SVG namespace;
* safe: all user text passes through :func:`html.escape`;
* deterministic: the same input gives byte-identical output (element ids come
  from a hash of the input unless ``id_prefix`` is given), so reports are
  reproducible and several figures can share one HTML page.

References: Lewis S, Clarke M (2001), Forest plots: trying to see the wood and
the trees, BMJ 322:1479. Schulz KF, Altman DG, Moher D (2010), CONSORT 2010
statement, BMJ 340:c332 (flow diagram), and Campbell MK et al. (2012), CONSORT
2010 statement: extension to cluster randomised trials, BMJ 345:e5661.
"""

from __future__ import annotations

import hashlib
import html
import math
import os
import re
import textwrap
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

__all__ = [
    "OKABE_ITO",
    "ConsortArm",
    "PooledEstimate",
    "consort_diagram",
    "diagnosis_figure",
    "figure_row",
    "forest_plot",
    "mde_curve",
    "power_curve",
    "power_curve_figure",
    "simulated_power_curve",
    "write_svg",
]

# Okabe & Ito (2008), "Color Universal Design"; order used for series.
OKABE_ITO: dict[str, str] = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}
_SERIES_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
_SERIES_DASHES = ("", "6 3", "2 3", "8 3 2 3", "4 4", "1 2", "10 4")
_INK = "#000000"
_MUTED = "#595959"  # 7:1 contrast on white, for axes and secondary text
_BOX_FILL = "#FFFFFF"
_STAGE_FILL = "#56B4E9"
_FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"
_SVG_NS = "http://www.w3.org/2000/svg"


# ---------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------


def _esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _num(x: float) -> str:
    """Coordinates with 2 decimals: compact and deterministic."""
    s = f"{x:.2f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def _fmt(x: float, digits: int) -> str:
    s = f"{x:.{digits}f}"
    # "-0.00" reads as a negative effect; it is zero at this precision.
    if s.lstrip("-").strip("0.") == "" and s.startswith("-"):
        s = s[1:]
    return s


def _level_text(ci_level: float) -> str:
    return f"{100 * ci_level:.1f}".rstrip("0").rstrip(".")


def _text_width(text: str, size: float) -> float:
    # Average advance of a proportional sans-serif is ~0.56 em; a conservative 0.6 avoids overlap.
    return 0.6 * size * len(text)


def _make_id_prefix(kind: str, payload: Any, id_prefix: str | None) -> str:
    if id_prefix is not None:
        if not id_prefix or not all(c.isalnum() or c in "-_" for c in id_prefix) or not id_prefix[0].isalpha():
            raise ValueError(
                f"The 'id_prefix' parameter must start with a letter and contain only letters, digits, '-' "
                f"or '_'; got {id_prefix!r}."
            )
        return id_prefix
    digest = hashlib.sha1(repr((kind, payload)).encode("utf-8")).hexdigest()[:10]
    return f"bf-{kind}-{digest}"


def _svg_open(width: float, height: float, title: str, desc: str, pid: str, css_class: str) -> list[str]:
    return [
        f'<svg xmlns="{_SVG_NS}" class="bf-figure {css_class}" width="{_num(width)}" height="{_num(height)}" '
        f'viewBox="0 0 {_num(width)} {_num(height)}" role="img" aria-labelledby="{pid}-title {pid}-desc" '
        f'font-family="{_esc(_FONT)}" font-size="13">',
        f'<title id="{pid}-title">{_esc(title)}</title>',
        f'<desc id="{pid}-desc">{_esc(desc)}</desc>',
        f'<rect x="0" y="0" width="{_num(width)}" height="{_num(height)}" fill="#FFFFFF"/>',
    ]


def _text(
    x: float,
    y: float,
    text: str,
    *,
    anchor: str = "start",
    size: float | None = None,
    weight: str | None = None,
    fill: str = _INK,
    css_class: str | None = None,
    extra: str = "",
) -> str:
    attrs = [f'x="{_num(x)}"', f'y="{_num(y)}"']
    if anchor != "start":
        attrs.append(f'text-anchor="{anchor}"')
    if size is not None:
        attrs.append(f'font-size="{_num(size)}"')
    if weight:
        attrs.append(f'font-weight="{weight}"')
    if fill != _INK:
        attrs.append(f'fill="{fill}"')
    if css_class:
        attrs.append(f'class="{css_class}"')
    if extra:
        attrs.append(extra)
    return f"<text {' '.join(attrs)}>{_esc(text)}</text>"


def _line(
    x1: float,
    y1: float,
    x2: float,
    y2: float,
    *,
    stroke: str = _INK,
    width: float = 1.0,
    dash: str = "",
    css_class: str | None = None,
    extra: str = "",
) -> str:
    attrs = (
        f'x1="{_num(x1)}" y1="{_num(y1)}" x2="{_num(x2)}" y2="{_num(y2)}" '
        f'stroke="{stroke}" stroke-width="{_num(width)}"'
    )
    if dash:
        attrs += f' stroke-dasharray="{dash}"'
    if css_class:
        attrs += f' class="{css_class}"'
    if extra:
        attrs += f" {extra}"
    return f"<line {attrs}/>"


def _wrap(text: str, max_width: float, size: float) -> list[str]:
    """Lines of at most ``max_width`` (at the conservative width estimate), broken between words.

    A word longer than a line is split across lines; nothing is cut off or replaced by an ellipsis.
    """
    max_chars = max(4, int(max_width / (0.6 * size)))
    lines: list[str] = []
    current = ""
    for word in text.split():
        while len(word) > max_chars:
            if current:
                lines.append(current)
                current = ""
            lines.append(word[:max_chars])
            word = word[max_chars:]
        candidate = f"{current} {word}" if current else word
        if len(candidate) <= max_chars:
            current = candidate
        else:
            lines.append(current)
            current = word
    if current or not lines:
        lines.append(current)
    return lines


def _text_lines(x: float, y: float, lines: Sequence[str], line_h: float, **kw: Any) -> str:
    """One ``<text>`` whose lines are ``<tspan>`` children, the first with its baseline at ``y``."""
    if len(lines) == 1:
        return _text(x, y, lines[0], **kw)
    head = _text(x, y, "", **kw)[: -len("</text>")]
    spans = "".join(f'<tspan x="{_num(x)}" dy="{_num(0 if i == 0 else line_h)}">{_esc(line)}</tspan>'
                    for i, line in enumerate(lines))
    return f"{head}{spans}</text>"


def _floats(name: str, values: Iterable[Any]) -> list[float]:
    try:
        out = [float(v) for v in values]
    except (TypeError, ValueError):
        raise ValueError(f"The '{name}' parameter must be a sequence of numbers; got {values!r}.") from None
    for i, v in enumerate(out):
        if not math.isfinite(v):
            raise ValueError(f"The '{name}' parameter must be finite; got {v!r} at position {i}.")
    return out


def _nice_step(span: float, target: int) -> float:
    raw = span / max(target, 1)
    exp = math.floor(math.log10(raw))
    base = 10.0**exp
    for m in (1.0, 2.0, 2.5, 5.0, 10.0):
        if raw <= m * base * (1 + 1e-9):
            return m * base
    return 10.0 * base  # pragma: no cover - loop always returns


def _linear_ticks(lo: float, hi: float, target: int = 5) -> list[float]:
    """Nice ticks whose ends enclose [lo, hi] (Heckbert 1990, 'Nice numbers for graph labels')."""
    if hi <= lo:
        pad = abs(lo) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    step = _nice_step(hi - lo, target)
    start = math.floor(lo / step + 1e-9) * step
    stop = math.ceil(hi / step - 1e-9) * step
    n = round((stop - start) / step)
    return [round(start + i * step, 12) for i in range(n + 1)]


_LOG_MANTISSAS = (
    (1.0,),
    (1.0, 2.0, 5.0),
    (1.0, 2.0, 3.0, 5.0),
    (1.0, 1.5, 2.0, 3.0, 5.0, 7.0),
    (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0),
)


def _log_ticks(lo: float, hi: float) -> list[float]:
    """Ticks at 1-2-5 style values enclosing [lo, hi] > 0.

    Among candidate tick sets giving 3 to 8 labels, take the one whose end ticks
    waste the least axis (largest share of the log range covered by data), then
    the one nearest five labels.
    """
    if hi <= lo:
        lo, hi = lo / 1.5, hi * 1.5
    e0, e1 = math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 1
    options: list[list[float]] = []
    for mantissas in _LOG_MANTISSAS:
        cands = sorted({round(m * 10.0**e, 12) for e in range(e0, e1 + 1) for m in mantissas})
        start = [c for c in cands if c <= lo * (1 + 1e-12)][-1]
        stop = next(c for c in cands if c >= hi * (1 - 1e-12))
        options.append([c for c in cands if start <= c <= stop])
    fitting = [t for t in options if 3 <= len(t) <= 8]
    if fitting:
        # Equal coverage: prefer about five labels.
        return max(fitting, key=lambda t: (round(math.log(hi / lo) / math.log(t[-1] / t[0]), 9), -abs(len(t) - 5)))
    best = options[0]
    stride = math.ceil(len(best) / 7)
    keep = [t for i, t in enumerate(best) if i % stride == 0]
    if keep[-1] != best[-1]:
        keep.append(best[-1])
    return keep


@dataclass(frozen=True)
class _Axis:
    """Maps data values to pixels, linear or log10."""

    lo: float
    hi: float
    px0: float
    px1: float
    log: bool = False

    def _t(self, v: float) -> float:
        return math.log10(v) if self.log else v

    def __call__(self, v: float) -> float:
        a, b = self._t(self.lo), self._t(self.hi)
        return self.px0 + (self._t(v) - a) / (b - a) * (self.px1 - self.px0)


def _tick_label(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 1e5 or abs(v) < 1e-3:
        return f"{v:.3g}"
    return f"{v:.6f}".rstrip("0").rstrip(".")


# ---------------------------------------------------------------------------
# Funnel plot
# ---------------------------------------------------------------------------


def funnel_plot(
    estimates: Sequence[float],
    std_errors: Sequence[float],
    *,
    pooled: float,
    ci_level: float = 0.95,
    title: str = "Funnel plot",
    x_label: str = "Effect estimate",
    width: float = 560,
    height: float = 380,
    id_prefix: str | None = None,
) -> str:
    """A funnel plot: each estimate against its standard error (0 at the top), with the pooled
    estimate and the pseudo confidence region ``pooled +/- z * SE`` (Sterne et al. BMJ 2011;343:d4002).

    Values are on the analysis scale (log scale for ratios). Callers draw it only with enough
    studies (the programme report: 10 or more) for asymmetry to mean anything.

    Examples
    --------
    >>> svg = funnel_plot([0.1, 0.3, 0.2], [0.1, 0.2, 0.15], pooled=0.18)
    >>> svg.count('class="bf-study"')
    3
    """
    from statistics import NormalDist

    ys = _floats("estimates", estimates)
    ses = _floats("std_errors", std_errors)
    if len(ys) != len(ses) or not ys:
        raise ValueError(f"The 'std_errors' parameter must have one value per estimate ({len(ys)}); got {len(ses)}.")
    if min(ses) <= 0:
        raise ValueError("The 'std_errors' parameter must be > 0 for every estimate.")
    pid = _make_id_prefix("funnel", (ys, ses, pooled), id_prefix)
    z = NormalDist().inv_cdf(0.5 + ci_level / 2)
    se_max = max(ses) * 1.05
    xticks = _linear_ticks(min(*ys, pooled - z * se_max), max(*ys, pooled + z * se_max))
    left, right, top, bottom = 70.0, width - 20.0, 40.0, height - 50.0
    xa = _Axis(xticks[0], xticks[-1], left, right)

    def ypx(se: float) -> float:
        return top + se / se_max * (bottom - top)

    desc = (f"Funnel plot of {len(ys)} estimates against their standard errors, with the pooled estimate "
            f"{_fmt(pooled, 3)} and its pseudo {_level_text(ci_level)}% confidence region.")
    out = _svg_open(width, height, title, desc, pid, "bf-funnel")
    out.append(_text(width / 2, 22, title, anchor="middle", weight="bold"))
    out.append(f'<polygon class="bf-funnel-region" points="{_num(xa(pooled))},{_num(top)} '
               f'{_num(xa(pooled - z * se_max))},{_num(bottom)} {_num(xa(pooled + z * se_max))},{_num(bottom)}" '
               f'fill="#EEF2F7" stroke="{_MUTED}" stroke-dasharray="4 3"/>')
    out.append(_line(xa(pooled), top, xa(pooled), bottom, css_class="bf-pooled-line"))
    for y, se in zip(ys, ses):
        out.append(f'<circle class="bf-study" cx="{_num(xa(y))}" cy="{_num(ypx(se))}" r="4" fill="{_INK}"/>')
    out.append(_line(left, bottom, right, bottom))
    for t in xticks:
        out.append(_line(xa(t), bottom, xa(t), bottom + 5))
        out.append(_text(xa(t), bottom + 18, _tick_label(t), anchor="middle", size=11))
    out.append(_text((left + right) / 2, height - 8, x_label, anchor="middle"))
    out.append(_line(left, top, left, bottom))
    for t in _linear_ticks(0.0, se_max, 4):
        if t <= se_max:
            out.append(_text(left - 6, ypx(t) + 4, _tick_label(t), anchor="end", size=11))
    out.append(_text(16, (top + bottom) / 2, "Standard error", anchor="middle",
                     extra=f'transform="rotate(-90 16 {_num((top + bottom) / 2)})"'))
    out.append("</svg>")
    return "\n".join(out)


# ---------------------------------------------------------------------------
# Forest plot
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PooledEstimate:
    """A pooled (summary) row drawn as a diamond, optionally with a prediction interval."""

    label: str
    estimate: float
    ci_lower: float
    ci_upper: float
    pi_lower: float | None = None
    pi_upper: float | None = None


def forest_plot(
    labels: Sequence[str],
    estimates: Sequence[float],
    ci_lower: Sequence[float],
    ci_upper: Sequence[float],
    *,
    weights: Sequence[float] | None = None,
    weight_header: str = "Weight",
    pooled: Sequence[PooledEstimate] = (),
    log_scale: bool = False,
    null_value: float | None = None,
    ci_level: float = 0.95,
    title: str = "Forest plot",
    x_label: str = "Effect estimate",
    description: str | None = None,
    note: str | None = None,
    favours: tuple[str, str] | None = None,
    digits: int = 2,
    width: float = 860,
    id_prefix: str | None = None,
    label_header: str = "Study",
) -> str:
    """A forest plot: one row per estimate with its CI, a null line, pooled diamonds.

    ``label_header`` heads the column of labels ("Study", "Arm", "Subgroup"); labels longer than
    the column wrap onto further lines (the row grows), so no label is cut off.

    Values are on the display scale; with ``log_scale=True`` they must be
    positive ratios (odds, risk, rate ratios) and the axis is log10, so that
    ratios r and 1/r sit at equal distances from the null line (default 1; 0 on
    a linear axis). Squares are sized by ``weights`` (area proportional to the
    weight) when given, and the weights are printed as percentages.
    ``favours=("Favours control", "Favours nudge")`` labels the two sides.

    Examples
    --------
    >>> svg = forest_plot(["A", "B"], [0.1, 0.3], [-0.1, 0.1], [0.3, 0.5])
    >>> svg.startswith("<svg") and 'role="img"' in svg
    True
    """
    labels = [str(x) for x in labels]
    est = _floats("estimates", estimates)
    lo = _floats("ci_lower", ci_lower)
    hi = _floats("ci_upper", ci_upper)
    k = len(labels)
    if k == 0 and not pooled:
        raise ValueError("The 'labels' parameter must hold at least one row (or give 'pooled'); got none.")
    for name, seq in (("estimates", est), ("ci_lower", lo), ("ci_upper", hi)):
        if len(seq) != k:
            raise ValueError(f"The '{name}' parameter must have one value per label ({k}); got {len(seq)}.")
    for i in range(k):
        if not (lo[i] <= est[i] <= hi[i]):
            raise ValueError(
                f"Row {i} ({labels[i]!r}) must satisfy ci_lower <= estimate <= ci_upper; "
                f"got {lo[i]!r}, {est[i]!r}, {hi[i]!r}."
            )
    w: list[float] | None = None
    if weights is not None:
        w = _floats("weights", weights)
        if len(w) != k:
            raise ValueError(f"The 'weights' parameter must have one value per label ({k}); got {len(w)}.")
        if any(x < 0 for x in w) or sum(w) <= 0:
            raise ValueError(f"The 'weights' parameter must be >= 0 with a positive sum; got {w!r}.")
    pooled = list(pooled)
    for p in pooled:
        if not (p.ci_lower <= p.estimate <= p.ci_upper):
            raise ValueError(f"Pooled row {p.label!r} must satisfy ci_lower <= estimate <= ci_upper; got {p!r}.")
    if not (0.0 < ci_level < 1.0):
        raise ValueError(f"The 'ci_level' parameter must be in the open range (0, 1); got {ci_level!r}.")
    if not (isinstance(digits, int) and 0 <= digits <= 6):
        raise ValueError(f"The 'digits' parameter must be an integer in [0, 6]; got {digits!r}.")
    if null_value is None:
        null_value = 1.0 if log_scale else 0.0
    values = lo + hi + est + [null_value]
    for p in pooled:
        values += [p.ci_lower, p.ci_upper] + [v for v in (p.pi_lower, p.pi_upper) if v is not None]
    if log_scale and min(values) <= 0:
        raise ValueError(
            f"A log-scale forest plot needs positive values (ratios); got minimum {min(values)!r}. "
            "Exponentiate log ratios first, or use log_scale=False."
        )

    pid = _make_id_prefix(
        "forest", (labels, est, lo, hi, w, pooled, log_scale, null_value, title, x_label, note), id_prefix
    )
    font = 13.0
    small = 11.5
    pad = 12.0
    gap = 16.0
    row_h = 22.0
    ci_head = f"Estimate [{_level_text(ci_level)}% CI]"

    def ci_text(e: float, a: float, b: float) -> str:
        return f"{_fmt(e, digits)} [{_fmt(a, digits)}, {_fmt(b, digits)}]"

    row_texts = [ci_text(est[i], lo[i], hi[i]) for i in range(k)]
    pooled_texts = [ci_text(p.estimate, p.ci_lower, p.ci_upper) for p in pooled]
    all_labels = labels + [p.label for p in pooled] + [label_header]
    label_w = min(max(_text_width(s, font) for s in all_labels), 0.3 * width)
    line_h = font * 1.2
    label_lines = [_wrap(x, label_w, font) for x in labels]
    # Bold glyphs are wider than regular ones: wrap the pooled labels a little earlier.
    pooled_lines = [_wrap(p.label, label_w, font * 1.1) for p in pooled]
    ci_w = max(_text_width(s, font) for s in row_texts + pooled_texts + [ci_head])
    weight_texts = [f"{100 * x / sum(w):.1f}%" for x in w] if w is not None else []
    weight_w = max(_text_width(s, font) for s in [*weight_texts, weight_header]) if w is not None else 0.0
    plot_x0 = pad + label_w + gap
    right_cols = ci_w + gap + (weight_w + gap if w is not None else 0.0)
    min_plot = 180.0
    width = max(float(width), plot_x0 + min_plot + gap + right_cols + pad)
    plot_x1 = width - pad - right_cols - gap
    ci_x = plot_x1 + gap + ci_w  # right-aligned numbers line up on the decimal places
    weight_x = ci_x + gap + weight_w

    ticks = _log_ticks(min(values), max(values)) if log_scale else _linear_ticks(min(values), max(values))
    axis = _Axis(ticks[0], ticks[-1], plot_x0, plot_x1, log=log_scale)

    header_y = pad + font
    # Each row is centred in its band; a wrapped label makes its band taller by a line per extra line.
    rows_y: list[float] = []
    top = header_y + row_h / 2
    for lines in label_lines:
        band = row_h + (len(lines) - 1) * line_h
        rows_y.append(top + band / 2)
        top += band
    pooled_y: list[float] = []
    top += 0.4 * row_h
    for lines in pooled_lines:
        band = 1.2 * row_h + (len(lines) - 1) * line_h
        pooled_y.append(top + band / 2)
        top += band
    last_y = pooled_y[-1] if pooled else rows_y[-1]
    axis_y = last_y + row_h * 0.9 + (len((pooled_lines or label_lines)[-1]) - 1) * line_h / 2
    x_label_y = axis_y + 18 + font + 6
    favours_y = x_label_y + font + 4
    favours_at: tuple[tuple[str, float, float], tuple[str, float, float]] | None = None
    if favours:
        xn = axis(null_value)
        left, right = f"\u2190 {favours[0]}", f"{favours[1]} \u2192"
        # With the null line near an edge the words slide inwards rather than run off the figure;
        # when they then collide, the second goes on the line below.
        left_end = max(xn - 6, pad + _text_width(left, small))
        right_start = min(xn + 6, width - pad - _text_width(right, small))
        right_y = favours_y
        if right_start < left_end + 6:
            right_start = max(pad, min(xn + 6, width - pad - _text_width(right, small)))
            right_y = favours_y + small + 4
        favours_at = ((left, left_end, favours_y), (right, right_start, right_y))
        favours_y = right_y
    note_y = (favours_y if favours else x_label_y) + font + 10
    height = (note_y if note else favours_y if favours else x_label_y) + pad

    scale_word = "logarithmic" if log_scale else "linear"
    if description is None:
        parts = [
            f"Forest plot of {k} estimate{'s' if k != 1 else ''} with {_level_text(ci_level)}% confidence intervals "
            f"on a {scale_word} axis; the dashed vertical line marks no effect at {_tick_label(null_value)}."
        ]
        for p in pooled:
            s = f" {p.label}: {ci_text(p.estimate, p.ci_lower, p.ci_upper)}"
            if p.pi_lower is not None and p.pi_upper is not None:
                s += f", prediction interval {_fmt(p.pi_lower, digits)} to {_fmt(p.pi_upper, digits)}"
            parts.append(s + ".")
        if note:
            parts.append(f" {note}")
        description = "".join(parts)

    out = _svg_open(width, height, title, description, pid, "bf-forest")
    # Column headers.
    out.append(_text(pad, header_y, label_header, weight="bold"))
    out.append(_text(ci_x, header_y, ci_head, anchor="end", weight="bold"))
    if w is not None:
        out.append(_text(weight_x, header_y, weight_header, anchor="end", weight="bold"))
    out.append(_line(pad, header_y + 6, width - pad, header_y + 6, stroke=_MUTED, width=0.75))

    # Null line behind the data.
    top = header_y + 8
    out.append(_line(axis(null_value), top, axis(null_value), axis_y, stroke=_MUTED, dash="4 3", css_class="bf-null"))

    wmax = max(w) if w else 1.0
    for i in range(k):
        y = rows_y[i]
        x_est = axis(est[i])
        side = 5.0 + 9.0 * math.sqrt(w[i] / wmax) if w is not None and wmax > 0 else 8.0
        tip = f"{labels[i]}: {row_texts[i]}" + (f", weight {weight_texts[i]}" if w is not None else "")
        out.append(f'<g class="bf-row" data-index="{i}"><title>{_esc(tip)}</title>')
        lines = label_lines[i]
        out.append(_text_lines(pad, y + 4 - (len(lines) - 1) * line_h / 2, lines, line_h, css_class="bf-label"))
        out.append(_line(axis(lo[i]), y, axis(hi[i]), y, stroke=_INK, width=1.25, css_class="bf-ci"))
        out.append(
            f'<rect class="bf-point" x="{_num(x_est - side / 2)}" y="{_num(y - side / 2)}" '
            f'width="{_num(side)}" height="{_num(side)}" fill="{OKABE_ITO["blue"]}"/>'
        )
        out.append(_text(ci_x, y + 4, row_texts[i], anchor="end", css_class="bf-ci-text"))
        if w is not None:
            out.append(_text(weight_x, y + 4, weight_texts[i], anchor="end", css_class="bf-weight"))
        out.append("</g>")

    if pooled:
        sep_y = pooled_y[0] - row_h * 0.75
        out.append(_line(pad, sep_y, width - pad, sep_y, stroke=_MUTED, width=0.5))
    for j, p in enumerate(pooled):
        y = pooled_y[j]
        colour = _SERIES_COLOURS[(j + 1) % len(_SERIES_COLOURS)]
        out.append(f'<g class="bf-pooled-row" data-index="{j}"><title>{_esc(p.label + ": " + pooled_texts[j])}</title>')
        lines = pooled_lines[j]
        out.append(_text_lines(pad, y + 4 - (len(lines) - 1) * line_h / 2, lines, line_h, weight="bold",
                               css_class="bf-label"))
        if p.pi_lower is not None and p.pi_upper is not None:
            out.append(
                _line(axis(p.pi_lower), y, axis(p.pi_upper), y, stroke=colour, width=1.5, dash="3 2", css_class="bf-pi")
            )
        h = 7.0
        pts = [(axis(p.ci_lower), y), (axis(p.estimate), y - h), (axis(p.ci_upper), y), (axis(p.estimate), y + h)]
        out.append(
            f'<polygon class="bf-pooled" points="{" ".join(f"{_num(a)},{_num(b)}" for a, b in pts)}" '
            f'fill="{colour}" stroke="{_INK}" stroke-width="0.75"/>'
        )
        out.append(_text(ci_x, y + 4, pooled_texts[j], anchor="end", weight="bold", css_class="bf-ci-text"))
        out.append("</g>")

    # Axis.
    out.append('<g class="bf-axis">')
    out.append(_line(plot_x0, axis_y, plot_x1, axis_y, stroke=_INK))
    for t in ticks:
        x = axis(t)
        out.append(_line(x, axis_y, x, axis_y + 5, stroke=_INK))
        out.append(_text(x, axis_y + 18, _tick_label(t), anchor="middle", size=small, css_class="bf-tick"))
    out.append(_text((plot_x0 + plot_x1) / 2, x_label_y, x_label, anchor="middle", css_class="bf-axis-label"))
    if favours_at is not None:
        (left, left_end, fy_left), (right, right_start, fy_right) = favours_at
        out.append(_text(left_end, fy_left, left, anchor="end", size=small, fill=_MUTED, css_class="bf-favours"))
        out.append(_text(right_start, fy_right, right, anchor="start", size=small, fill=_MUTED,
                         css_class="bf-favours"))
    out.append("</g>")
    if note:
        out.append(_text(pad, note_y, note, size=small, fill=_MUTED, css_class="bf-note"))
    out.append("</svg>")
    return "\n".join(out)


# ---------------------------------------------------------------------------
# CONSORT flow diagram
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ConsortArm:
    """Counts for one arm of a CONSORT 2010 flow diagram.

    ``received`` is the number who received the allocated intervention (None:
    not reported). Cluster counts (``clusters_*``) are for cluster-randomised
    trials (CONSORT extension, Campbell et al. 2012). Reason mappings give
    ``reason -> count`` and are listed under their box.
    """

    name: str
    allocated: int
    analysed: int
    received: int | None = None
    lost_to_follow_up: int = 0
    discontinued: int | None = None
    excluded_from_analysis: int = 0
    clusters_allocated: int | None = None
    clusters_lost: int | None = None
    clusters_analysed: int | None = None
    lost_reasons: Mapping[str, int] = field(default_factory=dict)
    excluded_reasons: Mapping[str, int] = field(default_factory=dict)


def _count(name: str, value: Any, *, allow_none: bool = False) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"The '{name}' count must be a non-negative integer; got {value!r}.")
    return value


def _check_arm(i: int, arm: ConsortArm) -> None:
    p = f"arms[{i}]"
    if not str(arm.name).strip():
        raise ValueError(f"The '{p}.name' must be a non-empty string; got {arm.name!r}.")
    _count(f"{p}.allocated", arm.allocated)
    allocated = int(arm.allocated)
    for attr in ("analysed", "lost_to_follow_up", "excluded_from_analysis"):
        v = _count(f"{p}.{attr}", getattr(arm, attr))
        if v is not None and v > allocated:
            raise ValueError(f"The '{p}.{attr}' count must be <= allocated ({allocated}); got {v}.")
    for attr in ("received", "discontinued"):
        v = _count(f"{p}.{attr}", getattr(arm, attr), allow_none=True)
        if v is not None and v > allocated:
            raise ValueError(f"The '{p}.{attr}' count must be <= allocated ({allocated}); got {v}.")
    if arm.analysed + arm.excluded_from_analysis > allocated:
        raise ValueError(
            f"The '{p}' counts must satisfy analysed + excluded_from_analysis <= allocated ({allocated}); "
            f"got {arm.analysed} + {arm.excluded_from_analysis}."
        )
    ca = _count(f"{p}.clusters_allocated", arm.clusters_allocated, allow_none=True)
    for attr in ("clusters_lost", "clusters_analysed"):
        v = _count(f"{p}.{attr}", getattr(arm, attr), allow_none=True)
        if v is not None and ca is None:
            raise ValueError(f"The '{p}.{attr}' count needs clusters_allocated; got clusters_allocated=None.")
        if v is not None and ca is not None and v > ca:
            raise ValueError(f"The '{p}.{attr}' count must be <= clusters_allocated ({ca}); got {v}.")
    for attr, total_attr in (("lost_reasons", "lost_to_follow_up"), ("excluded_reasons", "excluded_from_analysis")):
        reasons = getattr(arm, attr)
        for reason, n in reasons.items():
            _count(f"{p}.{attr}[{reason!r}]", n)
        if sum(reasons.values()) > getattr(arm, total_attr):
            raise ValueError(
                f"The '{p}.{attr}' counts sum to {sum(reasons.values())}, more than "
                f"{total_attr} ({getattr(arm, total_attr)})."
            )


def _n(n: int) -> str:
    # No-break spaces keep "(n = 700)" on one line when box text wraps.
    return f"(n\u00a0=\u00a0{n:,})"


def consort_diagram(
    arms: Sequence[ConsortArm],
    *,
    assessed: int | None = None,
    excluded: int | None = None,
    excluded_reasons: Mapping[str, int] | None = None,
    randomised: int | None = None,
    clusters_randomised: int | None = None,
    unit: str = "participants",
    title: str = "CONSORT flow diagram",
    description: str | None = None,
    id_prefix: str | None = None,
) -> str:
    """A CONSORT 2010 flow diagram: enrolment, allocation, follow-up and analysis per arm.

    ``randomised`` defaults to the sum of the arms' ``allocated``; if given it
    must equal that sum. ``excluded`` defaults to ``assessed - randomised``;
    if both are given, ``assessed - excluded`` must equal ``randomised``.
    Cluster counts appear wherever an arm gives ``clusters_allocated``.
    """
    arms = list(arms)
    if not arms:
        raise ValueError("The 'arms' parameter must hold at least one arm; got none.")
    for i, arm in enumerate(arms):
        if not isinstance(arm, ConsortArm):
            raise ValueError(f"The 'arms[{i}]' entry must be a ConsortArm; got {type(arm).__name__}.")
        _check_arm(i, arm)
    total = sum(a.allocated for a in arms)
    if randomised is None:
        randomised = total
    elif _count("randomised", randomised) != total:
        raise ValueError(f"The 'randomised' count ({randomised}) must equal the sum of the arms' allocated ({total}).")
    _count("assessed", assessed, allow_none=True)
    _count("excluded", excluded, allow_none=True)
    if assessed is not None:
        if assessed < randomised:
            raise ValueError(f"The 'assessed' count ({assessed}) must be >= randomised ({randomised}).")
        if excluded is None:
            excluded = assessed - randomised
        elif assessed - excluded != randomised:
            raise ValueError(
                f"The counts must satisfy assessed - excluded = randomised; got {assessed} - {excluded} != {randomised}."
            )
    reasons = dict(excluded_reasons or {})
    for r, n in reasons.items():
        _count(f"excluded_reasons[{r!r}]", n)
    if reasons and (excluded is None or sum(reasons.values()) > excluded):
        raise ValueError(
            f"The 'excluded_reasons' counts sum to {sum(reasons.values())}, more than excluded ({excluded})."
        )
    clustered = any(a.clusters_allocated is not None for a in arms)
    if clusters_randomised is None and clustered and all(a.clusters_allocated is not None for a in arms):
        clusters_randomised = sum(a.clusters_allocated or 0 for a in arms)
    _count("clusters_randomised", clusters_randomised, allow_none=True)

    pid = _make_id_prefix(
        "consort", (arms, assessed, excluded, reasons, randomised, clusters_randomised, unit, title), id_prefix
    )
    font = 12.5
    line_h = 16.0
    box_pad = 8.0
    n_arms = len(arms)
    col_w = 230.0
    col_gap = 24.0
    margin = 16.0
    width = max(720.0, margin * 2 + n_arms * col_w + (n_arms - 1) * col_gap)
    chars = int((col_w - 2 * box_pad) / (0.6 * font))

    def wrap(lines: list[tuple[str, bool]], max_chars: int) -> list[tuple[str, bool]]:
        out: list[tuple[str, bool]] = []
        for text, bold in lines:
            pieces = textwrap.wrap(text, max_chars, subsequent_indent="   " if text.startswith("\u2022") else "") or [
                ""
            ]
            out += [(piece, bold) for piece in pieces]
        return out

    def box(x: float, y: float, w: float, lines: list[tuple[str, bool]], css: str) -> tuple[list[str], float]:
        h = 2 * box_pad + line_h * len(lines) - 4
        parts = [
            f'<g class="bf-box {css}">',
            f'<rect x="{_num(x)}" y="{_num(y)}" width="{_num(w)}" height="{_num(h)}" rx="3" '
            f'fill="{_BOX_FILL}" stroke="{_INK}" stroke-width="1"/>',
        ]
        for j, (text, bold) in enumerate(lines):
            parts.append(_text(x + box_pad, y + box_pad + 10 + j * line_h, text, weight="bold" if bold else None))
        parts.append("</g>")
        return parts, h

    def arrow(x1: float, y1: float, x2: float, y2: float) -> str:
        return _line(x1, y1, x2, y2, stroke=_INK, width=1.25, extra=f'marker-end="url(#{pid}-arrow)"')

    def stage(y: float, label: str) -> str:
        return (
            f'<g class="bf-stage"><rect x="{_num(margin)}" y="{_num(y)}" width="{_num(width - 2 * margin)}" height="20" '
            f'rx="3" fill="{_STAGE_FILL}" fill-opacity="0.35"/>'
            + _text(margin + 8, y + 14.5, label, weight="bold")
            + "</g>"
        )

    def reason_lines(d: Mapping[str, int]) -> list[tuple[str, bool]]:
        return [(f"\u2022 {r} {_n(n)}", False) for r, n in d.items()]

    body: list[str] = [
        f'<defs><marker id="{pid}-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        f'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="{_INK}"/></marker></defs>'
    ]
    y = margin
    body.append(stage(y, "Enrolment"))
    y += 32
    centre_w = min(300.0, width - 2 * margin)
    cx = width / 2
    if assessed is not None:
        parts, h = box(
            cx - centre_w / 2,
            y,
            centre_w,
            wrap([(f"Assessed for eligibility {_n(assessed)}", False)], 60),
            "bf-assessed",
        )
        body += parts
        assessed_bottom = y + h
        y = assessed_bottom + 26
        if excluded is not None:
            ex_x = cx + centre_w / 2 + 30
            ex_w = min(260.0, width - margin - ex_x)
            ex_lines = wrap(
                [(f"Excluded {_n(excluded)}", False), *reason_lines(reasons)], int((ex_w - 2 * box_pad) / (0.6 * font))
            )
            ex_y = assessed_bottom + 4
            parts, ex_h = box(ex_x, ex_y, ex_w, ex_lines, "bf-excluded")
            body += parts
            mid = ex_y + min(ex_h / 2, 12)
            body.append(_line(cx, mid, ex_x, mid, stroke=_INK, width=1.25, extra=f'marker-end="url(#{pid}-arrow)"'))
            y = max(y, ex_y + ex_h + 20)
        body.append(arrow(cx, assessed_bottom, cx, y))
    rand_lines = [(f"Randomised {_n(randomised)}", True)]
    if clusters_randomised is not None:
        rand_lines.append((f"{clusters_randomised:,} clusters", False))
    parts, h = box(cx - centre_w / 2, y, centre_w, rand_lines, "bf-randomised")
    body += parts
    rand_bottom = y + h
    y = rand_bottom + 22

    xs = [
        margin + (width - 2 * margin - (n_arms * col_w + (n_arms - 1) * col_gap)) / 2 + i * (col_w + col_gap)
        for i in range(n_arms)
    ]
    centres = [x + col_w / 2 for x in xs]
    body.append(stage(y, "Allocation"))
    y_alloc = y + 20 + 24
    # Branch: a horizontal rail from the randomised box down to each arm.
    rail_y = y - 8
    body.append(_line(cx, rand_bottom, cx, rail_y, stroke=_INK, width=1.25))
    if n_arms > 1:
        body.append(_line(centres[0], rail_y, centres[-1], rail_y, stroke=_INK, width=1.25))

    def stage_row(y0: float, contents: list[list[tuple[str, bool]]], css: str) -> list[float]:
        """Draw one box per arm at ``y0``; return each box's bottom edge."""
        bottoms = []
        for x, lines in zip(xs, contents):
            parts, h = box(x, y0, col_w, wrap(lines, chars), css)
            body.extend(parts)
            bottoms.append(y0 + h)
        return bottoms

    alloc = []
    for a in arms:
        lines = [(f"Allocated to {a.name} {_n(a.allocated)}", True)]
        if a.clusters_allocated is not None:
            lines.append((f"{a.clusters_allocated:,} clusters", False))
        if a.received is not None:
            lines.append((f"Received allocated intervention {_n(a.received)}", False))
            lines.append((f"Did not receive allocated intervention {_n(a.allocated - a.received)}", False))
        alloc.append(lines)
    for c in centres:
        body.append(arrow(c, rail_y, c, y_alloc))
    bottoms = stage_row(y_alloc, alloc, "bf-allocated")

    y = max(bottoms) + 22
    body.append(stage(y, "Follow-up"))
    y_fu = y + 20 + 24
    follow = []
    for a in arms:
        lines = [(f"Lost to follow-up {_n(a.lost_to_follow_up)}", False)]
        if a.clusters_lost is not None:
            lines.append((f"Clusters lost {_n(a.clusters_lost)}", False))
        lines += reason_lines(a.lost_reasons)
        if a.discontinued is not None:
            lines.append((f"Discontinued intervention {_n(a.discontinued)}", False))
        follow.append(lines)
    for c, b in zip(centres, bottoms):
        body.append(arrow(c, b, c, y_fu))
    bottoms = stage_row(y_fu, follow, "bf-follow-up")

    y = max(bottoms) + 22
    body.append(stage(y, "Analysis"))
    y_an = y + 20 + 24
    analysis = []
    for a in arms:
        lines = [(f"Analysed {_n(a.analysed)}", True)]
        if a.clusters_analysed is not None:
            lines.append((f"{a.clusters_analysed:,} clusters", False))
        lines.append((f"Excluded from analysis {_n(a.excluded_from_analysis)}", False))
        lines += reason_lines(a.excluded_reasons)
        analysis.append(lines)
    for c, b in zip(centres, bottoms):
        body.append(arrow(c, b, c, y_an))
    bottoms = stage_row(y_an, analysis, "bf-analysed")
    height = max(bottoms) + margin

    if description is None:
        parts_d = []
        if assessed is not None:
            parts_d.append(f"{assessed:,} {unit} assessed for eligibility, {excluded:,} excluded;")
        parts_d.append(
            f"{randomised:,} {unit} randomised"
            + (f" in {clusters_randomised:,} clusters" if clusters_randomised is not None else "")
            + "."
        )
        for a in arms:
            s = f" {a.name}: {a.allocated:,} allocated"
            if a.clusters_allocated is not None:
                s += f" ({a.clusters_allocated:,} clusters)"
            s += f", {a.lost_to_follow_up:,} lost to follow-up, {a.analysed:,} analysed"
            if a.clusters_analysed is not None:
                s += f" ({a.clusters_analysed:,} clusters)"
            parts_d.append(s + ".")
        description = "CONSORT flow diagram. " + " ".join(p.strip() for p in parts_d)

    out = _svg_open(width, height, title, description, pid, "bf-consort")
    out += body
    out.append("</svg>")
    return "\n".join(out)


# ---------------------------------------------------------------------------
# Line charts: power and MDE curves, simulated power
# ---------------------------------------------------------------------------


def _interp(x: Sequence[float], y: Sequence[float], x0: float) -> float:
    if x0 <= x[0]:
        return y[0]
    if x0 >= x[-1]:
        return y[-1]
    for i in range(1, len(x)):
        if x0 <= x[i]:
            t = (x0 - x[i - 1]) / (x[i] - x[i - 1])
            return y[i - 1] + t * (y[i] - y[i - 1])
    return y[-1]  # pragma: no cover


def _fmt_size(v: float) -> str:
    return f"{v:,.0f}" if abs(v - round(v)) < 1e-9 else f"{v:,.1f}"


def _power_ticks() -> list[float]:
    return [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]


def _line_chart(
    xs: list[float],
    series: dict[str, list[float]],
    *,
    x_ticks: list[float],
    x_tick_label: Callable[[float], str],
    y_ticks: list[float],
    y_tick_label: Callable[[float], str],
    hline: tuple[float, str] | None,
    vline: tuple[float, str] | None,
    point_title: Callable[[str, float, float], str],
    intervals: Mapping[str, tuple[list[float], list[float]]] | None,
    legend: bool,
    title: str,
    x_label: str,
    y_label: str,
    description: str,
    width: float,
    height: float,
    pid: str,
    css_class: str,
) -> str:
    """The drawing shared by the line charts: axes, a horizontal reference (target) line, a vertical
    one (planned size) with each series' value there marked, the series, optional interval bars, legend.

    Non-finite y values are left out of their series (e.g. sizes where no MDE exists).
    """
    small = 11.5
    left, right, top = 64.0, 20.0, 20.0
    legend_h = (len(series) * 18 + 8) if legend else 0.0
    bottom = 52.0 + legend_h
    ax = _Axis(x_ticks[0], x_ticks[-1], left, width - right)
    ay = _Axis(y_ticks[0], y_ticks[-1], height - bottom, top)

    out = _svg_open(width, height, title, description, pid, css_class)
    out.append('<g class="bf-axis">')
    for t in y_ticks:
        yy = ay(t)
        out.append(_line(left, yy, width - right, yy, stroke="#D9D9D9", width=0.75))
        out.append(_text(left - 8, yy + 4, y_tick_label(t), anchor="end", size=small, css_class="bf-tick-y"))
    for t in x_ticks:
        xx = ax(t)
        out.append(_line(xx, height - bottom, xx, height - bottom + 5, stroke=_INK))
        out.append(_text(xx, height - bottom + 18, x_tick_label(t), anchor="middle", size=small, css_class="bf-tick-x"))
    out.append(_line(left, height - bottom, width - right, height - bottom, stroke=_INK))
    out.append(_line(left, top, left, height - bottom, stroke=_INK))
    out.append(
        _text((left + width - right) / 2, height - bottom + 38, x_label, anchor="middle", css_class="bf-axis-label")
    )
    ymid = (top + height - bottom) / 2
    out.append(
        _text(
            16,
            ymid,
            y_label,
            anchor="middle",
            css_class="bf-axis-label",
            extra=f'transform="rotate(-90 16 {_num(ymid)})"',
        )
    )
    out.append("</g>")
    if hline is not None:
        yy = ay(hline[0])
        out.append(_line(left, yy, width - right, yy, stroke=_MUTED, width=1.25, dash="5 4", css_class="bf-target"))
        out.append(
            _text(
                width - right - 4,
                yy - 5,
                hline[1],
                anchor="end",
                size=small,
                fill=_MUTED,
                css_class="bf-target-label",
            )
        )
    if vline is not None:
        xx = ax(vline[0])
        out.append(_line(xx, top, xx, height - bottom, stroke=_MUTED, width=1.25, dash="2 3", css_class="bf-planned"))
        anchor = "end" if xx > (left + width - right) / 2 else "start"
        dx = -5 if anchor == "end" else 5
        out.append(
            _text(
                xx + dx,
                top + 12,
                vline[1],
                anchor=anchor,
                size=small,
                fill=_MUTED,
                css_class="bf-planned-label",
            )
        )
    for j, (name, ys) in enumerate(series.items()):
        colour = _SERIES_COLOURS[j % len(_SERIES_COLOURS)]
        dash = _SERIES_DASHES[j % len(_SERIES_DASHES)]
        finite = [(x, y) for x, y in zip(xs, ys) if math.isfinite(y)]
        pts = " ".join(f"{_num(ax(x))},{_num(ay(y))}" for x, y in finite)
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(
            f'<polyline class="bf-series" data-series="{_esc(name)}" points="{pts}" fill="none" '
            f'stroke="{colour}" stroke-width="2.25"{dash_attr}><title>{_esc(name)}</title></polyline>'
        )
        if intervals is not None:
            lows, highs = intervals[name]
            for x, y, lo, hi in zip(xs, ys, lows, highs):
                xx = ax(x)
                out.append(
                    f'<g class="bf-interval">{_line(xx, ay(lo), xx, ay(hi), stroke=colour, width=1.25)}'
                    f"{_line(xx - 3, ay(lo), xx + 3, ay(lo), stroke=colour, width=1.25)}"
                    f"{_line(xx - 3, ay(hi), xx + 3, ay(hi), stroke=colour, width=1.25)}"
                    f'<circle cx="{_num(xx)}" cy="{_num(ay(y))}" r="3" fill="{colour}">'
                    f"<title>{_esc(point_title(name, x, y) + f' (interval {lo:.3f} to {hi:.3f})')}</title></circle></g>"
                )
        if vline is not None:
            p = _interp(xs, ys, vline[0])
            if math.isfinite(p):
                out.append(
                    f'<circle class="bf-planned-point" cx="{_num(ax(vline[0]))}" cy="{_num(ay(p))}" r="4" '
                    f'fill="{colour}" stroke="#FFFFFF" stroke-width="1">'
                    f"<title>{_esc(point_title(name, vline[0], p))}</title></circle>"
                )
    if legend:
        ly = height - legend_h + 4
        out.append('<g class="bf-legend">')
        for j, name in enumerate(series):
            colour = _SERIES_COLOURS[j % len(_SERIES_COLOURS)]
            dash = _SERIES_DASHES[j % len(_SERIES_DASHES)]
            yy = ly + j * 18
            out.append(_line(left, yy, left + 28, yy, stroke=colour, width=2.25, dash=dash))
            out.append(_text(left + 36, yy + 4, name, size=small, css_class="bf-legend-label"))
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out)


def _at_least_two(name: str, values: Iterable[Any], what: str) -> list[float]:
    xs = _floats(name, values)
    if len(xs) < 2:
        raise ValueError(f"The '{name}' parameter must hold at least 2 {what}; got {len(xs)}.")
    return xs


def power_curve(
    n: Sequence[float],
    power: Sequence[float] | Mapping[str, Sequence[float]],
    *,
    planned_n: float | None = None,
    target_power: float | None = 0.8,
    title: str = "Power curve",
    x_label: str = "Sample size (n)",
    y_label: str = "Power",
    description: str | None = None,
    width: float = 640,
    height: float = 400,
    id_prefix: str | None = None,
) -> str:
    """A line chart of power against sample size.

    ``power`` is one sequence (same length as ``n``) or a mapping
    ``label -> sequence`` for several curves (e.g. one per effect size), drawn
    in distinct Okabe-Ito colours *and* dash patterns with a legend. A dashed
    horizontal line marks ``target_power``; a vertical line marks ``planned_n``
    with the power there (linear interpolation) marked on each curve.

    Examples
    --------
    >>> svg = power_curve([100, 200, 400], [0.3, 0.55, 0.85], planned_n=300)
    >>> "Planned n = 300" in svg and "first reaches 80% at n = 400" in svg
    True
    """
    xs = _at_least_two("n", n, "sample sizes")
    if any(v <= 0 for v in xs) or any(b <= a for a, b in pairwise(xs)):
        raise ValueError(f"The 'n' parameter must be positive and strictly increasing; got {xs!r}.")
    if isinstance(power, Mapping):
        series = {str(k): _floats(f"power[{k!r}]", v) for k, v in power.items()}
        if not series:
            raise ValueError("The 'power' parameter must hold at least one series; got an empty mapping.")
    else:
        series = {"Power": _floats("power", power)}
    for name, ys in series.items():
        if len(ys) != len(xs):
            raise ValueError(f"The 'power' series {name!r} must have one value per n ({len(xs)}); got {len(ys)}.")
        bad = [v for v in ys if not 0.0 <= v <= 1.0]
        if bad:
            raise ValueError(f"The 'power' series {name!r} must lie in [0, 1]; got {bad[0]!r}.")
    if target_power is not None and not (0.0 < target_power < 1.0):
        raise ValueError(f"The 'target_power' parameter must be in the open range (0, 1); got {target_power!r}.")
    if planned_n is not None:
        planned_n = float(planned_n)
        if not (math.isfinite(planned_n) and planned_n > 0):
            raise ValueError(f"The 'planned_n' parameter must be a positive number; got {planned_n!r}.")

    pid = _make_id_prefix("power", (xs, series, planned_n, target_power, title, x_label, y_label), id_prefix)
    x_hi = max(xs[-1], planned_n or 0)
    x_lo = min(xs[0], planned_n or xs[0])
    # Start the axis at 0 unless the grid is far from it, so curves are not visually exaggerated.
    ticks_x = _linear_ticks(0.0 if x_lo <= 0.25 * x_hi else x_lo, x_hi)
    if description is None:
        at_planned = {name: _interp(xs, ys, planned_n) for name, ys in series.items()} if planned_n is not None else {}
        parts = [
            f"Line chart of statistical power (0 to 1) against sample size from {_fmt_size(xs[0])} "
            f"to {_fmt_size(xs[-1])}."
        ]
        for name, ys in series.items():
            s = f" {name}: power {ys[0]:.2f} at n = {_fmt_size(xs[0])}, {ys[-1]:.2f} at n = {_fmt_size(xs[-1])}"
            if target_power is not None:
                reach = next((x for x, y in zip(xs, ys) if y >= target_power), None)
                s += (
                    f"; first reaches {target_power:.0%} at n = {_fmt_size(reach)}"
                    if reach is not None
                    else f"; does not reach {target_power:.0%}"
                )
            if planned_n is not None:
                s += f"; {at_planned[name]:.2f} at the planned n = {_fmt_size(planned_n)}"
            parts.append(s + ".")
        description = "".join(parts)
    return _line_chart(
        xs,
        series,
        x_ticks=ticks_x,
        x_tick_label=_fmt_size,
        y_ticks=_power_ticks(),
        y_tick_label=lambda t: f"{t:.1f}",
        hline=None if target_power is None else (target_power, f"Target power {target_power:.0%}"),
        vline=None if planned_n is None else (planned_n, f"Planned n = {_fmt_size(planned_n)}"),
        point_title=lambda name, at, p: f"{name}: power {p:.2f} at n = {_fmt_size(at)}",
        intervals=None,
        legend=isinstance(power, Mapping),
        title=title,
        x_label=x_label,
        y_label=y_label,
        description=description,
        width=width,
        height=height,
        pid=pid,
        css_class="bf-power",
    )


def mde_curve(
    n: Sequence[float],
    mde: Sequence[float],
    *,
    planned_n: float | None = None,
    effect: float | None = None,
    target_power: float = 0.8,
    title: str = "Minimum detectable effect",
    x_label: str = "Sample size (n)",
    y_label: str = "Minimum detectable effect",
    description: str | None = None,
    width: float = 640,
    height: float = 400,
    id_prefix: str | None = None,
) -> str:
    """A line chart of the minimum detectable effect (at ``target_power``) against sample size.

    ``mde`` may hold NaN where no effect is detectable at that size; those points
    are left out. A dashed horizontal line marks the planned ``effect``; a vertical
    line marks ``planned_n`` with the MDE there marked on the curve.

    Examples
    --------
    >>> svg = mde_curve([100, 200, 400], [0.40, 0.28, 0.20], effect=0.25, planned_n=200)
    >>> "Planned effect 0.25" in svg and "MDE 0.28 at n = 200" in svg
    True
    """
    xs = _at_least_two("n", n, "sample sizes")
    if any(v <= 0 for v in xs) or any(b <= a for a, b in pairwise(xs)):
        raise ValueError(f"The 'n' parameter must be positive and strictly increasing; got {xs!r}.")
    try:
        ys = [float(v) for v in mde]
    except (TypeError, ValueError):
        raise ValueError(f"The 'mde' parameter must be a sequence of numbers; got {mde!r}.") from None
    if len(ys) != len(xs):
        raise ValueError(f"The 'mde' parameter must have one value per n ({len(xs)}); got {len(ys)}.")
    finite = [v for v in ys if math.isfinite(v)]
    if not finite:
        raise ValueError("The 'mde' parameter must hold at least one finite value; no size has a detectable effect.")
    if effect is not None and not math.isfinite(effect):
        effect = None
    if not (0.0 < target_power < 1.0):
        raise ValueError(f"The 'target_power' parameter must be in the open range (0, 1); got {target_power!r}.")
    if planned_n is not None:
        planned_n = float(planned_n)
        if not (math.isfinite(planned_n) and planned_n > 0):
            raise ValueError(f"The 'planned_n' parameter must be a positive number; got {planned_n!r}.")

    pid = _make_id_prefix("mde", (xs, ys, planned_n, effect, target_power, title, x_label, y_label), id_prefix)
    x_hi = max(xs[-1], planned_n or 0)
    x_lo = min(xs[0], planned_n or xs[0])
    ticks_x = _linear_ticks(0.0 if x_lo <= 0.25 * x_hi else x_lo, x_hi)
    shown = finite + ([effect] if effect is not None else [])
    # MDEs below the null (decreases) are negative; the axis always includes 0 so sizes read honestly.
    ticks_y = _linear_ticks(min(0.0, *shown), max(0.0, *shown))
    if description is None:
        parts = [
            f"Line chart of the minimum detectable effect at power {target_power:g} against sample size from "
            f"{_fmt_size(xs[0])} to {_fmt_size(xs[-1])}."
        ]
        reachable = [(x, y) for x, y in zip(xs, ys) if math.isfinite(y)]
        parts.append(
            f" MDE {reachable[0][1]:.4g} at n = {_fmt_size(reachable[0][0])}, "
            f"{reachable[-1][1]:.4g} at n = {_fmt_size(reachable[-1][0])}."
        )
        if len(reachable) < len(xs):
            parts.append(f" No effect is detectable at {len(xs) - len(reachable)} of the sizes.")
        if effect is not None:
            parts.append(f" The planned effect is {effect:.4g}.")
        description = "".join(parts)
    return _line_chart(
        xs,
        {"MDE": ys},
        x_ticks=ticks_x,
        x_tick_label=_fmt_size,
        y_ticks=ticks_y,
        y_tick_label=_tick_label,
        hline=None if effect is None else (effect, f"Planned effect {effect:.4g}"),
        vline=None if planned_n is None else (planned_n, f"Planned n = {_fmt_size(planned_n)}"),
        point_title=lambda name, at, v: f"MDE {v:.4g} at n = {_fmt_size(at)}",
        intervals=None,
        legend=False,
        title=title,
        x_label=x_label,
        y_label=y_label,
        description=description,
        width=width,
        height=height,
        pid=pid,
        css_class="bf-mde",
    )


def simulated_power_curve(
    x: Sequence[float],
    power: Mapping[str, Sequence[float]],
    mcse: Mapping[str, Sequence[float]],
    *,
    target_power: float = 0.8,
    z: float = 1.96,
    title: str = "Simulated power",
    x_label: str = "Design parameter",
    y_label: str = "Power (simulated, 95% MC interval)",
    description: str | None = None,
    width: float = 640,
    height: float = 400,
    id_prefix: str | None = None,
) -> str:
    """Power estimated by simulation against a design parameter, one series per label.

    Each point carries a Monte-Carlo interval ``power +/- z * mcse`` (clipped to
    [0, 1]). ``x`` is any strictly increasing grid (sizes, effects, ICCs).

    Examples
    --------
    >>> svg = simulated_power_curve([0.0, 0.2], {"y: nudge": [0.05, 0.81]}, {"y: nudge": [0.01, 0.02]}, x_label="effect")
    >>> "y: nudge: power 0.81 at effect = 0.2" in svg
    True
    """
    xs = _at_least_two("x", x, "grid values")
    if any(b <= a for a, b in pairwise(xs)):
        raise ValueError(f"The 'x' parameter must be strictly increasing; got {xs!r}.")
    series = {str(k): _floats(f"power[{k!r}]", v) for k, v in power.items()}
    if not series:
        raise ValueError("The 'power' parameter must hold at least one series; got an empty mapping.")
    intervals: dict[str, tuple[list[float], list[float]]] = {}
    for name, ys in series.items():
        if len(ys) != len(xs):
            raise ValueError(f"The 'power' series {name!r} must have one value per x ({len(xs)}); got {len(ys)}.")
        if name not in mcse:
            raise ValueError(f"The 'mcse' parameter must hold a series for every power series; {name!r} is missing.")
        se = _floats(f"mcse[{name!r}]", mcse[name])
        if len(se) != len(xs):
            raise ValueError(f"The 'mcse' series {name!r} must have one value per x ({len(xs)}); got {len(se)}.")
        intervals[name] = ([max(0.0, y - z * e) for y, e in zip(ys, se)], [min(1.0, y + z * e) for y, e in zip(ys, se)])
    if not (0.0 < target_power < 1.0):
        raise ValueError(f"The 'target_power' parameter must be in the open range (0, 1); got {target_power!r}.")

    pid = _make_id_prefix("simpower", (xs, series, intervals, target_power, title, x_label, y_label), id_prefix)
    if description is None:
        parts = [f"Line chart of power estimated by simulation against {x_label} from {_tick_label(xs[0])} "
                 f"to {_tick_label(xs[-1])}, with Monte-Carlo intervals."]
        for name, ys in series.items():
            parts.append(f" {name}: " + ", ".join(f"{y:.2f} at {_tick_label(v)}" for v, y in zip(xs, ys)) + ".")
        description = "".join(parts)
    return _line_chart(
        xs,
        series,
        x_ticks=_linear_ticks(xs[0], xs[-1]),
        x_tick_label=_tick_label,
        y_ticks=_power_ticks(),
        y_tick_label=lambda t: f"{t:.1f}",
        hline=(target_power, f"Target power {target_power:.0%}"),
        vline=None,
        point_title=lambda name, at, p: f"{name}: power {p:.2f} at {x_label} = {_tick_label(at)}",
        intervals=intervals,
        legend=True,
        title=title,
        x_label=x_label,
        y_label=y_label,
        description=description,
        width=width,
        height=height,
        pid=pid,
        css_class="bf-simulated-power",
    )


# ---------------------------------------------------------------------------
# Figures of bitframe's results (duck-typed, so this module imports no stage)
# ---------------------------------------------------------------------------

_SIZE_LABELS = {
    "n": "Participants per control arm",
    "clusters": "Clusters per control arm",
    "clusters_per_step": "Clusters per step",
    "cluster_size": "Participants per cluster",
}
_SCALE_LABELS = {
    "mean_difference": "Mean difference",
    "risk_difference": "Risk difference",
    "rate_ratio": "Rate ratio",
    "cohen_f": "Cohen's f",
    "cohen_w": "Cohen's w",
}
_SIZE_ATTR = re.compile(r'<svg\b[^>]*?\swidth="([0-9.]+)" height="([0-9.]+)"')


def figure_row(
    figures: Sequence[str],
    *,
    title: str,
    description: str | None = None,
    gap: float = 16,
    id_prefix: str | None = None,
) -> str:
    """Several figures side by side in one ``<svg>`` (each keeps its own title and description).

    ``description`` defaults to the figures' own descriptions, in order.

    Examples
    --------
    >>> a = power_curve([100, 200], [0.5, 0.8])
    >>> b = mde_curve([100, 200], [0.4, 0.28])
    >>> row = figure_row([a, b], title="Power and MDE")
    >>> row.count("<svg") == 3 and 'width="1296"' in row
    True
    """
    if not figures:
        raise ValueError("The 'figures' parameter must hold at least one figure; got none.")
    sizes = []
    for i, svg in enumerate(figures):
        match = _SIZE_ATTR.match(svg)
        if match is None:
            raise ValueError(f"The 'figures' parameter must hold <svg> elements with a width and height; "
                             f"position {i} has none.")
        sizes.append((float(match.group(1)), float(match.group(2))))
    width = sum(w for w, _ in sizes) + gap * (len(sizes) - 1)
    height = max(h for _, h in sizes)
    if description is None:
        description = " ".join(
            html.unescape(m.group(1)) for svg in figures if (m := re.search(r"<desc\b[^>]*>(.*?)</desc>", svg, re.S))
        )
    pid = _make_id_prefix("row", (list(figures), title), id_prefix)
    out = _svg_open(width, height, title, description, pid, "bf-figure-row")
    x = 0.0
    for svg, (w, _) in zip(figures, sizes):
        out.append(f'<svg x="{_num(x)}" y="0"' + svg[len("<svg"):])
        x += w + gap
    out.append("</svg>")
    return "\n".join(out)


def power_curve_figure(curve: Any, *, title: str | None = None) -> str:
    """Power and minimum detectable effect against size, side by side.

    ``curve`` is a :class:`bitframe.power.PowerCurve`: ``sizes``, ``power`` (NaN
    where no effect was given), ``mde`` (NaN where none is detectable), ``vary``,
    ``effect``, ``effect_scale``, ``target_power`` and ``planned``. The target
    power and the planned effect are dashed reference lines; the planned size is
    a vertical line with its power and MDE marked.
    """
    sizes = [float(v) for v in curve.sizes]
    x_label = _SIZE_LABELS.get(curve.vary, curve.vary)
    effect = None if math.isnan(curve.effect) else float(curve.effect)
    planned = None if curve.planned is None else float(curve.planned)
    panels = []
    if all(math.isfinite(float(v)) for v in curve.power):
        panels.append(power_curve(
            sizes, [float(v) for v in curve.power], planned_n=planned, target_power=curve.target_power,
            title="Power" if effect is None else f"Power to detect {effect:.4g}", x_label=x_label,
        ))
    if any(math.isfinite(float(v)) for v in curve.mde):
        panels.append(mde_curve(
            sizes, [float(v) for v in curve.mde], planned_n=planned, effect=effect, target_power=curve.target_power,
            title=f"Minimum detectable effect at power {curve.target_power:g}", x_label=x_label,
            y_label=_SCALE_LABELS.get(curve.effect_scale, curve.effect_scale or "Effect"),
        ))
    if not panels:
        raise ValueError("The 'curve' parameter has neither power (no effect given) nor a detectable effect "
                         "at any size; there is nothing to draw.")
    return figure_row(panels, title=title or "Power and minimum detectable effect")


def diagnosis_figure(diagnosis: Any) -> str:
    """Simulated power (with Monte-Carlo intervals) over the first grid parameter of a diagnosis.

    ``diagnosis`` is a :class:`bitframe.simulate.diagnose.Diagnosis` run over a
    grid; there is one series per outcome and arm (and per value of any further
    grid parameter).
    """
    rows = list(diagnosis.rows)
    if not rows or not rows[0].grid:
        raise ValueError("a diagnosis plot needs a grid (e.g. grid={'n': [400, 800]})")
    key = next(iter(rows[0].grid))
    power: dict[str, dict[float, float]] = {}
    mcse: dict[str, dict[float, float]] = {}
    for row in rows:
        others = "".join(f", {k} = {v}" for k, v in row.grid.items() if k != key)
        label = f"{row.outcome}: {row.arm}{others}"
        x = float(row.grid[key])
        power.setdefault(label, {})[x] = row.power
        mcse.setdefault(label, {})[x] = row.power_mcse
    xs = sorted({x for by_x in power.values() for x in by_x})
    for label, by_x in power.items():
        if len(by_x) != len(xs):
            raise ValueError(f"every series of a diagnosis plot needs a value at each {key}; {label!r} has "
                             f"{len(by_x)} of {len(xs)}.")
    return simulated_power_curve(
        xs, {k: [v[x] for x in xs] for k, v in power.items()}, {k: [v[x] for x in xs] for k, v in mcse.items()},
        title=f"Design diagnosis: {diagnosis.trial_id} ({diagnosis.sims} simulations each)", x_label=key,
    )


def write_svg(path: str | os.PathLike[str], svg: str) -> Path:
    """Save a figure as a standalone ``.svg`` file (with the XML declaration), atomically."""
    from bitframe.io import write_text_atomic

    path = Path(path)
    if path.suffix.lower() != ".svg":
        raise ValueError(f"The 'path' parameter must end in .svg (only SVG is written); got {str(path)!r}.")
    write_text_atomic(path, '<?xml version="1.0" encoding="UTF-8"?>\n' + svg + "\n")
    return path
