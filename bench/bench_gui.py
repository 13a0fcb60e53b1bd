"""GUI responsiveness of the real MainWindow: main-thread stalls during an upscale job, brush
latency on a large image, the time until a freshly opened 24 MP JPEG is on screen, and the
Adjust panel's live preview on it.

    PYTHONPATH=. QT_QPA_PLATFORM=offscreen python bench/bench_gui.py
        [--only stall,brush,open,adjust] [--reps 3] [--device auto]

1. Stall: a 10 ms precise timer on the GUI thread records its ticks while a 1200×1200 image is
   upscaled (span-x4, tile 256); stall = tick interval − 10 ms. Phases: "running" (worker
   busy), "finish" (last progress report → result applied → 0.5 s of first paints) and the
   whole job, next to an idle baseline of the same timer taken before each job.
2. Brush: strokes of synthetic mouse moves on a 6000×4000 image at zoom 1 and 0.25; latency
   per move = from the move until the viewport has painted, through the event loop, so only
   the dirty region is repainted, as in real use.
3. Open: open_path + first repaint of a 6000×4000 JPEG in a fresh window against Pillow's
   Image.open().load(), interleaved, plus the stages open_path goes through.
4. Adjust: on the 6000×4000 JPEG (window 1280×840, at fit and at zoom 1), from a contrast
   slider move to the preview on screen (the panel's coalescing delay, the job, the
   repaint), against the same window repainting with no preview change, interleaved.

The machine may be shared: read distributions and ratios rather than single figures.
"""
from __future__ import annotations

import argparse
import gc
import math
import os
import sys
import tempfile
import time
from pathlib import Path

# Set before Qt and photoforge are imported: no display needed, and the user's own data and
# model cache folders are left alone.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("PHOTOFORGE_DATA_DIR", "/tmp/pfdata")
os.environ.setdefault("PHOTOFORGE_CACHE_DIR", "/tmp/pfcache")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402
from PySide6.QtCore import (QEvent, QEventLoop, QObject, QPoint, QSettings, Qt, QTimer,  # noqa: E402
                            qInstallMessageHandler)
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[1] / "resources/samples/astronaut.jpg"
TICK_MS = 10
STALL_SIDE = 1200
IDLE_BASELINE_S = 4.0
BRUSH_ZOOMS = (1.0, 0.25)
BRUSH_STROKES, MOVES_PER_STROKE = 4, 50
OPEN_REPS, STAGE_REPS = 5, 3
STALL_TARGET_MS = 50.0
DAB_TARGET_MS = 8.0
OPEN_TARGET_RATIO = 2.0
ADJUST_ZOOMS, ADJUST_MOVES = ("fit", 1.0), 8
ADJUST_TARGET_MS = 100.0
LEFT, NOMOD = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier


# ----------------------------------------------------------------------------- helpers
def log(*args) -> None:
    print(*args, flush=True)


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def summary(values) -> tuple[float, float, float]:
    """(median, p99, max); NaN for no values, so a failed part still prints its row."""
    v = np.asarray(values, np.float64)
    if v.size == 0:
        return math.nan, math.nan, math.nan
    return float(np.median(v)), float(np.percentile(v, 99)), float(v.max())


def quiet_qt(mode, context, message) -> None:
    if "propagateSizeHints" not in message:  # the offscreen platform says this for every window
        sys.stderr.write(message + "\n")


def pump(seconds: float) -> None:
    """Run the real event loop (timers, queued signals, paints) for a while."""
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()


def sample_rgb(width: int, height: int) -> np.ndarray:
    rgb = cv2.cvtColor(cv2.imread(str(SAMPLE), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    return cv2.resize(rgb, (width, height), interpolation=cv2.INTER_CUBIC)


def make_big_jpeg(path: Path) -> None:
    # An upscaled photo is smooth and compresses far better than a camera's 24 MP; a little
    # noise brings file size and decode time close to the real thing.
    big = sample_rgb(6000, 4000).astype(np.float32)
    big += np.random.default_rng(0).normal(0.0, 3.0, big.shape).astype(np.float32)
    Image.fromarray(np.clip(np.rint(big), 0, 255).astype(np.uint8)).save(path, quality=92)


def new_window(app):
    from photoforge.ui.main_window import MainWindow

    win = MainWindow()
    win.resize(1280, 840)
    win.errors = []
    # A modal error box would block the bench forever; collect the messages instead.
    win.error = lambda title, message: win.errors.append(f"{title}: {message}")
    win.show()
    QTest.qWaitForWindowExposed(win)
    app.processEvents()
    return win


def close_window(app, win) -> None:
    win.jobs.cancel()
    win.jobs.wait(60000)
    win.document = None  # edits are thrown away, without the "save changes?" question
    win.close()
    win.deleteLater()
    # Delete it now, while the app is alive, not during interpreter teardown.
    app.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    app.processEvents()
    gc.collect()


# ----------------------------------------------------------------------------- 1. stall
class Ticker:
    def __init__(self):
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)  # the coarse default allows 5 % slack
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(lambda: self.times.append(time.perf_counter()))
        self.times: list[float] = []

    def start(self) -> None:
        self.times = []
        self.timer.start()

    def stop(self) -> list[float]:
        self.timer.stop()
        return self.times


def stalls(ticks, after: float = -math.inf, until: float = math.inf) -> np.ndarray:
    """Tick interval − TICK_MS, for the intervals that end within (after, until]."""
    t = np.asarray(ticks)
    if t.size < 2:
        return np.zeros(0)
    ends = t[1:]
    return (np.diff(t) * 1000.0 - TICK_MS)[(ends > after) & (ends <= until)]


def run_job(win, ticker: Ticker, timeout_s: float = 900.0) -> dict:
    """Click Run on the upscale panel and wait for the job to end, ticker running."""
    ev: dict = {}
    loop = QEventLoop()

    def on_progress(fraction, message, left):
        if fraction >= 1.0:  # the worker is done; what follows is the GUI thread's apply
            ev.setdefault("last_progress", time.perf_counter())

    def ended(kind):
        def slot(*_):
            ev.setdefault("end", kind)
            ev.setdefault("t_end", time.perf_counter())
            QTimer.singleShot(500, loop.quit)  # the result's first paints come after the signal
        return slot

    jobs = win.jobs
    slots = [(jobs.progress, on_progress), (jobs.finished, ended("finished")),
             (jobs.failed, ended("failed")), (jobs.cancelled, ended("cancelled"))]
    for signal, slot in slots:
        signal.connect(slot)
    guard = QTimer(singleShot=True, interval=int(timeout_s * 1000))
    guard.timeout.connect(loop.quit)
    guard.start()
    ticker.start()
    pump(0.3)  # ticks before the click, so the interval holding the click is measured too
    ev["click"] = time.perf_counter()
    win.action_panels[0].run_button.click()
    ev["click_end"] = time.perf_counter()
    if jobs.busy or "end" in ev:
        loop.exec()
    else:
        ev["end"] = "not started"
    guard.stop()
    ev["ticks"] = ticker.stop()
    for signal, slot in slots:
        signal.disconnect(slot)
    if "end" not in ev:
        ev["end"] = "timeout"
        jobs.cancel()
        jobs.wait(60000)
    return ev


def bench_stall(app, args, tmp: Path) -> dict:
    log(f"\n=== 1. Main-thread stall during an upscale job "
        f"(span-x4, tile 256, {STALL_SIDE}², device {args.device}) ===")
    path = tmp / "stall.png"
    Image.fromarray(sample_rgb(STALL_SIDE, STALL_SIDE)).save(path)
    win = new_window(app)
    panel = win.action_panels[0]
    for combo, value in ((panel.model, "span-x4"), (panel.tile, 256), (panel.device, args.device)):
        combo.setCurrentIndex(combo.findData(value))
        assert combo.currentData() == value, f"{value!r} is not offered"
    ticker = Ticker()
    res: dict[str, list[float]] = {k: [] for k in ("idle", "running", "finish", "job", "apply", "duration")}

    def open_source():
        win.document = None  # the previous result is thrown away, without a question
        assert win.open_path(path), win.errors
        pump(0.2)

    # The first job builds and compiles the model: a cold start, not the steady state.
    open_source()
    ev = run_job(win, ticker)
    cold = summary(stalls(ev["ticks"], ev["click"]))
    log(f"  warm-up job (not counted): {ev['end']} in {ev.get('t_end', math.nan) - ev['click']:.1f} s, "
        f"max stall {cold[2]:.1f} ms")

    for rep in range(args.reps):
        open_source()
        ticker.start()
        pump(IDLE_BASELINE_S)
        idle = stalls(ticker.stop())
        ev = run_job(win, ticker)
        if ev["end"] != "finished":
            log(f"  rep {rep}: job {ev['end']} {win.errors}")
            continue
        last = ev.get("last_progress", ev["t_end"])
        parts = {"idle": idle,
                 "running": stalls(ev["ticks"], ev["click_end"], last),
                 "finish": stalls(ev["ticks"], last),
                 "job": stalls(ev["ticks"], ev["click"])}
        for key, values in parts.items():
            res[key].extend(values)
        res["apply"].append((ev["t_end"] - last) * 1000)
        res["duration"].append(ev["t_end"] - ev["click"])
        peaks = " ".join(f"{key} {summary(v)[2]:.1f}" for key, v in parts.items())
        log(f"  rep {rep}: job {res['duration'][-1]:5.1f} s | max stall ms: {peaks} | "
            f"apply {res['apply'][-1]:.1f} ms | load {loadavg()}")
    close_window(app, win)
    return res


# ----------------------------------------------------------------------------- 2. brush
class PaintCounter(QObject):
    """Counts Paint events reaching a widget, to tell when a move has been painted."""

    def __init__(self, widget):
        super().__init__(widget)
        self.count = 0
        widget.installEventFilter(self)

    def eventFilter(self, obj, event) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.count += 1
        return False


def stroke(app, canvas, counter: PaintCounter, angle0: float, step_px: float = 6.0) -> list[float]:
    """One stroke along a circle round the viewport centre; ms from each move to its paint."""
    vp = canvas.viewport()
    cx, cy = vp.width() / 2, vp.height() / 2
    radius = min(vp.width(), vp.height()) / 4

    def point(i: int) -> QPoint:
        a = angle0 + i * step_px / radius
        return QPoint(round(cx + radius * math.cos(a)), round(cy + radius * math.sin(a)))

    QTest.mousePress(vp, LEFT, NOMOD, point(0))
    before = -1
    while counter.count != before:  # the press paints a dab too; keep it out of the first move
        before = counter.count
        app.processEvents()
    latencies = []
    for i in range(1, MOVES_PER_STROKE + 1):
        before = counter.count
        t0 = time.perf_counter()
        QTest.mouseMove(vp, point(i))
        while counter.count == before and time.perf_counter() - t0 < 0.25:  # no paint: 250 ms, not a hang
            app.processEvents()
        latencies.append((time.perf_counter() - t0) * 1000)
    QTest.mouseRelease(vp, LEFT, NOMOD, point(MOVES_PER_STROKE))
    app.processEvents()
    return latencies


def bench_brush(app, big: Path) -> dict:
    log("\n=== 2. Brush latency on a 6000×4000 image (window 1280×840, brush 40 px) ===")
    win = new_window(app)
    assert win.open_path(big), win.errors
    canvas = win.canvas
    counter = PaintCounter(canvas.viewport())
    canvas.brush_size = 40.0
    pump(0.3)
    res: dict[float, list[float]] = {zoom: [] for zoom in BRUSH_ZOOMS}
    angle = 0.0
    for _ in range(BRUSH_STROKES):
        for zoom in BRUSH_ZOOMS:  # alternated, so a change in machine load hits both alike
            canvas.set_zoom(zoom)
            for bar in (canvas.horizontalScrollBar(), canvas.verticalScrollBar()):
                bar.setValue(bar.maximum() // 2)
            canvas.viewport().repaint()  # the visible tiles are cached, as after any scroll
            app.processEvents()
            res[zoom] += stroke(app, canvas, counter, angle)
            angle += 0.7  # the next stroke paints over fresh pixels
    log(f"  {BRUSH_STROKES} strokes of {MOVES_PER_STROKE} moves per zoom; load {loadavg()}")
    close_window(app, win)
    return res


# ----------------------------------------------------------------------------- 3. open
def time_open(app, path: Path) -> float:
    win = new_window(app)
    gc.collect()  # a collection inside the timed span would be charged to open_path
    t0 = time.perf_counter()
    ok = win.open_path(path)
    win.canvas.viewport().repaint()
    elapsed = time.perf_counter() - t0
    assert ok, win.errors
    close_window(app, win)
    return elapsed


def time_pillow(path: Path) -> float:
    gc.collect()
    t0 = time.perf_counter()
    with Image.open(path) as im:
        im.load()
    return time.perf_counter() - t0


def time_stages(app, path: Path) -> dict[str, float]:
    """open_path + first repaint, step by step."""
    from photoforge.core.document import Document
    from photoforge.core.imageio import load_image

    win = new_window(app)
    gc.collect()
    out = {}

    def timed(name, fn, *fn_args):
        t0 = time.perf_counter()
        result = fn(*fn_args)
        out[name] = time.perf_counter() - t0
        return result

    image = timed("load_image", load_image, path)
    doc = timed("Document()", Document, image, path)
    timed("set_document", win.set_document, doc)
    timed("first repaint", win.canvas.viewport().repaint)
    close_window(app, win)
    return out


def bench_open(app, big: Path) -> dict:
    log(f"\n=== 3. Open a 24 MP JPEG ({big.stat().st_size / 1e6:.1f} MB) → image shown ===")
    time_open(app, big)  # first window and imports; the file lands in the page cache
    time_pillow(big)
    res: dict = {"ours": [], "pillow": [], "ratio": []}
    for rep in range(OPEN_REPS):
        if rep % 2:  # alternate the order, so neither always runs on a warmer machine
            ours, pil = time_open(app, big), time_pillow(big)
        else:
            pil, ours = time_pillow(big), time_open(app, big)
        res["ours"].append(ours * 1000)
        res["pillow"].append(pil * 1000)
        res["ratio"].append(ours / pil)
        log(f"  rep {rep}: open_path+repaint {ours * 1000:6.1f} ms | Pillow {pil * 1000:6.1f} ms | "
            f"ratio {ours / pil:4.2f} | load {loadavg()}")
    runs = [time_stages(app, big) for _ in range(STAGE_REPS)]
    res["stages"] = {k: [r[k] * 1000 for r in runs] for k in runs[0]}
    return res


# ----------------------------------------------------------------------------- 4. adjust
def preview_latency(app, win, value: int) -> float:
    """From a slider move to the preview painted (ms)."""
    panel, canvas = win.panel("adjust"), win.canvas
    landed = []
    set_preview = canvas.set_preview

    def spy(pixels, rect=None, labelled=True):
        set_preview(pixels, rect, labelled)
        if pixels is not None:
            canvas.viewport().repaint()
            landed.append(time.perf_counter())

    canvas.set_preview = spy
    try:
        t0 = time.perf_counter()
        panel.sliders["contrast"].setValue(value)
        deadline = t0 + 10.0
        while not landed and time.perf_counter() < deadline:
            app.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents, 5)
    finally:
        canvas.set_preview = set_preview
    return (landed[0] - t0) * 1000 if landed else math.nan


def bench_adjust(app, big: Path) -> dict:
    log("\n=== 4. Adjust live preview on a 6000×4000 image (window 1280×840): slider → shown ===")
    win = new_window(app)
    assert win.open_path(big), win.errors
    win.show_action_panel("adjust")
    pump(0.5)
    res: dict = {}
    for zoom in ADJUST_ZOOMS:
        win.canvas.fit() if zoom == "fit" else win.canvas.set_zoom(zoom)
        pump(0.3)
        preview_latency(app, win, 5)  # warm-up: first job, tables, the QImage path
        lat, repaint = [], []
        for i in range(ADJUST_MOVES):
            lat.append(preview_latency(app, win, 10 + 5 * (i % 2) + i))
            t0 = time.perf_counter()
            win.canvas.viewport().repaint()
            repaint.append((time.perf_counter() - t0) * 1000)
        res[zoom] = (lat, repaint)
        log(f"  zoom {zoom}: median {np.median(lat):.0f} ms (a bare repaint {np.median(repaint):.1f} ms); load {loadavg()}")
    close_window(app, win)
    return res


# ----------------------------------------------------------------------------- report
def report(stall, brush, opened, adjusted=None) -> None:
    rows = []

    def row(name, values, unit="ms", target=None, on="max"):
        stats = dict(zip(("median", "p99", "max"), summary(values)))
        verdict = "" if target is None or math.isnan(stats[on]) else ("ok" if stats[on] <= target else "MISS")
        goal = "" if target is None else f"{on} ≤ {target:g} {unit}"
        rows.append((name, *(f"{v:9.2f}" for v in stats.values()), unit, goal, verdict))

    if stall:
        row("stall, idle baseline", stall["idle"])
        row("stall, job running", stall["running"], target=STALL_TARGET_MS)
        row("stall, job finish (apply + first paints)", stall["finish"], target=STALL_TARGET_MS)
        row("stall, whole job", stall["job"], target=STALL_TARGET_MS)
        row("  last progress → finished (apply)", stall["apply"])
        row(f"  job duration ({len(stall['duration'])} jobs)", stall["duration"], unit="s")
    if brush:
        for zoom, lat in brush.items():
            row(f"brush move → painted, zoom {zoom:g}", lat, target=DAB_TARGET_MS, on="median")
    if opened:
        row("open 24 MP JPEG → shown", opened["ours"])
        for stage, values in opened["stages"].items():
            row(f"  {stage}", values)
        row("Pillow Image.open().load()", opened["pillow"])
        row("open / Pillow", opened["ratio"], unit="×", target=OPEN_TARGET_RATIO, on="median")
    for zoom, (lat, repaint) in (adjusted or {}).items():
        row(f"adjust slider → preview shown, zoom {zoom}", lat, target=ADJUST_TARGET_MS)
        row("  bare repaint, same window", repaint)

    w = max(len(r[0]) for r in rows)
    header = f"{'metric':{w}}  {'median':>9}  {'p99':>9}  {'max':>9}  unit  {'target':17}  result"
    log(f"\n{header}\n{'-' * len(header)}")
    for name, med, p99, top, unit, goal, verdict in rows:
        log(f"{name:{w}}  {med}  {p99}  {top}  {unit:4}  {goal:17}  {verdict}")
    log(f"load average at the end: {loadavg()}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default="stall,brush,open,adjust", help="comma list of the parts to run")
    ap.add_argument("--reps", type=int, default=3, help="upscale jobs measured, after a warm-up job")
    ap.add_argument("--device", default="auto", help="upscale device: auto, cpu, openvino, …")
    args = ap.parse_args()
    parts = set(args.only.split(","))
    if not parts <= {"stall", "brush", "open", "adjust"}:
        ap.error(f"unknown part in --only: {args.only}")

    with tempfile.TemporaryDirectory(prefix="bench_gui_") as tmp_name:
        tmp = Path(tmp_name)
        # Private settings: the user's recent files and preferences are neither read nor written.
        QSettings.setDefaultFormat(QSettings.Format.IniFormat)
        QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp / "settings"))
        qInstallMessageHandler(quiet_qt)
        app = QApplication.instance() or QApplication(sys.argv[:1])

        import PySide6

        log(f"PhotoForge GUI bench — PySide6 {PySide6.__version__}, Python {sys.version.split()[0]}, "
            f"{os.cpu_count()} CPUs, load {loadavg()}")
        big = tmp / "big_6000x4000.jpg"
        if parts & {"brush", "open", "adjust"}:
            make_big_jpeg(big)
        stall = bench_stall(app, args, tmp) if "stall" in parts else None
        brush = bench_brush(app, big) if "brush" in parts else None
        opened = bench_open(app, big) if "open" in parts else None
        adjusted = bench_adjust(app, big) if "adjust" in parts else None
        report(stall, brush, opened, adjusted)
    return 0


if __name__ == "__main__":
    sys.exit(main())
