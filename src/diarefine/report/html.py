"""The benchmark's ``report.html``: one self-contained page from ``report.json``.

Everything is inline (styles, script, SVG charts, the worst files' audio as Ogg Opus
data); a Content-Security-Policy forbids any network access, so the page looks the same
offline and on another machine. The script sorts tables (click a header), moves a
playhead over each timeline as its audio plays, seeks where the timeline is clicked, and
records any error it meets in ``body[data-errors]`` (the page's headless-browser test
reads it). With ``audio="link"`` the player points at the audio files instead (the page
then works where those paths exist); ``"none"`` leaves the players out.
"""

from __future__ import annotations

import base64
import io
import json
import os
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from diarefine.report.svg import COLORS, PALETTE, ROW, bar_chart, line_chart, timeline_body

#: recordings longer than this are linked, not embedded, whatever ``audio`` says
MAX_EMBED_SECONDS = 1800.0
AUDIO_MODES = ("embed", "link", "none")
_STATIC = Path(__file__).with_name("static")
LABEL_OF = {"der": "DER", "miss": "miss", "false_alarm": "false_alarm",
            "confusion": "confusion"}


def _pct(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{100 * value:.{digits}f}"


def _cell(value: Any, text: str | None = None) -> str:
    shown = text if text is not None else ("–" if value is None else str(value))
    sort = "" if value is None else f' data-v="{escape(str(value))}"'
    return f"<td{sort}>{escape(shown)}</td>"


def _table(header: Sequence[str], rows: Sequence[str], sortable: bool = True,
           element_id: str = "") -> str:
    cls = ' class="sortable"' if sortable else ""
    cls += f' id="{element_id}"' if element_id else ""
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    return f"<table{cls}><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _interval(d: Mapping[str, Any] | None) -> str:
    if not d:
        return "–"
    return f"{100 * d['value']:+.2f} [{100 * d['low']:+.2f}, {100 * d['high']:+.2f}]"


def overall_table(report: Mapping[str, Any]) -> str:
    """One row per system: this run (and before refinement, and the other run)."""
    def row(name: str, s: Mapping[str, Any], mae: float | None) -> str:
        ci = s.get("der_interval")
        ci_text = f"{_pct(ci['low'])}–{_pct(ci['high'])}" if ci else "–"
        return ("<tr>" + _cell(name) + _cell(s["der"], _pct(s["der"])) + _cell(None, ci_text)
                + "".join(_cell(s[k], _pct(s[k])) for k in ("miss_rate", "false_alarm_rate",
                                                          "confusion_rate"))
                + _cell(s.get("jer"), _pct(s.get("jer"))) + _cell(
                    mae, "–" if mae is None else f"{mae:.0f}") + "</tr>")

    rows = [row("this run" + (f" (refiner: {report['protocol']['refiner']})"
                              if "refinement" in report else ""),
                report["overall"], report["boundaries"]["overall"]["mean_abs_ms"])]
    notes = []
    if "refinement" in report:
        ref = report["refinement"]
        rows.append(row("before refinement", ref["unrefined"],
                        ref["boundaries_unrefined"]["overall"]["mean_abs_ms"]))
        notes.append(f"Refined minus unrefined DER: {_interval(ref['refined_minus_unrefined'])} "
                     "points (95 % paired bootstrap over files).")
    oracle = report.get("oracle")
    if oracle:
        rows.append(row("oracle: matched boundaries onto the reference", oracle, None))
        notes.append(f"Oracle minus {escape(oracle['of'])}: {_interval(oracle['minus_baseline'])}"
                     " points: the ceiling of moving boundaries (95 % paired bootstrap).")
    activity = report.get("oracle_activity")
    if activity:
        rows.append(row("oracle: ±1 s around each boundary from the reference", activity, None))
        notes.append(f"Activity oracle minus {escape(activity['of'])}: "
                     f"{_interval(activity['minus_baseline'])} points: the ceiling of the "
                     "activity edits (95 % paired bootstrap).")
    if "against" in report:
        a = report["against"]
        notes.append(f"Against {escape(a['other'])} on the {a['files']} recordings both "
                     f"diarized: this run {_pct(a['der'])} %, that run {_pct(a['der_other'])} %, "
                     f"difference {_interval(a['difference'])} points (95 % paired bootstrap)."
                     + (f" Left out (in one run only): {escape(', '.join(a['left_out']))}."
                        if a["left_out"] else ""))
    header = ["system", "DER %", "95 % interval", "miss %", "false alarm %", "confusion %",
              "JER %", "boundary MAE ms"]
    return _table(header, rows, sortable=False) + "".join(f"<p>{n}</p>" for n in notes)


def file_table(report: Mapping[str, Any]) -> str:
    refined = "refinement" in report
    header = ["recording", "minutes", "ref spk", "sys spk", "DER %", "miss %",
              "false alarm %", "confusion %", "JER %", "boundary MAE ms", "RTF"]
    header += ["DER before refinement %", "Δ DER points"] if refined else []
    other = {f["uri"]: f["der_other"] for f in report["against"]["per_file"]} \
        if "against" in report else None
    header += ["DER other run %", "Δ DER vs other"] if other is not None else []
    rows = []
    for f in report["files"]:
        minutes = None if f["duration"] is None else round(f["duration"] / 60, 2)
        cells = [_cell(f["uri"]), _cell(minutes), _cell(f["ref_speakers"]),
                 _cell(f["sys_speakers"])]
        cells += [_cell(f[k], _pct(f[k])) for k in ("der", "miss_rate", "false_alarm_rate",
                                                    "confusion_rate", "jer")]
        mae = f["boundary_mae_ms"]
        cells += [_cell(mae, "–" if mae is None else f"{mae:.0f}"),
                  _cell(f["rtf"], "–" if f["rtf"] is None else f"{f['rtf']:.4f}")]
        if refined:
            cells += _versus(f["der"], f.get("der_unrefined"))
        if other is not None:
            cells += _versus(f["der"], other.get(f["uri"]))
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return _table(header, rows, element_id="files")


def _versus(der: float | None, base: float | None) -> list[str]:
    """Cells: the other DER, and this one minus it in points."""
    delta = None if base is None or der is None else der - base
    return [_cell(base, _pct(base)), _cell(delta, "–" if delta is None else
                                           f"{100 * delta:+.2f}")]


def charts(report: Mapping[str, Any]) -> str:
    sweep = report["collar_sweep"]
    collars = [r["collar"] for r in sweep]
    def rate(r: Mapping[str, Any], key: str) -> float | None:
        if r[key] is None or not r["scored"]:
            return None
        return 100 * r[key] / r["scored"] if key != "der" else 100 * r[key]

    series = {LABEL_OF[k]: [rate(r, k) for r in sweep] for k in LABEL_OF}
    dashed = []
    if "refinement" in report:
        series["DER before refinement"] = [
            rate(r, "der") for r in report["refinement"]["collar_sweep_unrefined"]]
        dashed.append("DER before refinement")
    collar_svg = line_chart(collars, series, "collar (s, each side)", "% of scored time",
                            dashed)
    hist = report["boundaries"]["histogram"]
    edges = hist["edges_ms"]
    labels = [str(a) for a in edges[:-1]]  # each bar: [a, a + 25) ms
    hist_svg = bar_chart(labels, hist["counts"], "system − reference (ms; ends hold the "
                         "rest)", "matched boundaries", every=4)
    count = report["by_count"]
    n = len(count["scored"])
    names = [str(i) for i in range(n - 1)] + [f"{n - 1}+"]
    total = sum(count["scored"]) or 1.0
    stacks = {k: [100 * v / total for v in count[k]] for k in ("miss", "false_alarm",
                                                               "confusion")}
    count_svg = bar_chart(names, stacks, "reference speakers talking at once",
                          "% of all scored speaker time")
    return ('<div class="charts">'
            f'<figure><figcaption>DER against the collar</figcaption>{collar_svg}</figure>'
            f'<figure><figcaption>Boundary errors (matched within 0.5 s)</figcaption>'
            f'{hist_svg}</figure>'
            f'<figure><figcaption>Errors by number of simultaneous reference speakers'
            f'</figcaption>{count_svg}</figure></div>')


def _audio_source(path: Path | None, mode: str, duration: float, outdir: Path) -> str | None:
    """The player's ``src``: Ogg Opus data, a relative path, or None (no player)."""
    if path is None or mode == "none":
        return None
    if mode == "link" or duration > MAX_EMBED_SECONDS:
        return Path(os.path.relpath(os.path.abspath(path), os.path.abspath(outdir))).as_posix()
    import soundfile as sf

    from diarefine.io.audio import SAMPLE_RATE, load_audio

    buffer = io.BytesIO()
    sf.write(buffer, load_audio(path, SAMPLE_RATE), SAMPLE_RATE, format="OGG", subtype="OPUS")
    return "data:audio/ogg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def timeline_html(k: int, item: Mapping[str, Any], audio_src: str | None) -> str:
    """One worst file: labels, overview, the zoomed view that follows the audio."""
    ref_speakers = sorted({t[2] for t in item["reference"]})
    colors = {s: PALETTE[i % len(PALETTE)] for i, s in enumerate(ref_speakers)}
    to_ref = {sys_spk: ref_spk for ref_spk, sys_spk in item["mapping"].items()}
    for sys_spk, ref_spk in to_ref.items():
        colors[f"sys:{sys_spk}"] = colors.get(ref_spk, "#777")
    colors.update({k_: COLORS[k_] for k_ in ("miss", "false_alarm", "confusion")})
    tracks: list[tuple[str, list]] = [(f"ref {s}", [t for t in item["reference"] if t[2] == s])
                                      for s in ref_speakers]
    for key, title in (("system", "sys"), ("unrefined", "before")):
        if key in item:
            speakers = sorted({t[2] for t in item[key]})
            tracks += [(f"{title} {s}" + (f" → {to_ref[s]}" if s in to_ref else ""),
                        [[a, b, f"sys:{s}"] for a, b, s_ in item[key] if s_ == s])
                       for s in speakers]
    tracks.append(("errors", item["errors"]))
    body, names = timeline_body(tracks, colors, f"tl{k}")
    height = len(names) * ROW
    dur = max(float(item["duration"]), 1e-3)
    labels = "".join(f"<div>{escape(n)}</div>" for n in names)
    use = f'<use href="#tl{k}"/>'
    head = (f'<line class="playhead" x1="0" x2="0" y1="0" y2="{height}" '
            f'vector-effect="non-scaling-stroke"/>')

    def view(cls: str, content: str) -> str:
        return (f'<svg class="{cls}" viewBox="0 0 {dur:.3f} {height}" '
                f'preserveAspectRatio="none" style="height:{len(names) * 14}px">'
                f'{content}{head}</svg>')

    player = (f'<audio controls preload="metadata" src="{escape(audio_src)}"></audio>'
              if audio_src else '<p class="muted">no audio player (--report-audio none, or '
              'the audio could not be read)</p>')
    return (f'<section class="timeline" data-duration="{dur:.3f}" data-rows="{len(names)}">'
            f'<h3>{escape(item["uri"])}: DER {_pct(item["der"])} %</h3>{player}'
            f'<div class="tl"><div class="names" style="line-height:{14}px">{labels}</div>'
            f'<div class="views">{view("overview", body)}<div class="window muted"></div>'
            f'{view("detail", use)}</div></div>'
            '<p class="muted">Top: the whole recording; below: 30 s around the playhead. '
            'Click either to move there; report.html#t=SECONDS opens every timeline at that '
            'time. Colours: a system speaker has its mapped reference '
            'speaker\'s colour; errors: <span style="color:#d55e00">miss</span>, '
            '<span style="color:#e69f00">false alarm</span>, <span style="color:#cc79a7">'
            'confusion</span>.</p></section>')


def render(report: Mapping[str, Any], audio: Mapping[str, Path], mode: str = "embed",
           outdir: Path = Path(".")) -> str:
    """The whole page; ``audio`` maps each recording id to its file."""
    from diarefine.bench.protocol import protocol_text

    if mode not in AUDIO_MODES:
        raise ValueError(f"audio mode {mode!r}: use one of {AUDIO_MODES}")
    timelines = []
    for k, item in enumerate(report["worst"]):
        try:
            src = _audio_source(audio.get(item["uri"]), mode, item["duration"], outdir)
        except (OSError, ValueError, RuntimeError):
            src = None
        timelines.append(timeline_html(k, item, src))
    run = report["run"]
    failed = "".join(f"<li>{escape(u)}: {escape(r)}</li>" for u, r in run["failed"].items())
    notes = "".join(f"<li>{escape(n)}</li>" for n in report.get("notes", []))
    speed = report["speed"]
    details = json.dumps({"configuration": report["protocol"]["configuration"],
                          "models": report["protocol"]["models"],
                          "manifests": report["protocol"]["manifests"]}, indent=1)
    return (_STATIC / "page.html").read_text(encoding="utf-8").format(
        style=(_STATIC / "page.css").read_text(encoding="utf-8"),
        script=(_STATIC / "page.js").read_text(encoding="utf-8"),
        protocol=escape(protocol_text(report["protocol"])), details=escape(details),
        counts=f"{run['scored']} of {run['recordings']} recordings scored",
        speed=escape(f"{speed['audio_seconds'] / 3600:.2f} h of audio, real-time factor "
                     f"{speed['rtf']:.4f} ({speed['audio_hours_per_hour']:.0f} audio hours "
                     "per processing hour)" if speed["rtf"] else "no timing"),
        overall=overall_table(report), charts=charts(report), files=file_table(report),
        timelines="".join(timelines) or "<p>None shown (--worst 0, or no scored file).</p>",
        failed=f"<h2>Not scored</h2><ul>{failed}</ul>" if failed else "",
        notes=f"<h2>Notes</h2><ul>{notes}</ul>" if notes else "")
