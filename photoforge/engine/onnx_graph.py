"""Small edits of ONNX graphs shared by the derived models (int8 builds, the Winograd rewrite)."""
from __future__ import annotations

from collections.abc import Callable


def prune_graph(graph, removable: Callable[[object], bool] = lambda node: True) -> None:
    """Drop the removable nodes whose outputs nobody reads (repeatedly: a dropped node may
    leave its producers unread), then the initializers no node reads."""
    while True:
        used = {name for node in graph.node for name in node.input} | {o.name for o in graph.output}
        dead = [node for node in graph.node if removable(node) and not any(o in used for o in node.output)]
        if not dead:
            break
        for node in dead:
            graph.node.remove(node)
    used = {name for node in graph.node for name in node.input}
    keep = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(keep)
