r"""Shared helpers of the site and programme reports: numbers, sentences, results files, HTML and PDF.

Number formats (the precision every report uses; the tests read numbers back
from the HTML and check them against the results to half a unit of the last
digit shown):

==========================  ==============================================  =======================
quantity                    rule                                            example
==========================  ==============================================  =======================
binary level (a share)      percent, 0 decimals                             ``41%``
binary effect               percentage points, 1 decimal, signed            ``+6.9 percentage points``
continuous level / effect   decimals :math:`d = 1 - \lfloor\log_{10} SE\rfloor`
                            clamped to [0, 3] (two significant figures of
                            the standard error)                             ``+0.93``
ratio (odds, rate)          2 decimals                                      ``1.25``
p-value                     3 decimals; ``< 0.001`` below that              ``p = 0.004``
counts of people            thousands separators                            ``1,600``
SMD                         3 decimals, signed                              ``-0.078``
tau-squared                 3 significant figures                           ``59.8``
I-squared                   2 significant figures, at most 1 decimal        ``45%``, ``4.3%``
ICC (observed, assumed)     2 significant figures of each, shared decimals  ``0.031``, ``0.050``
==========================  ==============================================  =======================

Negative numbers use the Unicode minus sign (U+2212), as typeset reports do.

Strength of evidence follows the verbal scale of Bland (2015), *An Introduction
to Medical Statistics*, 4th ed., section 9.4, applied to the p-value that the
pre-registered plan makes decisive (the multiplicity-adjusted one when the
protocol names a correction):

=================  =============================================
p-value            words
=================  =============================================
p < 0.001          very strong evidence
0.001 <= p < 0.01  strong evidence
0.01 <= p < 0.05   moderate evidence
0.05 <= p < 0.1    weak evidence
p >= 0.1           little or no evidence (of a difference)
=================  =============================================

A confidence interval is explained as the range of true effects compatible
with the data at the stated level (Greenland S et al. 2016, Statistical tests,
P values, confidence intervals, and power: a guide to misinterpretations,
*Eur J Epidemiol* 31:337-350), saying whether it includes no effect.

PDF output prints the finished HTML with headless Chromium (Debian's
``chromium`` package), with networking disabled, so the PDF has exactly the
HTML's content.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bitframe.analyse.results import AnalysisResult, EffectEstimate
from bitframe.display import FrameDisplay
from bitframe.errors import BitframeError, DataError, Problem

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CHROMIUM",
    "EVIDENCE_LEVELS",
    "RenderedReport",
    "check_trial",
    "ci_meaning",
    "continuous_digits",
    "decide",
    "describe_effect",
    "describe_margin_test",
    "evidence",
    "find_chromium",
    "fmt_count",
    "fmt_number",
    "fmt_p",
    "fmt_percent",
    "fmt_sig",
    "fmt_signed",
    "html_to_pdf",
    "humanise",
    "load_results",
    "rate_digits",
    "sig_decimals",
    "stratum_label",
    "write_report",
]

MINUS = "\u2212"
CHROMIUM = "/usr/bin/chromium"

# (upper bound exclusive, words, css class); Bland (2015), section 9.4.
EVIDENCE_LEVELS: tuple[tuple[float, str, str], ...] = (
    (0.001, "very strong evidence", "ev-very-strong"),
    (0.01, "strong evidence", "ev-strong"),
    (0.05, "moderate evidence", "ev-moderate"),
    (0.1, "weak evidence", "ev-weak"),
    (math.inf, "little or no evidence", "ev-none"),
)

# --------------------------------------------------------------------------- numbers


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def fmt_number(x: Any, digits: int = 2, *, thousands: bool = False) -> str:
    """``x`` to ``digits`` decimals with a true minus sign; an em dash for missing values.

    >>> fmt_number(-0.0004, 3), fmt_number(2.5, 0), fmt_number(None)
    ('0.000', '2', '—')
    """
    if not _finite(x):
        return "\u2014"
    s = f"{x:,.{digits}f}" if thousands else f"{x:.{digits}f}"
    if s.startswith("-"):
        # "-0.0" is zero at this precision, not a negative number.
        s = s[1:] if s.strip("-0.,") == "" else MINUS + s[1:]
    return s


def fmt_signed(x: Any, digits: int = 2) -> str:
    """Like :func:`fmt_number` with an explicit ``+`` for positive values.

    >>> fmt_signed(0.069 * 100, 1), fmt_signed(-1.25, 2)
    ('+6.9', '−1.25')
    """
    s = fmt_number(x, digits)
    if _finite(x) and not s.startswith(MINUS) and s.strip("0.") != "":
        s = "+" + s
    return s


def fmt_percent(p: Any, digits: int = 0) -> str:
    """A proportion in [0, 1] as a percentage: ``0.41 -> '41%'``."""
    return "\u2014" if not _finite(p) else fmt_number(100.0 * p, digits) + "%"


def fmt_count(n: Any) -> str:
    """A count with thousands separators; an em dash for missing."""
    if isinstance(n, bool) or not isinstance(n, (int, float)) or (isinstance(n, float) and not math.isfinite(n)):
        return "\u2014"
    return f"{round(n):,}"


def fmt_p(p: Any) -> str:
    """``'0.004'``, ``'< 0.001'`` or an em dash (no ``p =`` prefix)."""
    if not _finite(p):
        return "\u2014"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def p_phrase(p: Any) -> str:
    """``'p = 0.004'`` or ``'p < 0.001'``."""
    s = fmt_p(p)
    return f"p {s}" if s.startswith("<") else f"p = {s}"


def continuous_digits(std_error: Any) -> int:
    r"""Decimals showing the standard error to two significant figures, in [0, 3].

    :math:`d = 1 - \lfloor \log_{10} SE \rfloor`, clamped; 2 when SE is unknown.

    >>> continuous_digits(0.209), continuous_digits(2.4), continuous_digits(35.0)
    (2, 1, 0)
    """
    if not _finite(std_error) or std_error <= 0:
        return 2
    return int(min(3, max(0, 1 - math.floor(math.log10(std_error)))))


def sig_digits(x: Any, n: int = 2) -> int:
    """Decimals that show ``x`` to ``n`` significant figures, in [0, 3].

    >>> sig_digits(0.1), sig_digits(21.8), sig_digits(0.0123)
    (2, 0, 3)
    """
    if not _finite(x) or x == 0:
        return 2
    return int(min(3, max(0, n - 1 - math.floor(math.log10(abs(x))))))


def sig_decimals(*values: Any, n: int = 2, max_decimals: int = 6) -> int:
    """Decimals that show every value to at least ``n`` significant figures, in [0, ``max_decimals``].

    Used for heterogeneity and correlation statistics (τ², I², ICC), whose size varies by orders of
    magnitude: τ² = 59.8 (pp²) and 0.00123 both keep three significant figures with ``n=3``.

    >>> sig_decimals(59.8095, n=3), sig_decimals(0.031, 0.05), sig_decimals(0.0)
    (1, 3, 0)
    """
    found = [n - 1 - math.floor(math.log10(abs(v))) for v in values if _finite(v) and v != 0]
    return int(min(max_decimals, max([0, *found])))


def fmt_sig(x: Any, n: int = 2, *, max_decimals: int = 6) -> str:
    """``x`` to ``n`` significant figures (no trailing exponent): ``59.8095 -> '59.8'`` with ``n=3``."""
    return fmt_number(x, sig_decimals(x, n=n, max_decimals=max_decimals))


def level_text(ci_level: float) -> str:
    """``0.95 -> '95'``, ``0.975 -> '97.5'``."""
    return f"{100 * ci_level:.1f}".rstrip("0").rstrip(".")


def humanise(identifier: str) -> str:
    """``'stratified_block' -> 'Stratified block'``."""
    s = str(identifier).replace("_", " ").strip()
    return s[:1].upper() + s[1:]


def stratum_label(stratum: str) -> str:
    """A stratum as a reader names it: ``'practice=Elm Road; age_band=65+' -> 'Practice: Elm Road; Age band: 65+'``.

    The randomisation list keeps the machine form (column=value); parts without ``=`` are kept as they are.
    """
    parts = []
    for part in str(stratum).split("; "):
        column, sep, value = part.partition("=")
        parts.append(f"{humanise(column)}: {value}" if sep else part)
    return "; ".join(parts)


# --------------------------------------------------------------------------- words


def evidence(p: Any) -> tuple[str, str]:
    """Words and CSS class for the strength of evidence against no effect (Bland 2015).

    >>> evidence(0.004)
    ('strong evidence', 'ev-strong')
    >>> evidence(0.3)[0]
    'little or no evidence'
    """
    if not _finite(p):
        return ("no p-value available", "ev-none")
    for bound, words, css in EVIDENCE_LEVELS:
        if p < bound:
            return words, css
    return EVIDENCE_LEVELS[-1][1:]  # pragma: no cover - p is finite, so the last bound catches it


def ci_meaning(lo_text: str, hi_text: str, *, includes_null: bool, ci_level: float, unit: str = "") -> str:
    """One sentence saying what the interval means in words (Greenland et al. 2016)."""
    unit = f" {unit}" if unit else ""
    head = (
        f"The {level_text(ci_level)}% confidence interval means the data are compatible with a true effect "
        f"anywhere between {lo_text} and {hi_text}{unit}"
    )
    if includes_null:
        return head + "; it includes no effect, so the trial cannot rule out that the intervention made no difference."
    return head + "; it excludes no effect."


# --------------------------------------------------------------------------- results files


def load_results(path: str | os.PathLike, *, trial_id: str | None = None) -> AnalysisResult:
    """Read a results file; bad JSON, another format version or a bad field is an error naming the file."""
    result = AnalysisResult.from_json(path)
    if trial_id is not None:
        check_trial(result, trial_id, label=str(path))
    return result


def check_trial(result: AnalysisResult, trial_id: str, *, label: str = "<results>") -> None:
    """Refuse results written for another trial than the protocol's, naming both."""
    if result.trial_id != trial_id:
        raise DataError(Problem(
            "BF505",
            f"the results are for trial '{result.trial_id}' but the protocol is trial '{trial_id}'",
            file=label,
            hint="pass the results file written for this protocol (`bitframe analyse PROTOCOL ... --json`)",
        ))


# --------------------------------------------------------------------------- output


@dataclass(frozen=True)
class RenderedReport(FrameDisplay):
    """What a render call wrote: the HTML, the PDF (or None), and the report's section ids."""

    html: Path
    pdf: Path | None
    sections: tuple[str, ...]
    kind: str  # "site" or "programme"
    warnings: tuple[str, ...] = ()  # what the command line repeats on standard error

    def to_frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame([{"kind": self.kind, "html": str(self.html), "pdf": str(self.pdf) if self.pdf else None,
                              "sections": ",".join(self.sections)}])


def find_chromium() -> str:
    """The headless browser used for PDFs: ``$BITFRAME_CHROMIUM``, ``/usr/bin/chromium`` or ``chromium`` on PATH."""
    candidates = [os.environ.get("BITFRAME_CHROMIUM"), CHROMIUM, shutil.which("chromium"),
                  shutil.which("chromium-browser")]
    for c in candidates:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    raise BitframeError(Problem(
        "BF510", "cannot write a PDF: headless Chromium was not found (looked for /usr/bin/chromium)",
        hint="install Debian's package: `sudo apt-get install chromium` (or run scripts/system-deps.sh), "
             "or set BITFRAME_CHROMIUM to a Chromium binary; the HTML report needs no browser",
    ))


def chromium_command(chromium: str, user_data_dir: str | os.PathLike) -> list[str]:
    """The headless Chromium flags shared by PDF printing and the browser tests: no network, no state."""
    return [
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-extensions", "--disable-default-apps", "--no-default-browser-check",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        f"--user-data-dir={user_data_dir}",
    ]


def html_to_pdf(html_path: str | os.PathLike, pdf_path: str | os.PathLike, *, timeout: float = 120.0,
                chromium: str | None = None) -> Path:
    """Print an HTML file to PDF with headless Chromium (A4 and margins come from the report's print CSS)."""
    if not (isinstance(timeout, (int, float)) and timeout > 0):
        raise ValueError(f"The 'timeout' parameter must be a positive number of seconds; got {timeout!r}.")
    exe = chromium or find_chromium()
    html_path = Path(html_path).resolve()
    pdf_path = Path(pdf_path).resolve()
    with tempfile.TemporaryDirectory(prefix="bitframe-chromium-") as profile:
        cmd = [*chromium_command(exe, profile), "--no-pdf-header-footer", f"--print-to-pdf={pdf_path}", html_path.as_uri()]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise BitframeError(Problem("BF511", f"Chromium did not finish printing the PDF within {timeout:g} s",
                                        file=str(pdf_path))) from None
    if proc.returncode != 0 or not pdf_path.exists() or pdf_path.read_bytes()[:5] != b"%PDF-":
        tail = "\n".join((proc.stderr or "").strip().splitlines()[-5:])
        raise BitframeError(Problem("BF511", f"Chromium failed to print the PDF (exit {proc.returncode})",
                                    file=str(pdf_path), hint=tail or None))
    return pdf_path


def write_report(html_text: str, out_html: str | os.PathLike, *, pdf: bool | str | os.PathLike = False,
                 force: bool = False, sections: Sequence[str] = (), kind: str = "site",
                 warnings: Sequence[str] = ()) -> RenderedReport:
    """Write the HTML (and its PDF) atomically; refuse to overwrite without ``force``.

    ``pdf=True`` writes ``out_html`` with the suffix ``.pdf``; a path writes there.
    Both files are produced in a temporary folder beside the target and renamed
    into place only once both exist, so a failure leaves no partial output.
    """
    from bitframe.io import ensure_writable

    out_html = Path(out_html)
    if out_html.suffix.lower() not in (".html", ".htm"):
        raise ValueError(f"The 'out_html' parameter must end in .html or .htm; got {str(out_html)!r}.")
    pdf_path: Path | None
    if pdf is True:
        pdf_path = out_html.with_suffix(".pdf")
    elif pdf is False or pdf is None:
        pdf_path = None
    else:
        pdf_path = Path(pdf)
    ensure_writable([out_html] + ([pdf_path] if pdf_path else []), force=force)
    if pdf_path:
        find_chromium()  # fail before any work if the browser is missing
    out_html.parent.mkdir(parents=True, exist_ok=True)
    # Chromium decides the content type from the file name, so the HTML it prints must end in .html.
    work = Path(tempfile.mkdtemp(prefix=f".{out_html.stem}.", dir=out_html.parent))
    try:
        tmp_html = work / "report.html"
        tmp_html.write_text(html_text, encoding="utf-8")
        if pdf_path:
            from bitframe.io import atomic_path

            with atomic_path(pdf_path) as tmp_pdf:
                html_to_pdf(tmp_html, tmp_pdf)
        os.replace(tmp_html, out_html)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return RenderedReport(html=out_html, pdf=pdf_path, sections=tuple(sections), kind=kind,
                          warnings=tuple(warnings))


def render_template(name: str, **context: Any) -> str:
    """Render ``templates/report/<name>`` with the report filters."""
    from bitframe.resources import jinja_environment

    env = jinja_environment()
    env.filters.update(
        number=fmt_number, signed=fmt_signed, percent=fmt_percent, count=fmt_count, pvalue=fmt_p,
        humanise=humanise,
    )
    return env.get_template(f"report/{name}").render(**context)


# --------------------------------------------------------------------------- effects in words

RATIO_SCALES = {
    "odds_ratio": "odds ratio", "risk_ratio": "risk ratio", "rate_ratio": "rate ratio",
    "hazard_ratio": "hazard ratio", "ratio": "ratio",
}
LOG_RATIO_SCALES = {f"log_{k}": v for k, v in RATIO_SCALES.items()}
_RATIO_NOUN = {"odds ratio": "odds", "risk ratio": "risk", "rate ratio": "rate", "hazard ratio": "hazard",
               "ratio": "level"}
RATIO_DIGITS = 2
PP_DIGITS = 1


@dataclass(frozen=True)
class EffectText:
    """One effect (arm vs control, one outcome) formatted for a report.

    ``plot_*`` are the numbers on the display scale (percentage points, units
    or ratios) for forest plots; ``display`` is ``"pp"``, ``"units"`` or ``"ratio"``.
    """

    outcome: str
    arm: str
    outcome_label: str
    arm_name: str
    control_name: str
    display: str
    scale_label: str
    unit: str
    digits: int
    estimate: str
    ci_lower: str
    ci_upper: str
    ci: str
    control_level: str | None
    arm_level: str | None
    p_value: str
    p_adjusted: str | None
    evidence: str
    evidence_class: str
    headline: str
    evidence_sentence: str
    ci_sentence: str
    relative: str | None
    plot_estimate: float
    plot_lower: float
    plot_upper: float
    null_value: float
    includes_null: bool
    rejects: bool


def display_transform(scale: str, outcome_type: str | None) -> tuple[str, str, str, Any]:
    """How an estimate on ``scale`` is shown: (display, scale label, unit, value transform).

    Differences in a binary outcome become percentage points; log ratios are exponentiated.
    """
    scale = str(scale or "difference")
    if scale in RATIO_SCALES:
        return "ratio", RATIO_SCALES[scale], "", (lambda v: v)
    if scale in LOG_RATIO_SCALES:
        return "ratio", LOG_RATIO_SCALES[scale], "", math.exp
    if scale in ("difference", "marginal_effect") and outcome_type == "binary":
        return "pp", "difference in percentage points", "percentage points", (lambda v: 100.0 * v)
    if scale in ("difference", "marginal_effect"):
        unit = "per participant" if outcome_type == "count" else ""
        return "units", "difference in means", unit, (lambda v: v)
    return "units", humanise(scale).lower(), "", (lambda v: v)


def _article(name: str) -> str:
    first = name.split(" ", 1)[0].lower()
    return name if first in ("the", "a", "an") else f"the {name}"


def _capital(s: str) -> str:
    return s[:1].upper() + s[1:]


def rate_digits(*shares: Any) -> int:
    """Decimals (0 to 3) of percentages at which shares that differ never print the same.

    Digits are chosen from the values compared, so 0.050 and 0.054 print as 5.0% and 5.4%, not 5% and 5%.

    >>> rate_digits(0.41, 0.48), rate_digits(0.050, 0.054), rate_digits(0.2, 0.2)
    (0, 1, 0)
    """
    values = [float(v) for v in shares if _finite(v)]
    for digits in range(3):
        printed: dict[str, float] = {}
        if not any(abs(printed.setdefault(fmt_percent(v, digits), v) - v) > 1e-12 for v in values):
            return digits
    return 3


@dataclass(frozen=True)
class Decision:
    """What the pre-registered test decides for one effect (``docs/report-language.md``).

    ``p`` is the decisive p-value (multiplicity-adjusted when the protocol corrects; one-sided,
    in the registered direction, when the test is one-sided); ``rejects`` whether it is below
    ``alpha``; ``direction`` the sign of the estimate against no effect (+1, -1, 0).
    """

    p: float | None
    rejects: bool
    direction: int
    sides: int
    registered: int


def decide(estimate: float, null: float, p_value: Any, p_adjusted: Any, *, alpha: float = 0.05, sides: int = 2,
           registered: int = 1, corrected: bool = False) -> Decision:
    """Apply the pre-registered test: reject at ``alpha`` with the decisive p-value.

    Two-sided: reject when the (adjusted) p-value is below ``alpha``. One-sided
    (``sides=1``) in the ``registered`` direction (+1 an increase, -1 a decrease):
    the one-sided p-value is half the two-sided one when the estimate lies on the
    registered side and one minus that half otherwise, so an effect in the other
    direction never rejects.
    """
    if not (isinstance(alpha, (int, float)) and 0 < alpha < 1):
        raise ValueError(f"The 'alpha' parameter must be in (0, 1); got {alpha!r}.")
    if sides not in (1, 2):
        raise ValueError(f"The 'sides' parameter must be 1 or 2; got {sides!r}.")
    if registered not in (1, -1):
        raise ValueError(f"The 'registered' parameter must be 1 or -1; got {registered!r}.")
    direction = 0 if not math.isfinite(estimate) or estimate == null else (1 if estimate > null else -1)
    two_sided = p_adjusted if corrected and _finite(p_adjusted) else p_value
    if not _finite(two_sided):
        return Decision(None, False, direction, sides, registered)
    p = float(two_sided)
    if sides == 1:
        p = p / 2 if direction == registered else 1 - p / 2
    return Decision(p, p < alpha, direction, sides, registered)


def describe_effect(row: EffectEstimate, *, outcome_type: str | None, outcome_label: str, arm_name: str,
                    control_name: str, ci_level: float, control_mean: float | None = None,
                    adjustment_name: str | None = None, alpha: float = 0.05, sides: int = 2,
                    registered: int = 1) -> EffectText:
    """Format one effect of the results and say it in plain English (``docs/report-language.md``).

    Binary outcomes: levels in percent (digits from :func:`rate_digits`) and the
    effect in percentage points ("from 41% to 48%, +6.9 percentage points"); the
    arm's level is the control mean plus the (model-based) effect. Continuous
    outcomes: the outcome's own units, to the precision of
    :func:`continuous_digits`. Ratio scales (odds, rate ratios; log ratios are
    exponentiated): "multiplied the rate by 1.25"; the arm's level is the control
    mean times the ratio.

    Direction words ("increased", "reduced", "multiplied") appear only when the
    pre-registered test rejects (:func:`decide`: ``alpha``, ``sides``, the
    ``registered`` direction of a one-sided test, the correction named by
    ``adjustment_name``); otherwise the headline says there is no clear evidence
    and gives the interval.
    """
    display, scale_label, unit, tf = display_transform(row.scale, outcome_type)
    est_raw, lo_raw, hi_raw = row.estimate, row.ci_lower, row.ci_upper
    if not all(_finite(v) for v in (est_raw, lo_raw, hi_raw)):
        est = lo = hi = math.nan
    else:
        est, lo, hi = tf(float(est_raw)), tf(float(lo_raw)), tf(float(hi_raw))
    if display == "pp":
        digits = PP_DIGITS
    elif display == "ratio":
        digits = RATIO_DIGITS
    else:
        digits = continuous_digits(row.std_error)
    null = 1.0 if display == "ratio" else 0.0
    # The estimate carries its sign ("+6.9"); interval bounds only a minus ("2.1 to 11.7"), as in BMJ style.
    est_t = fmt_number(est, digits) if display == "ratio" else fmt_signed(est, digits)
    lo_t, hi_t = fmt_number(lo, digits), fmt_number(hi, digits)
    ci_t = f"{lo_t} to {hi_t}"
    includes_null = not (math.isfinite(lo) and math.isfinite(hi)) or lo <= null <= hi

    cm = control_mean if _finite(control_mean) else row.control_mean
    if cm is not None and not math.isfinite(cm):
        cm = None
    control_level = arm_level = None
    if cm is not None and math.isfinite(est):
        raw_est = float(est_raw)
        if display == "pp":
            d = rate_digits(cm, cm + raw_est)
            control_level, arm_level = fmt_percent(cm, d), fmt_percent(cm + raw_est, d)
        elif display == "ratio" and scale_label == "rate ratio":
            d = sig_digits(cm)
            control_level, arm_level = fmt_number(cm, d), fmt_number(cm * est, d)
        elif display == "units" and row.scale in ("difference", "marginal_effect"):
            control_level, arm_level = fmt_number(cm, digits), fmt_number(cm + raw_est, digits)

    relative = None
    rel = row.relative_effect
    if display == "ratio" and math.isfinite(est):
        rel = est - 1.0
    if rel is not None and _finite(rel) and fmt_number(100 * rel, 0) not in ("0",):
        relative = f"{fmt_number(abs(100 * rel), 0)}% {'higher' if rel > 0 else 'lower'}"

    p = row.p_value
    p_adj = row.p_adjusted
    has_adj = p_adj is not None and _finite(p_adj) and _finite(p) and abs(p_adj - p) > 1e-12
    decision = decide(est, null, p, p_adj, alpha=alpha, sides=sides, registered=registered, corrected=has_adj)
    words, css = evidence(decision.p)

    subject = _capital(_article(arm_name))
    label = f"\u201c{outcome_label}\u201d"
    level = level_text(ci_level)
    arms_t = f"between {_article(arm_name)} and {_article(control_name)}"
    if sides == 1:
        wanted = "an increase" if registered > 0 else "a reduction"
        no_clear = f"There is no clear evidence of {wanted} in {label} {arms_t} (the one-sided test's direction)"
    else:
        no_clear = f"There is no clear evidence of a difference in {label} {arms_t}"
    if not math.isfinite(est):
        headline = f"{subject}: no estimate for {label} is available."
    elif display == "ratio":
        noun = _RATIO_NOUN.get(scale_label, "level")
        shown = fmt_number(est, digits)
        levels = f" (from {control_level} to {arm_level} {unit or 'per participant'})" if control_level else ""
        rel_t = f", {relative}" if relative else ""
        if decision.rejects:
            verb = f"multiplied the {noun} of {label} by {shown} compared with {_article(control_name)}"
            headline = f"{subject} {verb}{levels}: {scale_label} {shown} ({level}% CI {ci_t}){rel_t}."
        else:
            headline = f"{no_clear}{levels}: {scale_label} {shown} ({level}% CI {ci_t}){rel_t}."
    else:
        unit_t = f" {unit}" if unit else ""
        verb = "increased" if decision.direction > 0 else "reduced"
        if control_level:
            levels = f"from {control_level} ({control_name}) to {arm_level}, {est_t}{unit_t} ({level}% CI {ci_t})"
            headline = (f"{subject} {verb} {label} {levels}." if decision.rejects else f"{no_clear}: {levels}.")
        elif decision.rejects:
            headline = f"{subject} {verb} {label} by {est_t}{unit_t} compared with {control_name} ({level}% CI {ci_t})."
        else:
            headline = f"{no_clear}: {est_t}{unit_t} ({level}% CI {ci_t})."
    p_t = p_phrase(p)
    if has_adj:
        how = f"{adjustment_name}-adjusted" if adjustment_name else "adjusted for multiple comparisons"
        p_t += f"; {how} {p_phrase(p_adj)}"
    if sides == 1 and decision.p is not None:
        p_t += f"; one-sided {p_phrase(decision.p)}"
    if words == "little or no evidence":
        ev_sentence = f"There is little or no evidence of a difference ({p_t})."
    elif words == "no p-value available":
        ev_sentence = "No p-value is available for this comparison."
    else:
        ev_sentence = f"There is {words} of a difference ({p_t})."
    ci_sentence = ci_meaning(lo_t, hi_t, includes_null=includes_null, ci_level=ci_level,
                             unit=unit if display != "ratio" else "")
    return EffectText(
        outcome=row.outcome, arm=row.arm, outcome_label=outcome_label, arm_name=arm_name,
        control_name=control_name, display=display, scale_label=scale_label, unit=unit, digits=digits,
        estimate=est_t, ci_lower=lo_t, ci_upper=hi_t, ci=ci_t, control_level=control_level, arm_level=arm_level,
        p_value=fmt_p(p), p_adjusted=fmt_p(p_adj) if has_adj else None, evidence=words, evidence_class=css,
        headline=headline, evidence_sentence=ev_sentence, ci_sentence=ci_sentence, relative=relative,
        plot_estimate=est, plot_lower=lo, plot_upper=hi, null_value=null, includes_null=includes_null,
        rejects=decision.rejects,
    )


def describe_margin_test(row: EffectEstimate, *, outcome_type: str | None, outcome_label: str, arm_name: str,
                         control_name: str, alpha: float, lower: float | None = None, upper: float | None = None,
                         margin: float | None = None, higher_is_better: bool = True) -> str:
    """An equivalence (TOST, ``lower``/``upper``) or non-inferiority (``margin``) result in its own terms.

    The test shows equivalence (non-inferiority) when its p-value is below ``alpha``,
    i.e. when the ``1 - 2 alpha`` interval lies inside the margins (beyond the margin);
    failing to show it is not evidence of a difference.
    """
    display, _, unit, tf = display_transform(row.scale, outcome_type)
    digits = PP_DIGITS if display == "pp" else RATIO_DIGITS if display == "ratio" else continuous_digits(row.std_error)
    unit_t = f" {unit}" if unit else ""
    subject, control = _article(arm_name), _article(control_name)
    label = f"\u201c{outcome_label}\u201d"
    shows = _finite(row.p_value) and row.p_value < alpha
    ci = (f"{level_text(row.ci_level)}% CI {fmt_number(tf(row.ci_lower), digits)} to "
          f"{fmt_number(tf(row.ci_upper), digits)}{unit_t}")
    est = f"{fmt_signed(tf(row.estimate), digits)}{unit_t}"
    if margin is not None:
        bound = -margin if higher_is_better else margin
        side = "above" if higher_is_better else "below"
        bound_t = f"{fmt_signed(tf(bound), digits)}{unit_t}"
        if shows:
            return (f"{_capital(subject)} is non-inferior to {control} on {label}: the difference {est} ({ci}) "
                    f"lies {side} the registered margin of {bound_t} ({p_phrase(row.p_value)}).")
        return (f"Non-inferiority of {subject} to {control} on {label} was not shown: the interval ({ci}) "
                f"reaches the registered margin of {bound_t} ({p_phrase(row.p_value)}); "
                "this is not evidence that it is worse.")
    if lower is None or upper is None:
        raise ValueError("Give 'lower' and 'upper' for equivalence, or 'margin' for non-inferiority.")
    bounds = f"{fmt_signed(tf(lower), digits)} to {fmt_signed(tf(upper), digits)}{unit_t}"
    if shows:
        return (f"{_capital(subject)} and {control} are equivalent on {label} within the registered margins "
                f"{bounds}: the difference {est} ({ci}) lies inside them (TOST {p_phrase(row.p_value)}).")
    return (f"Equivalence of {subject} and {control} on {label} within the registered margins {bounds} was not "
            f"shown: the interval ({ci}) reaches beyond them (TOST {p_phrase(row.p_value)}); "
            "this is not evidence of a difference.")
