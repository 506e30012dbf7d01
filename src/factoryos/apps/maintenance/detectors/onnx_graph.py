"""A small builder for float64 ONNX graphs with plain operators (no ai.onnx.ml, no skl2onnx).

Every family's maths is a few matrix products and reductions, so each exports as a float64
graph that ONNX Runtime evaluates with the same arithmetic as numpy (agreement ~1e-12)."""

from typing import Any

import numpy as np
import onnx
from numpy.typing import NDArray
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
IR_VERSION = 8  # opset 17 graphs; old enough for every ONNX Runtime since 1.13


class GraphBuilder:
    """Collects nodes and constants; each `op` returns the name of its (first) output."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._count = 0

    def _name(self, stem: str) -> str:
        self._count += 1
        return f"{stem}_{self._count}"

    def const(self, value: NDArray[Any] | float | int, stem: str = "c") -> str:
        if isinstance(value, np.ndarray):
            array = value
        elif isinstance(value, int):
            array = np.asarray(value, dtype=np.int64)
        else:
            array = np.asarray(value, dtype=np.float64)
        name = self._name(stem)
        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def ints(self, values: list[int], stem: str = "axes") -> str:
        return self.const(np.asarray(values, dtype=np.int64), stem)

    def op(self, op_type: str, *inputs: str, out: str | None = None, **attrs: Any) -> str:
        name = out or self._name(op_type.lower())
        self.nodes.append(helper.make_node(op_type, list(inputs), [name], **attrs))
        return name

    def reduce_sum(self, x: str, axis: int, keepdims: int = 0) -> str:
        return self.op("ReduceSum", x, self.ints([axis]), keepdims=keepdims)

    def model(
        self,
        inputs: list[onnx.ValueInfoProto],
        outputs: list[onnx.ValueInfoProto],
        meta: dict[str, str],
    ) -> onnx.ModelProto:
        graph = helper.make_graph(
            self.nodes, "factoryos_detector", inputs, outputs, self.initializers
        )
        model = helper.make_model(
            graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="factoryos"
        )
        model.ir_version = IR_VERSION
        helper.set_model_props(model, meta)
        onnx.checker.check_model(model)
        return model


def f64_input(name: str, shape: list[str | int]) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.DOUBLE, shape)
