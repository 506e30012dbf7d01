"""The exported graph (raw rows in) agrees with RulModel.predict to 1e-5 cycles."""

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

from factoryos.apps.maintenance.cmapss import Runs, load_subset
from factoryos.apps.maintenance.rul import RulConfig, fit_rul

DATA = Path(__file__).resolve().parents[4].parent / "shared" / "datasets" / "cmapss"


def _units(runs: Runs, last: int) -> Runs:
    m = runs.unit <= last
    return Runs(runs.unit[m], runs.cycle[m], runs.settings[m], runs.sensors[m])


def test_onnx_agrees_with_predict_on_real_test_units() -> None:
    subset = load_subset(DATA, "FD001")
    model = fit_rul(_units(subset.train, 12), RulConfig(rounds=60, seeds=2, folds=3, threads=1))
    graph = model.to_onnx()
    proto = onnx.load_from_string(graph)
    assert [i.name for i in proto.graph.input] == ["x"]
    assert [o.name for o in proto.graph.output] == ["rul", "lower", "upper"]
    session = ort.InferenceSession(graph, providers=["CPUExecutionProvider"])
    test = _units(subset.test, 40)
    expected = model.predict(test)
    kept = list(model.scaler.sensors)
    starts = np.r_[0, test.last_rows()[:-1] + 1]
    worst = 0.0
    for i, (a, b) in enumerate(zip(starts, test.last_rows() + 1, strict=True)):
        x = np.hstack([test.settings[a:b], test.sensors[a:b][:, kept]])[None]
        rul, lower, upper = session.run(None, {"x": x})
        for got, want in ((rul, expected.rul), (lower, expected.lower), (upper, expected.upper)):
            worst = max(worst, abs(float(got[0]) - float(want[i])))
    assert worst < 1e-5
    assert expected.rul.std() > 5  # a graph and model that both say one number would agree too
