"""One ONNX graph from two damage networks of the same contract, so that the app, its tiler and
every bench take the pair as one model (one file, one card, one registry entry): A sees the
photo, B sees it mirrored left to right (its map mirrored back), and the pair's logit is the
lower of the two ("min": a mark both networks agree on) or their mean; then the sigmoid. Two
network passes, as flip TTA of one network costs, with two networks' mistakes to outvote.

    python -m training.pair_models A.onnx B.onnx OUT.onnx --threshold T [--how min|mean|agree:K] [--no-flip]

writes OUT.onnx and its card OUT.json, built from the members' cards (A.json, B.json beside them).
"""
import argparse
import hashlib
import json
from pathlib import Path

import numpy as np
import onnx
from onnx import compose, helper, numpy_helper


def _logit_graph(model: onnx.ModelProto, prefix: str, source: str) -> onnx.GraphProto:
    """The model's nodes reading `source`, its final Sigmoid removed, every name prefixed."""
    g = compose.add_prefix(model, prefix, rename_inputs=False).graph
    last = g.node[-1]
    if last.op_type != "Sigmoid" or last.output[0] != g.output[0].name:
        raise ValueError(f"{model.graph.name}: expects a network whose last node is its output's Sigmoid")
    g.node.remove(last)
    for n in g.node:
        n.input[:] = [source if i == model.graph.input[0].name else i for i in n.input]
    g.output[0].name = last.input[0]
    return g


def _mirror(src: str, dst: str, name: str) -> tuple[list, list]:
    """Nodes and constants reversing the last (width) axis."""
    c = [numpy_helper.from_array(np.array(v, np.int64), f"{name}/{k}")
         for k, v in (("starts", [-1]), ("ends", [np.iinfo(np.int64).min]), ("axes", [3]), ("steps", [-1]))]
    return [helper.make_node("Slice", [src] + [t.name for t in c], [dst])], c


def merge(a: onnx.ModelProto, b: onnx.ModelProto, how: str = "min", flip: bool = True) -> onnx.ModelProto:
    name = a.graph.input[0].name
    if b.graph.input[0].name != name:
        raise ValueError(f"the members' inputs differ: {name} / {b.graph.input[0].name}")
    nodes, consts = [], []
    src_b = name
    if flip:
        n, c = _mirror(name, "ensemble/mirrored", "ensemble/in")
        nodes, consts, src_b = nodes + n, consts + c, "ensemble/mirrored"
    ga, gb = _logit_graph(a, "a/", name), _logit_graph(b, "b/", src_b)
    nodes += list(ga.node) + list(gb.node)
    lb = gb.output[0].name
    if flip:
        n, c = _mirror(lb, "ensemble/b_logit", "ensemble/out")
        nodes, consts, lb = nodes + n, consts + c, "ensemble/b_logit"
    la = ga.output[0].name
    mean = [helper.make_node("Add", [la, lb], ["ensemble/sum"]),
            helper.make_node("Mul", ["ensemble/sum", "ensemble/half"], ["ensemble/mean"])]
    half = numpy_helper.from_array(np.array(0.5, np.float32), "ensemble/half")
    if how == "min":
        nodes.append(helper.make_node("Min", [la, lb], ["ensemble/logit"]))
    elif how == "mean":
        nodes += mean + [helper.make_node("Identity", ["ensemble/mean"], ["ensemble/logit"])]
        consts.append(half)
    elif how.startswith("agree:"):  # the mean up to K logits, the lower one above it
        consts += [half, numpy_helper.from_array(np.array(float(how.split(":")[1]), np.float32), "ensemble/k")]
        nodes += mean + [helper.make_node("Min", ["ensemble/mean", "ensemble/k"], ["ensemble/capped"]),
                         helper.make_node("Min", [la, lb], ["ensemble/lower"]),
                         helper.make_node("Max", ["ensemble/lower", "ensemble/capped"], ["ensemble/logit"])]
    elif how.startswith("wide:"):  # the lower logit, or the higher one's opening by a K × K square
        k = int(how.split(":")[1])
        pool = dict(kernel_shape=[k, k], strides=[1, 1], pads=[k // 2] * 4)
        nodes += [helper.make_node("Min", [la, lb], ["ensemble/lower"]),
                  helper.make_node("Max", [la, lb], ["ensemble/higher"]),
                  helper.make_node("Neg", ["ensemble/higher"], ["ensemble/neg"]),
                  helper.make_node("MaxPool", ["ensemble/neg"], ["ensemble/neg_eroded"], **pool),
                  helper.make_node("Neg", ["ensemble/neg_eroded"], ["ensemble/eroded"]),
                  helper.make_node("MaxPool", ["ensemble/eroded"], ["ensemble/opened"], **pool),
                  helper.make_node("Max", ["ensemble/lower", "ensemble/opened"], ["ensemble/logit"])]
    else:
        raise ValueError(f"how must be min, mean, agree:K or wide:K, not {how!r}")
    nodes.append(helper.make_node("Sigmoid", ["ensemble/logit"], [a.graph.output[0].name]))
    graph = helper.make_graph(nodes, "damage_pair", [a.graph.input[0]], [a.graph.output[0]],
                              list(ga.initializer) + list(gb.initializer) + consts)
    out = helper.make_model(graph, opset_imports=a.opset_import, producer_name="photoforge-pair")
    out.ir_version = a.ir_version
    onnx.checker.check_model(out)
    return out


COMBINE = {"min": "the lower of the two", "mean": "the mean of the two"}
MEMBER_KEYS = ("sha256", "architecture", "params", "seed", "training_minutes", "training_steps", "command",
               "stages", "final_log_row", "held_out_test", "threshold", "threshold_tuned_on", "trained_on")


def card(a: dict, b: dict, blob: bytes, threshold: float, tuned_on: str, how: str, flip: bool) -> dict:
    """The pair's card: the contract (A's, which B shares), the pair's own file and threshold,
    and what each member was."""
    for k in ("input", "output", "size_multiple", "context_px", "opset"):
        if a[k] != b[k]:
            raise ValueError(f"the members differ in {k}: {a[k]} / {b[k]}")
    mirrored = "B sees the photo mirrored left to right, its map mirrored back; " if flip else ""
    return {
        "id": a["id"], "task": a["task"], "file": a["file"],
        "sha256": hashlib.sha256(blob).hexdigest(), "bytes": len(blob),
        **{k: a[k] for k in ("input", "output", "size_multiple", "context_px", "opset")},
        "combine": f"{mirrored}the pair's logit is {COMBINE.get(how, how)} (training/pair_models.py)",
        "threshold": threshold, "threshold_tuned_on": tuned_on,
        # flip TTA over the pair would be four network passes; the pair's mirror is the second
        "tta": {"views": "h", "mean": "logit", "threshold": None, "default": False},
        "licence": a["licence"], "cpu": a.get("cpu"),
        "members": [{k: m[k] for k in MEMBER_KEYS if k in m} for m in (a, b)],
    }


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("a", type=Path)
    ap.add_argument("b", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--threshold", type=float, required=True)
    ap.add_argument("--tuned-on", default="training/runs/ensemble/choose_threshold.py")
    ap.add_argument("--how", default="min", help="min, mean, or agree:K (the mean up to K logits, the lower above)")
    ap.add_argument("--no-flip", action="store_true")
    args = ap.parse_args()
    pair = merge(onnx.load(args.a), onnx.load(args.b), args.how, not args.no_flip)
    blob = pair.SerializeToString()
    args.out.write_bytes(blob)
    cards = [json.loads(p.with_suffix(".json").read_text()) for p in (args.a, args.b)]
    args.out.with_suffix(".json").write_text(json.dumps(
        card(*cards, blob, args.threshold, args.tuned_on, args.how, not args.no_flip), indent=1, ensure_ascii=False)
        + "\n")
    print(f"wrote {args.out} ({len(blob) / 1e6:.2f} MB, sha256 {hashlib.sha256(blob).hexdigest()}) and its card")
