"""Edge inference: model files loaded and run with ONNX Runtime, rows assembled from the
sample stream by sample-and-hold, gaps and gates, and bad model files refused by name.

The model here is a small hand-written ONNX graph (score = the window's mean of the first
signal / 10, contributions = each signal's share of the mean absolute value), so every
number the scorer answers can be checked by hand."""

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from factoryos.edge.inference import (
    Gate,
    ModelFileError,
    OnnxModel,
    RowAssembler,
    StreamScorer,
)
from factoryos.model.quality import Quality
from factoryos.model.samples import SampleBatch

SIGNALS = ["m/a", "m/b"]
IDS = {"m/a": 1, "m/b": 2, "m/state": 3, "other/x": 9}


def _model_bytes(window: int = 3, meta: dict[str, str] | None = None) -> bytes:
    x = helper.make_tensor_value_info("x", TensorProto.DOUBLE, ["n", window, 2])
    score = helper.make_tensor_value_info("score", TensorProto.DOUBLE, ["n"])
    contrib = helper.make_tensor_value_info("contrib", TensorProto.DOUBLE, ["n", 2])
    const = {
        "ten": helper.make_tensor("ten", TensorProto.DOUBLE, [], [10.0]),
        "axes1": helper.make_tensor("axes1", TensorProto.INT64, [1], [1]),
        "first": helper.make_tensor("first", TensorProto.INT64, [1], [0]),
        "axes_last": helper.make_tensor("axes_last", TensorProto.INT64, [1], [1]),
    }
    nodes = [
        helper.make_node("ReduceMean", ["x", "axes1"], ["means"], keepdims=0),  # n × 2
        helper.make_node("Gather", ["means", "first"], ["m0"], axis=1),  # n × 1
        helper.make_node("Squeeze", ["m0", "axes_last"], ["m0s"]),
        helper.make_node("Div", ["m0s", "ten"], ["score"]),
        helper.make_node("Abs", ["x"], ["absx"]),
        helper.make_node("ReduceMean", ["absx", "axes1"], ["am"], keepdims=0),
        helper.make_node("ReduceSum", ["am", "axes_last"], ["total"], keepdims=1),
        helper.make_node("Div", ["am", "total"], ["contrib"]),
    ]
    graph = helper.make_graph(
        nodes, "test", [x], [score, contrib], initializer=list(const.values())
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    props = {"family": "test", "signals": json.dumps(SIGNALS), "window": str(window)}
    props.update(meta or {})
    for key, value in props.items():
        prop = model.metadata_props.add()
        prop.key, prop.value = key, value
    return model.SerializeToString()


def _poll(ts: int, values: dict[str, float], bad: tuple[str, ...] = ()) -> SampleBatch:
    names = list(values)
    quality = [Quality.BAD if n in bad else Quality.GOOD for n in names]
    return SampleBatch.build([IDS[n] for n in names], ts, [values[n] for n in names], quality)


def test_scores_match_the_graph_once_the_window_is_full() -> None:
    scorer = StreamScorer([OnnxModel(_model_bytes(), "m")], IDS)
    answers = [scorer.feed(_poll(t, {"m/a": 10.0 * t, "m/b": 1.0})) for t in (1, 2, 3, 4)]

    assert answers[0] == answers[1] == []  # warming up: fewer rows than the window
    (third,) = answers[2]
    assert third.ts == 3 and third.value == pytest.approx((10 + 20 + 30) / 3 / 10)
    (fourth,) = answers[3]
    assert fourth.value == pytest.approx((20 + 30 + 40) / 3 / 10)
    assert fourth.contrib == pytest.approx([30 / 31, 1 / 31])
    assert fourth.top(1) == [("m/a", pytest.approx(30 / 31))]


def test_rows_hold_the_last_value_of_a_tag_missing_from_a_batch() -> None:
    scorer = StreamScorer([OnnxModel(_model_bytes(), "m")], IDS)
    scorer.feed(_poll(1, {"m/a": 3.0, "m/b": 5.0}))
    scorer.feed(_poll(2, {"m/b": 6.0}))  # a deadband tag did not move: a is held at 3
    (score,) = scorer.feed(_poll(3, {"m/a": 9.0}))
    assert score.value == pytest.approx((3 + 3 + 9) / 3 / 10)
    assert scorer.feed(_poll(4, {"other/x": 1.0})) == []  # not ours: no row, no score


def test_a_bad_sample_gives_a_gap_not_a_number() -> None:
    scorer = StreamScorer([OnnxModel(_model_bytes(), "m")], IDS)
    scorer.feed(_poll(1, {"m/a": 1.0, "m/b": 1.0}))
    scorer.feed(_poll(2, {"m/a": 1.0, "m/b": float("inf")}))
    (gap,) = scorer.feed(_poll(3, {"m/a": 1.0, "m/b": 1.0}, bad=("m/a",)))
    assert np.isnan(gap.value) and gap.missing == ("m/a", "m/b") and gap.top() == []
    scorer.feed(_poll(4, {"m/a": 2.0, "m/b": 1.0}))
    (still,) = scorer.feed(_poll(5, {"m/a": 2.0}))
    assert np.isnan(still.value) and still.missing == ("m/a",)  # row 3 is still in the window
    (back,) = scorer.feed(_poll(6, {"m/a": 2.0}))
    assert back.value == pytest.approx(0.2) and back.missing == ()


def test_the_gate_keeps_rows_of_the_allowed_states_only() -> None:
    assembler = RowAssembler(SIGNALS, IDS, Gate("m/state", (6.0,)))
    assert assembler.feed(_poll(1, {"m/a": 1.0, "m/b": 2.0})) is None  # state never seen
    assert assembler.feed(_poll(2, {"m/state": 6.0, "m/a": 1.5})) is not None
    row = assembler.feed(_poll(3, {"m/a": 4.0}))
    assert row is not None and row[0] == 3 and row[1].tolist() == [4.0, 2.0]
    assert assembler.feed(_poll(4, {"m/state": 4.0, "m/a": 5.0})) is None


def test_the_gate_travels_in_the_model_file() -> None:
    gate = json.dumps({"tag": "m/state", "values": [6]})
    model = OnnxModel(_model_bytes(window=1, meta={"gate": gate}), "m")
    assert model.gate == Gate("m/state", (6.0,))
    scorer = StreamScorer([model], IDS)
    assert scorer.feed(_poll(1, {"m/state": 4.0, "m/a": 1.0, "m/b": 1.0})) == []
    (score,) = scorer.feed(_poll(2, {"m/state": 6.0}))
    assert score.value == pytest.approx(0.1)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not a model", "not a FactoryOS model file"),
        (b"", "a model is 1 B to 64 MiB"),
        (_model_bytes(meta={"window": "0"}), "'window' 0"),
        (_model_bytes(meta={"signals": "[]"}), "not a list of tag paths"),
        (_model_bytes(meta={"gate": "{}"}), "'gate' is not"),
    ],
)
def test_bad_model_files_are_refused_by_name(data: bytes, message: str) -> None:
    with pytest.raises(ModelFileError, match=f"^cnc-01.onnx: .*{message}"):
        OnnxModel(data, "cnc-01.onnx")


def test_a_model_without_metadata_is_refused() -> None:
    proto = onnx.load_model_from_string(_model_bytes())
    del proto.metadata_props[:]
    with pytest.raises(ModelFileError, match="no 'signals'"):
        OnnxModel(proto.SerializeToString(), "bare.onnx")


def test_inputs_missing_from_the_site_are_named() -> None:
    with pytest.raises(ModelFileError, match="m: input tags not in this site: m/b"):
        StreamScorer([OnnxModel(_model_bytes(), "m")], {"m/a": 1})


def test_a_window_of_the_wrong_shape_is_refused() -> None:
    model = OnnxModel(_model_bytes(), "m")
    with pytest.raises(ModelFileError, match=r"expected \(batch, 3, 2\)"):
        model.run(np.zeros((1, 4, 2)))
