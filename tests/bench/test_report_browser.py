"""``report.html`` in headless Chromium (Debian's ``chromium``): it loads with no console
message and no error its script records, its deep links move the playhead and sort the
table, and a screenshot shows a drawn page. Skipped with a reason where Chromium is
absent, except under CI=true (CI installs it: scripts/ensure-chromium.sh)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from diarefine.bench.protocol import protocol
from diarefine.bench.report import Corpus, build_report
from diarefine.config import PipelineConfig
from diarefine.core.annotation import Annotation
from diarefine.metrics.score import ScoreSettings
from diarefine.report.html import render
from needs import require

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--enable-logging=stderr", "--v=0", "--virtual-time-budget=3000")


def chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess:
    require(CHROMIUM is not None, "Chromium is not installed (apt-get install chromium)")
    profile = tmp / f"profile-{len(list(tmp.glob('profile-*')))}"
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A report of three 60 s recordings (refined and unrefined), the worst with audio."""
    folder = tmp_path_factory.mktemp("report")
    rng = np.random.default_rng(0)
    refs, system, before, audio = {}, {}, {}, {}
    for k, uri in enumerate(("r0", "r1", "r2")):
        cuts = np.sort(rng.uniform(1, 59, 8))
        spans = list(zip([0.0, *cuts], [*cuts, 60.0]))
        refs[uri] = Annotation.from_tuples(uri, [(a, b, "AB"[i % 2]) for i, (a, b) in
                                                 enumerate(spans)])
        system[uri] = Annotation.from_tuples(uri, [(a + 0.1 * k, b, "xy"[i % 2]) for i, (a, b)
                                                   in enumerate(spans)])
        before[uri] = Annotation.from_tuples(uri, [(a + 0.3 * k, b, "xy"[i % 2]) for i, (a, b)
                                                   in enumerate(spans)])
        audio[uri] = folder / f"{uri}.wav"
        sf.write(audio[uri], 0.1 * rng.standard_normal(60 * 16000).astype(np.float32), 16000)
    timings = {u: {"duration": 60.0, "seconds": 1.5} for u in refs}
    report = build_report(Corpus(refs, None, system, before), ScoreSettings(), timings, worst=2)
    config = PipelineConfig()
    report["protocol"] = protocol(config, 0.0, False, [], 0, 3)
    report["run"] = {"recordings": 4, "scored": 3, "failed": {"r3": "AudioError: unreadable"},
                     "without_reference": []}
    (folder / "report.html").write_text(render(report, audio, "embed", folder), encoding="utf-8")
    return folder / "report.html"


def body_attributes(dom: str) -> dict[str, str]:
    match = re.search(r"<body([^>]*)>", dom)
    assert match, dom[:500]
    return dict(re.findall(r'([\w-]+)="([^"]*)"', match.group(1)))


def test_page_loads_without_any_console_message_or_recorded_error(page: Path) -> None:
    proc = chromium(page.parent, "--dump-dom", page.as_uri())
    assert proc.returncode == 0, proc.stderr[-2000:]
    console = [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]
    assert console == []
    body = body_attributes(proc.stdout)
    assert body.get("data-ready") == "1", "the page's script did not finish"
    assert body.get("data-errors") == "0", body.get("data-error-text")
    assert proc.stdout.count('<section class="timeline"') == 2
    assert "r3: AudioError: unreadable" in proc.stdout


def test_time_link_moves_every_playhead_and_the_zoomed_window(page: Path) -> None:
    proc = chromium(page.parent, "--dump-dom", page.as_uri() + "#t=40")
    heads = re.findall(r'<line class="playhead" x1="([\d.]+)"', proc.stdout)
    assert heads and all(float(x) == 40.0 for x in heads)
    # the zoomed view shows 30 s centred on the playhead: 25-55 s
    assert re.findall(r'<svg class="detail" viewBox="([\d.]+) 0 30 ', proc.stdout) == ["25", "25"]
    assert body_attributes(proc.stdout).get("data-errors") == "0"


def test_sort_link_orders_the_table_by_a_column(page: Path) -> None:
    proc = chromium(page.parent, "--dump-dom", page.as_uri() + "#sort=4-desc")  # DER %
    table = proc.stdout[proc.stdout.index('id="files"'):]
    table = table[:table.index("</table>")]
    ders = [float(v) for v in re.findall(r'<tr><td data-v="r\d">r\d</td>(?:<td[^>]*>[^<]*</td>)'
                                         r'{3}<td data-v="([^"]+)"', table)]
    assert len(ders) == 3 and ders == sorted(ders, reverse=True) and ders[0] > ders[-1]


def test_screenshot_shows_a_drawn_page(page: Path, tmp_path: Path) -> None:
    from matplotlib.image import imread

    shot = tmp_path / "shot.png"
    proc = chromium(page.parent, "--window-size=1280,2400", f"--screenshot={shot}",
                    page.as_uri())
    assert shot.is_file(), proc.stderr[-2000:]
    pixels = imread(shot)[..., :3]
    assert pixels.shape[:2] == (2400, 1280)
    drawn = (pixels < 0.9).any(axis=-1).mean()
    colours = len(np.unique((pixels * 255).astype(np.uint8).reshape(-1, 3), axis=0))
    assert drawn > 0.05 and colours > 50  # text, charts and timelines, not a blank page
