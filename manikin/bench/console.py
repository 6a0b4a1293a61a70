"""Console refresh benchmark: the room console in headless Chromium while virtual manikins stream.

Prints how many times per second each manikin's waveform is redrawn (the console redraws a tile
at most every 50 ms, when new samples have arrived) and how many live messages the page receives.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lms.bench.figures import figure
from lms.liveserver import ROOT, LiveServer, prepare_database, server_env

TARGET_REDRAWS_PER_S = 10  # issue 4: the console refreshed at least 10 times a second

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def run(out=print, quick: bool = False, stations: int = 3, per_station: int = 2) -> dict:
    from playwright.sync_api import sync_playwright

    measure_s = 5.0 if quick else 15.0
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        env = server_env(tmp)
        prepare_database(tmp, env)
        server = LiveServer(tmp, env).start()
        bridges = [subprocess.Popen(
            [sys.executable, "-m", "manikin.simulate", "--count", str(per_station), "--profile", "good",
             "--token", f"demo-station-{s + 1}-token", "--server", server.ws_url,
             "--spool", str(tmp / f"spool-{s}.sqlite3"), "--duration", str(measure_s + 30)],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for s in range(stations)]
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                                            args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                page.goto(server.url + "/login/")
                page.fill("#id_username", "examiner")
                page.fill("#id_password", "Demo@2026")
                page.click("button.primary")
                page.wait_for_url("**/dashboard/")
                page.goto(server.url + "/rooms/1/")
                page.wait_for_function(
                    "n => [...document.querySelectorAll('section.tile')].filter(t => +(t.dataset.draws||0) > 10)"
                    ".length >= n", arg=stations * per_station, timeout=60000)
                snapshot = ("() => ({draws: [...document.querySelectorAll('section.tile')].map(t => +(t.dataset.draws||0)),"
                            " frames: +(document.querySelector('[data-live-socket]').dataset.frames||0)})")
                before, t0 = page.evaluate(snapshot), time.monotonic()
                time.sleep(measure_s)
                after, elapsed = page.evaluate(snapshot), time.monotonic() - t0
                browser.close()
        finally:
            for b in bridges:
                b.terminate()
                b.wait(10)
            server.stop()
    rates = sorted((a - b) / elapsed for a, b in zip(after["draws"], before["draws"]) if a > 10)
    figures = {
        "console_tiles_streaming": len(rates),
        "console_redraws_per_s_min": round(rates[0], 1) if rates else None,
        "console_redraws_per_s_mean": round(sum(rates) / len(rates), 1) if rates else None,
        "console_messages_per_s": round((after["frames"] - before["frames"]) / elapsed, 1),
    }
    out(f"Console in headless Chromium, {len(rates)} manikins streaming, {elapsed:.0f} s: each waveform redrawn "
        f"{figures['console_redraws_per_s_min']}–{rates[-1] if rates else 0:.1f} times/s "
        f"(mean {figures['console_redraws_per_s_mean']}; target ≥ 10), "
        f"{figures['console_messages_per_s']} live messages/s received")
    expected = stations * per_station
    figures["figures"] = [
        figure("console", "waveform redraws per second, slowest tile", figures["console_redraws_per_s_min"], "/s",
               at_least=TARGET_REDRAWS_PER_S,
               note=f"{len(rates)} of {expected} manikins streaming, headless Chromium, {elapsed:.0f} s"),
    ]
    return figures
