"""Torch-free conversion of KAIR FFDNet weights (.pth) to an ONNX graph.

The app ships without torch, so the checkpoint is decoded here with a restricted unpickler
(a .pth is a pickle, and an unrestricted one can run arbitrary code) and the graph is
written directly with onnx.helper.

Graph contract:
  image  float32 N x 3 x H x W, RGB in [0, 1], H and W even (no padding is done here)
  sigma  float32 N x 1 x 1 x 1, noise level sigma/255 (e.g. 25/255)
  output float32 N x 3 x H x W, not clamped (KAIR does not clamp either)
"""
from __future__ import annotations

import collections
import os
import pickle
import re
import zipfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# Storage class name -> numpy dtype. On-disk storage bytes are little-endian in both formats
# (the zip format records the byte order; legacy files always byte-swap to little on save).
_STORAGE_DTYPES = {
    "FloatStorage": "f4", "HalfStorage": "f2", "DoubleStorage": "f8", "BFloat16Storage": "u2",
    "LongStorage": "i8", "IntStorage": "i4", "ShortStorage": "i2", "CharStorage": "i1",
    "ByteStorage": "u1", "BoolStorage": "?",
}
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


class _StorageType:
    def __init__(self, name: str):
        self.name = name


class _Storage:
    """One storage's bytes (filled in later for legacy files) plus an element offset for views."""

    def __init__(self, name: str, numel: int, byteorder: str):
        self.dtype = np.dtype(_STORAGE_DTYPES[name]).newbyteorder(byteorder)
        self.bf16 = name == "BFloat16Storage"
        self.numel = numel
        self.data: bytes | None = None


class _TensorRef:
    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, hooks=None, metadata=None):
    root, view_offset = storage  # as returned by persistent_load
    if not isinstance(root, _Storage) or not all(isinstance(v, int) for v in (storage_offset, *size, *stride)):
        raise ValueError("bad tensor record in checkpoint")
    return _TensorRef(root, view_offset + storage_offset, size, stride)


def _rebuild_parameter(data, requires_grad=False, hooks=None):
    return data


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file, load_storage=None):
        super().__init__(file)
        self._load_storage = load_storage

    def find_class(self, module, name):
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor_v2
        if module == "torch._utils" and name == "_rebuild_parameter":
            return _rebuild_parameter
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise ValueError(f"unexpected object in checkpoint: {module}.{name}")

    def load(self):
        try:
            return super().load()
        except ValueError:
            raise
        except Exception as e:  # truncated/garbled pickles raise all sorts; callers want one type
            raise ValueError(f"corrupt or unsupported checkpoint: {e}") from e

    def persistent_load(self, pid):
        if self._load_storage is None or not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
            raise ValueError(f"unexpected object in checkpoint: persistent id {pid!r:.80}")
        return self._load_storage(*pid[1:])


def _materialise(ref: _TensorRef) -> np.ndarray:
    st = ref.storage
    if st.data is None or len(st.data) != st.numel * st.dtype.itemsize:
        raise ValueError("checkpoint storage data missing or truncated")
    shape, stride = ref.size, ref.stride
    if len(shape) != len(stride) or min(shape + stride + (ref.offset,), default=0) < 0:
        raise ValueError("bad tensor geometry in checkpoint")
    if 0 not in shape:
        # as_strided does no bounds checking: a crafted file could otherwise read foreign memory.
        last = ref.offset + sum((n - 1) * s for n, s in zip(shape, stride))
        if last >= st.numel:
            raise ValueError("tensor extends past its storage in checkpoint")
    flat = np.frombuffer(st.data, dtype=st.dtype)
    base = flat[ref.offset:] if 0 not in shape else flat[:0]
    arr = np.lib.stride_tricks.as_strided(
        base, shape, [s * st.dtype.itemsize for s in stride], writeable=False).copy()
    if st.bf16:  # numpy has no bfloat16; widen exactly to float32
        arr = (arr.astype(np.uint32) << 16).view(np.float32)
    return arr.astype(arr.dtype.newbyteorder("="), copy=False)


def read_torch_state_dict(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a flat state dict of tensors from a .pth (zip or legacy pickle format) without torch."""
    path = os.fspath(path)
    if zipfile.is_zipfile(path):
        result = _read_zip(path)
    else:
        result = _read_legacy(path)
    if not isinstance(result, dict) or not all(
            isinstance(k, str) and isinstance(v, _TensorRef) for k, v in result.items()):
        raise ValueError("checkpoint is not a flat state dict of tensors")
    return {k: _materialise(v) for k, v in result.items()}


def _read_zip(path: str):
    with zipfile.ZipFile(path) as zf:
        pkls = [n for n in zf.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
        if len(pkls) != 1:
            raise ValueError("not a PyTorch zip checkpoint (no unique */data.pkl)")
        prefix = pkls[0][: -len("data.pkl")]
        order = "<"
        if prefix + "byteorder" in zf.namelist():
            order = ">" if zf.read(prefix + "byteorder").strip() == b"big" else "<"
        storages: dict[str, _Storage] = {}

        def load_storage(stype, key, location, numel, *_):
            if not isinstance(stype, _StorageType):
                raise ValueError(f"unexpected object in checkpoint: storage type {stype!r:.80}")
            if key not in storages:
                storages[key] = _Storage(stype.name, int(numel), order)
                storages[key].data = zf.read(f"{prefix}data/{key}")
            return storages[key], 0

        with zf.open(pkls[0]) as f:
            return _RestrictedUnpickler(f, load_storage).load()


def _read_legacy(path: str):
    # Layout (torch.save with _use_new_zipfile_serialization=False): pickles of magic number,
    # protocol version, sys info, the object, the list of storage keys; then per key an int64
    # element count followed by the raw little-endian bytes.
    with open(path, "rb") as f:
        magic = _RestrictedUnpickler(f).load()
        if magic != _LEGACY_MAGIC:
            raise ValueError(f"not a PyTorch checkpoint (bad magic): {path}")
        _RestrictedUnpickler(f).load()  # protocol version
        _RestrictedUnpickler(f).load()  # sys info
        roots: dict[str, _Storage] = {}

        def load_storage(stype, root_key, location, numel, view=None):
            if not isinstance(stype, _StorageType):
                raise ValueError(f"unexpected object in checkpoint: storage type {stype!r:.80}")
            if root_key not in roots:
                roots[root_key] = _Storage(stype.name, int(numel), "<")
            return roots[root_key], (int(view[1]) if view is not None else 0)

        result = _RestrictedUnpickler(f, load_storage).load()
        for key in _RestrictedUnpickler(f).load():
            st = roots.get(key)
            count = int.from_bytes(f.read(8), "little", signed=True)
            if st is None or count != st.numel:
                raise ValueError("checkpoint storage table is inconsistent")
            st.data = f.read(count * st.dtype.itemsize)
        return result


def ffdnet_to_onnx(state_dict: dict[str, np.ndarray], out_path: str | os.PathLike, *, opset: int = 17) -> None:
    """Write the KAIR FFDNet (any nc/nb/in_nc, ReLU, no BN) described by `state_dict` as ONNX."""
    if opset < 15:  # Shape(start=...) below
        raise ValueError("opset must be >= 15")
    idx = sorted(int(m.group(1)) for k in state_dict if (m := re.fullmatch(r"model\.(\d+)\.weight", k)))
    expected = {f"model.{i}.{p}" for i in idx for p in ("weight", "bias")}
    if len(idx) < 2 or set(state_dict) != expected:
        raise ValueError("state dict does not look like a KAIR FFDNet (conv+ReLU stack, no BN)")
    ws = [np.asarray(state_dict[f"model.{i}.weight"], np.float32) for i in idx]
    bs = [np.asarray(state_dict[f"model.{i}.bias"], np.float32) for i in idx]
    in_nc = (ws[0].shape[1] - 1) // 4
    if ws[0].shape[1] != 4 * in_nc + 1 or ws[-1].shape[0] % 4:
        raise ValueError(f"unexpected FFDNet head/tail shapes {ws[0].shape}, {ws[-1].shape}")

    # ONNX SpaceToDepth orders its output channels (i, j, c) while KAIR's pixel_unshuffle orders
    # them (c, i, j); permuting the head conv's input channels is exact and costs nothing at run
    # time, unlike a dynamic-shape Reshape/Transpose. The sigma channel stays last.
    # DepthToSpace mode=CRD is defined exactly as torch.nn.PixelShuffle, so the tail needs no fix.
    perm = [c * 4 + b for b in range(4) for c in range(in_nc)] + [4 * in_nc]
    ws[0] = np.ascontiguousarray(ws[0][:, perm])

    inits = [numpy_helper.from_array(np.array([1, 1], np.int64), "ones2")]
    nodes = [
        helper.make_node("SpaceToDepth", ["image"], ["down"], blocksize=2),
        helper.make_node("Shape", ["down"], ["hw"], start=2),
        helper.make_node("Concat", ["ones2", "hw"], ["map_shape"], axis=0),
        # Broadcasting N x 1 x 1 x 1 against 1 x 1 x h x w gives the N x 1 x h x w sigma map.
        helper.make_node("Expand", ["sigma", "map_shape"], ["sigma_map"]),
        helper.make_node("Concat", ["down", "sigma_map"], ["x0"], axis=1),
    ]
    x = "x0"
    for n, (w, b) in enumerate(zip(ws, bs)):
        if w.shape[2:] != (3, 3) or b.shape != (w.shape[0],):
            raise ValueError(f"unexpected conv shapes at layer {n}: {w.shape}, {b.shape}")
        inits += [numpy_helper.from_array(w, f"conv{n}.weight"), numpy_helper.from_array(b, f"conv{n}.bias")]
        nodes.append(helper.make_node("Conv", [x, f"conv{n}.weight", f"conv{n}.bias"], [f"conv{n}"],
                                      kernel_shape=[3, 3], pads=[1, 1, 1, 1]))
        x = f"conv{n}"
        if n < len(ws) - 1:
            nodes.append(helper.make_node("Relu", [x], [f"relu{n}"]))
            x = f"relu{n}"
    nodes.append(helper.make_node("DepthToSpace", [x], ["output"], blocksize=2, mode="CRD"))

    out_nc = ws[-1].shape[0] // 4
    graph = helper.make_graph(
        nodes, "ffdnet",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", in_nc, "H", "W"]),
         helper.make_tensor_value_info("sigma", TensorProto.FLOAT, ["N", 1, 1, 1])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", out_nc, "H", "W"])],
        initializer=inits)
    opsets = [helper.make_opsetid("", opset)]
    # Pin the lowest IR version the opset allows so older runtimes (and OpenVINO) accept the file.
    model = helper.make_model(graph, opset_imports=opsets, producer_name="photoforge",
                              ir_version=helper.find_min_ir_version_for(opsets))
    model.doc_string = "FFDNet: image NCHW RGB [0,1] (H, W even), sigma N x 1 x 1 x 1 = sigma/255"
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, os.fspath(out_path))
