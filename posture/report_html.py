"""One self-contained HTML report: inline CSS, charts as base64 PNG made with matplotlib (Agg).

Nothing is fetched: no CDN, no web fonts (a system font stack), no scripts. The page has a
viewport meta and fluid images so it reads on a phone. Each chart is an `<img class="chart">`
with a stable id (`chart-timeline`, `chart-daily`, `chart-angles`, `chart-faults`,
`chart-heatmap`, `chart-trend`) and its intrinsic pixel size in width/height attributes.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Callable
from datetime import datetime, timedelta, tzinfo
from typing import Any

import numpy as np

from posture import __version__
from posture.core.events import FAULTS, STATES
from posture.core.messages import plural
from posture.core.summary import MIN_BREAK_S, Summary, local_offsets_s
from posture.report_text import fmt_duration, fmt_minutes, fmt_score, period_label

COLORS = {"good": "#009E73", "slouching": "#D55E00", "away": "#A0A0A0", "unknown": "#DDDDDD"}
"""Okabe-Ito based: readable for the common colour-vision deficiencies."""
CVA_COLOR = "#0072B2"
NECK_COLOR = "#CC79A7"
CHART_W_IN, DPI = 7.0, 100
SCALE = 2  # PNG pixels per CSS pixel, for sharp charts on phones


def _figure(height_in: float) -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(CHART_W_IN, height_in), dpi=DPI * SCALE)
    return fig


def _png(fig: Any) -> tuple[str, int, int]:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI * SCALE, facecolor="white")
    w, h = fig.get_size_inches()
    return base64.b64encode(buf.getvalue()).decode("ascii"), int(w * DPI), int(h * DPI)


def _style(ax: Any) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=9)
    ax.grid(axis="y", color="#eeeeee", linewidth=0.8)
    ax.set_axisbelow(True)


def _local_hours(t_unix: np.ndarray, day_start_unix: float, tz: tzinfo) -> np.ndarray:
    """Hours since local midnight of the report day (DST-aware)."""
    t = np.asarray(t_unix, dtype=np.float64)
    hours: np.ndarray = (
        t
        + local_offsets_s(t, tz)
        - (day_start_unix + local_offsets_s(np.array([day_start_unix]), tz)[0])
    ) / 3600.0
    return hours


def chart_timeline(s: Summary, tz: tzinfo) -> Any:
    """One day: stacked minutes per state for every minute (a strip through the day)."""
    fig = _figure(2.2)
    ax = fig.add_subplot(1, 1, 1)
    m = s.minutes
    x = _local_hours(m.t_unix, s.start_unix, tz)
    bottom = np.zeros(len(x))
    for i, st in enumerate(STATES):
        frac = m.state_s[:, i] / 60.0
        ax.bar(
            x,
            frac,
            width=1 / 60,
            bottom=bottom,
            align="edge",
            color=COLORS[st],
            label=st,
            linewidth=0,
        )
        bottom += frac
    lo = math.floor(float(x.min())) if len(x) else 8
    hi = math.ceil(float(x.max()) + 1 / 60) if len(x) else 18
    ax.set_xlim(lo, max(hi, lo + 1))
    ax.set_ylim(0, 1)
    ax.set_yticks([])
    ax.set_xticks(range(lo, max(hi, lo + 1) + 1))
    ax.set_xticklabels([f"{h % 24:02d}" for h in range(lo, max(hi, lo + 1) + 1)])
    ax.set_xlabel("local time (hour)", fontsize=9)
    _style(ax)
    ax.grid(False)
    ax.legend(ncol=4, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, 1.3), frameon=False)
    fig.subplots_adjust(left=0.04, right=0.98, bottom=0.25, top=0.8)
    return fig


def chart_daily(s: Summary, tz: tzinfo) -> Any:
    """Several days: monitored hours per day, stacked by state."""
    fig = _figure(2.8)
    ax = fig.add_subplot(1, 1, 1)
    labels = [d.day.strftime("%a %-d") for d in s.daily]
    x = np.arange(len(s.daily))
    per_day = np.zeros((len(s.daily), len(STATES)))
    if len(s.minutes.t_unix):
        local = s.minutes.t_unix + local_offsets_s(s.minutes.t_unix, tz)
        first = (s.first_day - datetime(1970, 1, 1).date()).days
        idx = np.floor(local / 86400.0).astype(np.int64) - first
        ok = (idx >= 0) & (idx < len(s.daily))
        np.add.at(per_day, idx[ok], s.minutes.state_s[ok])
    bottom = np.zeros(len(x))
    for i, st in enumerate(STATES):
        ax.bar(x, per_day[:, i] / 3600.0, bottom=bottom, color=COLORS[st], label=st, width=0.7)
        bottom += per_day[:, i] / 3600.0
    ax.set_xticks(x)
    ax.set_xticklabels(labels, rotation=0 if len(x) <= 10 else 60, fontsize=8)
    ax.set_ylabel("hours", fontsize=9)
    _style(ax)
    ax.legend(ncol=4, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, 1.18), frameon=False)
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.18, top=0.85)
    return fig


def chart_angles(s: Summary, tz: tzinfo) -> Any:
    """CVA estimate and neck angle through the period, with the calibrated baselines dashed."""
    fig = _figure(3.0)
    ax = fig.add_subplot(1, 1, 1)
    t = s.series_t_unix
    one_day = s.first_day == s.last_day
    cva_series, neck_series = s.series_cva_deg, s.series_neck_angle_deg
    if not one_day and len(t):
        # Several days: hourly means keep the lines readable.
        hour = (t // 3600).astype(np.int64)
        uniq, inv = np.unique(hour, return_inverse=True)
        inv = inv.reshape(-1)

        def hourly(v: np.ndarray) -> np.ndarray:
            ok = np.isfinite(v)
            tot = np.bincount(inv[ok], weights=v[ok], minlength=len(uniq))
            cnt = np.bincount(inv[ok], minlength=len(uniq))
            with np.errstate(invalid="ignore", divide="ignore"):
                return np.where(cnt > 0, tot / np.maximum(cnt, 1), np.nan)

        cva_series, neck_series = hourly(cva_series), hourly(neck_series)
        t = uniq * 3600 + 1800
    x = _local_hours(t, s.start_unix, tz)
    if not one_day:
        x = x / 24.0
    # Break the line over gaps longer than 5 minutes instead of drawing across them.
    gap = (
        (np.diff(t, prepend=t[:1]) > (300 if one_day else 3600))
        if len(t)
        else np.zeros(0, dtype=bool)
    )
    for vals, color, key, name in (
        (cva_series, CVA_COLOR, "cva_deg", "CVA estimate"),
        (neck_series, NECK_COLOR, "neck_angle_deg", "neck angle"),
    ):
        y = np.where(gap, np.nan, vals)
        ax.plot(x, y, color=color, linewidth=1.4, label=f"{name} (°)")
        if key in s.baseline and math.isfinite(s.baseline[key]):
            ax.axhline(
                s.baseline[key], color=color, linestyle="--", linewidth=1, label=f"{name} baseline"
            )
    if one_day and len(x):
        lo, hi = math.floor(float(np.nanmin(x))), math.ceil(float(np.nanmax(x)) + 1 / 60)
        ax.set_xlim(lo, max(hi, lo + 1))
        ax.set_xticks(range(lo, max(hi, lo + 1) + 1))
        ax.set_xticklabels([f"{h % 24:02d}" for h in range(lo, max(hi, lo + 1) + 1)])
        ax.set_xlabel("local time (hour)", fontsize=9)
    elif len(x):
        n = (s.last_day - s.first_day).days + 1
        ax.set_xlim(0, n)
        ax.set_xticks(np.arange(n) + 0.5)
        ax.set_xticklabels(
            [(s.first_day + timedelta(days=i)).strftime("%a %-d") for i in range(n)],
            fontsize=8,
            rotation=0 if n <= 10 else 60,
        )
    ax.set_ylabel("degrees", fontsize=9)
    _style(ax)
    ax.legend(ncol=2, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, 1.25), frameon=False)
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.17, top=0.8)
    return fig


def chart_faults(s: Summary, tz: tzinfo) -> Any:
    """Minutes per fault, horizontal bars."""
    fig = _figure(2.4)
    ax = fig.add_subplot(1, 1, 1)
    names = [f.replace("_", " ") for f in FAULTS][::-1]
    vals = [s.fault_minutes[f] for f in FAULTS][::-1]
    bars = ax.barh(names, vals, color=COLORS["slouching"], height=0.6)
    top = max(vals) if max(vals) > 0 else 1.0
    for b, v in zip(bars, vals, strict=True):
        ax.text(
            b.get_width() + top * 0.01,
            b.get_y() + b.get_height() / 2,
            f"{v:.0f} min",
            va="center",
            fontsize=8,
        )
    ax.set_xlim(0, top * 1.15)
    ax.set_xlabel("minutes", fontsize=9)
    _style(ax)
    ax.grid(axis="x", color="#eeeeee", linewidth=0.8)
    ax.grid(axis="y", visible=False)
    fig.subplots_adjust(left=0.2, right=0.98, bottom=0.2, top=0.95)
    return fig


def chart_heatmap(s: Summary, tz: tzinfo) -> Any:
    """Slouch share per local hour (rows: days) — when in the day does slouching happen."""
    n = len(s.heatmap_days)
    fig = _figure(1.2 + 0.28 * n)
    ax = fig.add_subplot(1, 1, 1)
    import matplotlib

    cmap = matplotlib.colormaps["YlOrRd"].with_extremes(bad="#f4f4f4")
    data = np.ma.masked_invalid(s.heatmap_slouch_pct)
    im = ax.imshow(
        data,
        aspect="auto",
        cmap=cmap,
        vmin=0,
        vmax=100,
        interpolation="nearest",
        extent=(0, 24, n, 0),
    )
    ax.set_xticks(range(0, 25, 2))
    ax.set_xlabel("local hour", fontsize=9)
    ax.set_yticks(np.arange(n) + 0.5)
    ax.set_yticklabels([d.strftime("%a %-d") for d in s.heatmap_days], fontsize=8)
    ax.tick_params(labelsize=8)
    cb = fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02)
    cb.set_label("% slouching", fontsize=8)
    cb.ax.tick_params(labelsize=8)
    fig.subplots_adjust(
        left=0.1,
        right=0.97,
        bottom=max(0.1, 0.5 / (1.2 + 0.28 * n)),
        top=1 - 0.15 / (1.2 + 0.28 * n),
    )
    return fig


def chart_trend(s: Summary, tz: tzinfo) -> Any:
    """Daily score over the 30 days ending on the report's last day; last 7 days darker."""
    fig = _figure(2.6)
    ax = fig.add_subplot(1, 1, 1)
    days = s.trend_30
    x = np.arange(len(days))
    score = np.array([np.nan if d.score_pct is None else d.score_pct for d in days])
    colors = ["#56B4E9" if i < len(days) - 7 else CVA_COLOR for i in range(len(days))]
    ax.bar(x, np.nan_to_num(score), color=colors, width=0.75)
    good = [d.good_share for d in days]
    ax.plot(
        x,
        [np.nan if g is None else 100 * g for g in good],
        "o",
        color="#333333",
        markersize=3,
        label="good share of monitored time",
    )
    missing = np.isnan(score)
    ax.plot(x[missing], np.zeros(int(missing.sum())) + 1, "x", color="#bbbbbb", markersize=4)
    ax.set_ylim(0, 105)
    ax.set_ylabel("score %", fontsize=9)
    step = 1 if len(days) <= 10 else 3
    ax.set_xticks(x[::-1][::step][::-1])
    ax.set_xticklabels(
        [days[i].day.strftime("%-d %b") for i in x[::-1][::step][::-1]], fontsize=7, rotation=45
    )
    _style(ax)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, 1.15), frameon=False)
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.22, top=0.88)
    return fig


_CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #f6f7f9; color: #1d232b;
  font: 16px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  sans-serif; }
main { max-width: 860px; margin: 0 auto; padding: 16px; }
h1 { font-size: 1.45rem; margin: 8px 0 2px; }
h2 { font-size: 1.1rem; margin: 0 0 8px; }
.sub { color: #5b6470; margin: 0 0 16px; font-size: 0.92rem; }
section { background: #fff; border-radius: 12px; padding: 14px 16px; margin: 0 0 14px;
  box-shadow: 0 1px 3px rgba(0,0,0,.07); }
.score { display: flex; flex-wrap: wrap; align-items: baseline; gap: 4px 14px; }
.score .big { font-size: 3rem; font-weight: 700; line-height: 1; color: #006b4f; }
.score .def { color: #5b6470; font-size: 0.88rem; flex: 1 1 220px; }
.tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(140px, 1fr)); gap: 10px;
  margin-top: 12px; }
.tile { background: #f6f7f9; border-radius: 8px; padding: 8px 10px; }
.tile .k { font-size: 0.78rem; color: #5b6470; }
.tile .v { font-size: 1.05rem; font-weight: 600; }
.dot { display: inline-block; width: .7em; height: .7em; border-radius: 50%;
  margin-right: .35em; vertical-align: baseline; }
img.chart { display: block; width: 100%; max-width: 100%; height: auto; }
table { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
th, td { text-align: left; padding: 5px 6px; border-bottom: 1px solid #eceef1; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
.scroll { overflow-x: auto; }
footer { color: #8a929c; font-size: 0.8rem; text-align: center; padding: 8px 0 20px; }
@media (max-width: 520px) {
  main { padding: 10px; }
  .score .big { font-size: 2.4rem; }
  th, td { padding: 4px 3px; font-size: 0.82rem; }
}
"""


def _e(x: object) -> str:
    return html.escape(str(x), quote=True)


def _img(chart_id: str, fig: Any, alt: str) -> str:
    data, w, h = _png(fig)
    return (
        f'<img class="chart" id="chart-{chart_id}" width="{w}" height="{h}" '
        f'alt="{_e(alt)}" src="data:image/png;base64,{data}">'
    )


def _charts(s: Summary) -> list[tuple[str, str, Callable[[Summary, tzinfo], Any], str]]:
    one_day = s.first_day == s.last_day
    out: list[tuple[str, str, Callable[[Summary, tzinfo], Any], str]] = []
    if one_day:
        out.append(
            (
                "timeline",
                "Through the day",
                chart_timeline,
                "Minute by minute state through the day",
            )
        )
    else:
        out.append(("daily", "Per day", chart_daily, "Monitored hours per day by state"))
    if len(s.series_t_unix):
        # uncalibrated there is no baseline of yours to draw (nor to name)
        mine = bool(s.baseline)
        out.append(
            (
                "angles",
                "Neck angles vs your baseline" if mine else "Neck angles",
                chart_angles,
                "CVA estimate and neck angle over time"
                + (" with your calibrated baselines" if mine else ""),
            )
        )
    out.append(("faults", "Minutes per fault", chart_faults, "Minutes spent in each fault"))
    out.append(
        (
            "heatmap",
            "When you slouch (by hour)",
            chart_heatmap,
            "Share of measured upright time spent slouching, per hour of the day",
        )
    )
    out.append(
        (
            "trend",
            "30-day trend",
            chart_trend,
            "Daily score for the last 30 days, last 7 days darker",
        )
    )
    return out


def render_html(s: Summary, tz: tzinfo, *, tz_name: str = "") -> str:
    """Render the complete HTML document for a non-empty summary."""
    ep = s.episode_stats
    tiles = [
        ("Monitored", fmt_minutes(s.monitored_s)),
        *[
            (
                f'<span class="dot" style="background:{COLORS[st]}"></span>{st.capitalize()}',
                f"{fmt_minutes(s.state_s[st])} · {100 * s.share[st]:.0f} %",
            )
            for st in STATES
        ],
        ("Slouch episodes", str(ep.count)),
        (
            "Longest / median",
            "–" if not ep.count else f"{fmt_minutes(ep.longest_s)} / {fmt_minutes(ep.median_s)}",
        ),
        ("Nudges / escalations", f"{s.alert_counts['nudge']} / {s.alert_counts['escalation']}"),
        ("Median recovery after an alert", fmt_duration(s.median_recovery_s)),
        (
            f"Breaks taken (≥ {MIN_BREAK_S / 60:.0f} min)",
            f"{s.breaks_taken} · {plural(s.alert_counts['break'], 'reminder')}",
        ),
    ]
    tile_html = "".join(
        f'<div class="tile"><div class="k">{k}</div><div class="v">{_e(v)}</div></div>'
        for k, v in tiles
    )
    sections = [
        '<section id="summary"><div class="score">'
        f'<span class="big">{_e(fmt_score(s.score_pct))}</span>'
        f'<span class="def">posture score: {_e(s.score_definition)}</span></div>'
        f'<div class="tiles">{tile_html}</div></section>'
    ]
    for chart_id, title, fn, alt in _charts(s):
        fig = fn(s, tz)
        sections.append(f"<section><h2>{_e(title)}</h2>{_img(chart_id, fig, alt)}</section>")

    sections.append(_alerts_table(s, tz))
    sections.append(_episodes_table(s, tz))
    body = "\n".join(x for x in sections if x)
    zone = f" · times in {_e(tz_name)}" if tz_name else ""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>Posture report · {_e(period_label(s))}</title>\n"
        f"<style>{_CSS}</style></head>\n<body><main>\n"
        f'<h1>Posture report</h1><p class="sub">{_e(period_label(s))}{zone}</p>\n'
        f"{body}\n"
        f"<footer>Made by posture {_e(__version__)} from the history on this computer. "
        "No images are ever stored.</footer>\n"
        "</main></body></html>\n"
    )


def _alerts_table(s: Summary, tz: tzinfo) -> str:
    if not s.alerts:
        return ""
    fmt = "%H:%M" if s.first_day == s.last_day else "%a %H:%M"
    rows = "".join(
        f"<tr><td>{datetime.fromtimestamp(a.t_unix, tz).strftime(fmt)}</td><td>{_e(a.kind)}</td>"
        f'<td>{_e(a.text)}</td><td class="n">'
        f"{fmt_duration(a.recovery_s)}</td></tr>"
        for a in s.alerts[:100]
    )
    more = f'<p class="sub">… and {len(s.alerts) - 100} more</p>' if len(s.alerts) > 100 else ""
    return (
        '<section id="alerts"><h2>Alerts</h2><div class="scroll"><table><thead><tr>'
        '<th>time</th><th>kind</th><th>what</th><th class="n">recovered after</th></tr>'
        f"</thead><tbody>{rows}</tbody></table></div>{more}</section>"
    )


def _episodes_table(s: Summary, tz: tzinfo) -> str:
    if not s.episodes:
        return ""
    fmt = "%H:%M" if s.first_day == s.last_day else "%a %H:%M"
    end_ref = (
        min(s.end_unix, float(s.minutes.t_unix[-1] + 60)) if len(s.minutes.t_unix) else (s.end_unix)
    )

    def dur(e: Any) -> float:
        return float((e.end_unix if e.end_unix is not None else end_ref) - e.start_unix)

    top = sorted(sorted(s.episodes, key=dur, reverse=True)[:10], key=lambda e: e.start_unix)
    rows = "".join(
        f"<tr><td>{datetime.fromtimestamp(e.start_unix, tz).strftime(fmt)}</td>"
        f'<td class="n">{dur(e) / 60:.1f}</td>'
        f"<td>{_e(', '.join(f.replace('_', ' ') for f in e.faults))}</td>"
        f'<td class="n">{"" if math.isnan(e.peak_deviation) else f"{e.peak_deviation:.1f}"}'
        "</td></tr>"
        for e in top
    )
    return (
        '<section id="episodes"><h2>Longest slouch episodes</h2><div class="scroll"><table>'
        '<thead><tr><th>start</th><th class="n">minutes</th><th>faults</th>'
        '<th class="n">peak deviation</th></tr></thead>'
        f"<tbody>{rows}</tbody></table></div></section>"
    )


def render_empty_html(message: str) -> str:
    """Render a small page carrying a friendly sentence (HTML asked for nothing)."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>Posture report</title><style>{_CSS}</style></head><body><main>"
        f"<h1>Posture report</h1><section><p>{_e(message)}</p></section></main></body></html>\n"
    )
