"""A fitted :class:`RulModel` as one ONNX graph: raw rows in, RUL and its interval out.

Input ``x``: float64 (batch, cycles, 3 settings + the kept sensors, in ``training
["sensors_kept"]`` order) — each item is one unit's whole history from its first cycle (the
whole-history features and ``age`` need it); items of a batch share the length, so the edge
sends one unit at a time. Outputs ``rul``, ``lower``, ``upper``: float64 (batch,), for the
history's last cycle. The graph holds the condition scaling, the features, the trees and the
interval, so the edge runs exactly what the platform runs.

Trees go into ``ai.onnx.ml`` TreeEnsemble (opset 5) with float64 thresholds taken from
``Booster.dump_model()``: the onnxmltools converter stores float32 thresholds, which sent
rows near a split down the other branch (study 1: up to 1.36 cycles off). Settings far from
every training condition are not refused inside the graph (it takes the nearest one); the
caller checks them with ``SensorScaler.condition``.
"""

from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import onnx
from onnx import TensorProto, helper, numpy_helper

from factoryos.apps.maintenance.rul.conditions import SETTING_TOLERANCE
from factoryos.apps.maintenance.rul.errors import RulExportError
from factoryos.apps.maintenance.rul.features import SCALE

if TYPE_CHECKING:
    from factoryos.apps.maintenance.rul.model import RulModel

F64 = npt.NDArray[np.float64]
OPSET = 17
ML_OPSET = 5
BIG = 2**62  # "to the end" for Slice


class _Graph:
    """Accumulates nodes and constants; names are generated."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.count = 0

    def name(self, hint: str) -> str:
        self.count += 1
        return f"{hint}_{self.count}"

    def const(self, value: Any, dtype: Any = np.float64, hint: str = "c") -> str:
        name = self.name(hint)
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def op(self, kind: str, inputs: list[str], hint: str = "t", **attrs: Any) -> str:
        out = self.name(hint)
        self.nodes.append(helper.make_node(kind, inputs, [out], **attrs))
        return out

    def slice(self, x: str, start: int, end: int, axis: int) -> str:
        ints = np.int64
        return self.op(
            "Slice",
            [x, self.const([start], ints), self.const([end], ints), self.const([axis], ints)],
        )

    def sum(self, x: str, axis: int) -> str:
        return self.op("ReduceSum", [x, self.const([axis], np.int64)], keepdims=0)


def _scaled(g: _Graph, model: "RulModel") -> tuple[str, str | None]:
    """z (batch, cycles, sensors) and, with several conditions, the label (batch, cycles)."""
    scaler = model.scaler
    sensors = len(scaler.sensors)
    settings = g.slice("x", 0, 3, 2)
    readings = g.slice("x", 3, 3 + sensors, 2)
    if scaler.conditions == 1:
        mean, std = g.const(scaler.mean[0]), g.const(scaler.std[0])
        return g.op("Div", [g.op("Sub", [readings, mean]), std]), None
    diff = g.op(
        "Sub", [g.op("Unsqueeze", [settings, g.const([2], np.int64)]), g.const(scaler.centres)]
    )
    scaled = g.op("Div", [diff, g.const(SETTING_TOLERANCE)])
    distance = g.sum(g.op("Mul", [scaled, scaled]), 3)
    label = g.op("ArgMin", [distance], axis=2, keepdims=0)
    mean = g.op("Gather", [g.const(scaler.mean), label], axis=0)
    std = g.op("Gather", [g.const(scaler.std), label], axis=0)
    return g.op("Div", [g.op("Sub", [readings, mean]), std]), label


def _window(g: _Graph, z: str, w: int, total: str) -> tuple[str, str, str]:
    """Mean, std and slope over the last min(w, T) rows, as the numpy code computes them."""
    part = z if w == 0 else g.slice(z, -w, BIG, 1)
    n_int = g.op("Shape", [part], start=1, end=2)
    n = g.op("Cast", [n_int], to=TensorProto.DOUBLE)
    one = g.const(1.0)
    start = g.op("Sub", [total, n])
    t = g.op("Range", [g.op("Squeeze", [start]), g.op("Squeeze", [total]), g.op("Squeeze", [one])])
    t3 = g.op("Unsqueeze", [t, g.const([0, 2], np.int64)])
    sx, sxx = g.sum(part, 1), g.sum(g.op("Mul", [part, part]), 1)
    stx = g.sum(g.op("Mul", [t3, part]), 1)
    st, stt = g.sum(t, 0), g.sum(g.op("Mul", [t, t]), 0)
    mean = g.op("Div", [sx, n])
    var = g.op("Sub", [g.op("Div", [sxx, n]), g.op("Mul", [mean, mean])])
    std = g.op("Sqrt", [g.op("Max", [var, g.const(0.0)])])
    den = g.op("Sub", [g.op("Mul", [n, stt]), g.op("Mul", [st, st])])
    positive = g.op("Greater", [den, g.const(0.0)])
    safe = g.op("Where", [positive, den, one])
    rise = g.op("Sub", [g.op("Mul", [n, stx]), g.op("Mul", [st, sx])])
    slope = g.op("Where", [positive, g.op("Div", [rise, safe]), g.const(0.0)])
    return mean, std, slope


def _features(g: _Graph, model: "RulModel") -> str:
    z, label = _scaled(g, model)
    total = g.op("Cast", [g.op("Shape", ["x"], start=1, end=2)], to=TensorProto.DOUBLE)
    parts = [g.op("Gather", [z, g.const(-1, np.int64)], axis=1)]
    for w in model.spec.short:
        parts.extend(_window(g, z, w, total))
    for w in model.spec.long:
        mean, _, slope = _window(g, z, w, total)
        parts += [mean, slope]
    ones = g.op("Add", [g.op("Mul", [g.slice("x", 0, 1, 2), g.const(0.0)]), g.const(1.0)])
    parts.append(g.sum(ones, 1))  # age: the rows seen, one column per batch item
    if label is not None:
        k = model.scaler.conditions
        hit = g.op(
            "Equal",
            [g.op("Unsqueeze", [label, g.const([2], np.int64)]), g.const(np.arange(k), np.int64)],
        )
        parts.append(
            g.op("ReduceMean", [g.op("Cast", [hit], to=TensorProto.DOUBLE)], axes=[1], keepdims=0)
        )
    joined = g.op("Concat", parts, axis=1)
    scale = g.const(SCALE)  # the same grid as features.unit_features, by the same operations
    return g.op("Div", [g.op("Round", [g.op("Mul", [joined, scale])]), scale], hint="features")


class _Trees:
    """Flattened nodes and leaves of every booster's trees, for TreeEnsemble."""

    def __init__(self) -> None:
        self.feature: list[int] = []
        self.split: list[float] = []
        self.true_id: list[int] = []
        self.true_leaf: list[int] = []
        self.false_id: list[int] = []
        self.false_leaf: list[int] = []
        self.leaf: list[float] = []
        self.roots: list[int] = []

    def add_tree(self, root: dict[str, Any], scale: float) -> None:
        if "leaf_value" in root:  # a tree without a split: a dummy node leading to one leaf
            leaf = len(self.leaf)
            self.leaf.append(float(root["leaf_value"]) * scale)
            self.roots.append(self._node(0, 0.0, (leaf, 1), (leaf, 1)))
            return
        self.roots.append(self._walk(root, scale)[0])

    def _node(self, feature: int, split: float, yes: tuple[int, int], no: tuple[int, int]) -> int:
        self.feature.append(feature)
        self.split.append(split)
        self.true_id.append(yes[0])
        self.true_leaf.append(yes[1])
        self.false_id.append(no[0])
        self.false_leaf.append(no[1])
        return len(self.feature) - 1

    def _walk(self, node: dict[str, Any], scale: float) -> tuple[int, int]:
        if "leaf_value" in node:
            self.leaf.append(float(node["leaf_value"]) * scale)
            return len(self.leaf) - 1, 1
        if node.get("decision_type") != "<=" or node.get("missing_type") not in (None, "None"):
            raise RulExportError(
                f"tree split {node.get('split_index')}: decision {node.get('decision_type')}, "
                f"missing {node.get('missing_type')}: only '<=' without missing values exports"
            )
        index = len(self.feature)
        self._node(int(node["split_feature"]), float(node["threshold"]), (0, 0), (0, 0))
        yes = self._walk(node["left_child"], scale)
        no = self._walk(node["right_child"], scale)
        self.true_id[index], self.true_leaf[index] = yes
        self.false_id[index], self.false_leaf[index] = no
        return index, 0


def _tree_node(g: _Graph, model: "RulModel", features: str) -> str:
    trees = _Trees()
    scale = 1.0 / len(model.boosters)  # the model averages its boosters
    for booster in model.boosters:
        for info in booster.dump_model()["tree_info"]:
            trees.add_tree(info["tree_structure"], scale)
    out = g.name("trees")
    g.nodes.append(
        helper.make_node(
            "TreeEnsemble",
            [features],
            [out],
            domain="ai.onnx.ml",
            aggregate_function=1,  # SUM
            n_targets=1,
            post_transform=0,
            tree_roots=trees.roots,
            nodes_featureids=trees.feature,
            nodes_modes=numpy_helper.from_array(np.zeros(len(trees.feature), dtype=np.uint8)),
            nodes_splits=numpy_helper.from_array(np.array(trees.split, dtype=np.float64)),
            nodes_truenodeids=trees.true_id,
            nodes_trueleafs=trees.true_leaf,
            nodes_falsenodeids=trees.false_id,
            nodes_falseleafs=trees.false_leaf,
            leaf_targetids=[0] * len(trees.leaf),
            leaf_weights=numpy_helper.from_array(np.array(trees.leaf, dtype=np.float64)),
        )
    )
    return out


def _bounds(g: _Graph, model: "RulModel", rul: str) -> tuple[str, str]:
    zero, cap = g.const(0.0), g.const(model.cap)
    iv = model.intervals
    if iv.edges.size:
        below = g.op(
            "LessOrEqual", [g.const(iv.edges), g.op("Unsqueeze", [rul, g.const([1], np.int64)])]
        )
        which = g.sum(g.op("Cast", [below], to=TensorProto.INT64), 1)
        low = g.op("Gather", [g.const(iv.low), which], axis=0)
        high = g.op("Gather", [g.const(iv.high), which], axis=0)
    else:
        low, high = g.const(iv.low[0]), g.const(iv.high[0])
    lower = g.op("Min", [g.op("Clip", [g.op("Add", [rul, low]), zero, cap]), rul])
    upper = g.op("Max", [g.op("Clip", [g.op("Add", [rul, high]), zero, cap]), rul])
    return lower, upper


def export(model: "RulModel") -> bytes:
    """The serialised ONNX model (checked by onnx.checker)."""
    g = _Graph()
    raw = _tree_node(g, model, _features(g, model))
    flat = g.op("Reshape", [raw, g.const([-1], np.int64)])
    rul = g.op("Clip", [flat, g.const(0.0), g.const(model.cap)])
    lower, upper = _bounds(g, model, rul)
    for source, name in ((rul, "rul"), (lower, "lower"), (upper, "upper")):
        g.nodes.append(helper.make_node("Identity", [source], [name]))
    width = 3 + len(model.scaler.sensors)
    graph = helper.make_graph(
        g.nodes,
        "factoryos_rul",
        [helper.make_tensor_value_info("x", TensorProto.DOUBLE, ["batch", "cycles", width])],
        [
            helper.make_tensor_value_info(n, TensorProto.DOUBLE, ["batch"])
            for n in ("rul", "lower", "upper")
        ],
        g.inits,
    )
    proto = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid("ai.onnx.ml", ML_OPSET)],
        producer_name="factoryos",
    )
    proto.ir_version = 10
    try:
        onnx.checker.check_model(proto)
    except onnx.checker.ValidationError as exc:
        raise RulExportError(f"RUL ONNX graph: {exc}") from exc
    return proto.SerializeToString()
