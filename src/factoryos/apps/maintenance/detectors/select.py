"""Choose a detector family per asset by validation on its training window only.

Rule: fit every family on the first 60 % of the training rows; score the last 40 % (normal by
assumption) as they are, and again with a synthetic fault — a step of 3 and of 6 training
standard deviations added to one signal at a time. Utility = mean share of faulty rows in alarm
minus the share of normal hold-out rows in alarm (both after persistence). The family with the
highest utility wins (ties: the order of ``families``, statistical first) and is refitted on all
training rows. No labels and no later rows are used."""

from collections.abc import Sequence
from typing import Any

import numpy as np

from factoryos.apps.maintenance.detectors.base import F64, FAMILIES, DetectorConfig, persistence
from factoryos.apps.maintenance.detectors.detector import WindowDetector, fit_detector
from factoryos.apps.maintenance.detectors.features import check_training

FIT_SHARE = 0.6
FAULT_STEPS = (3.0, 6.0)


def _alarm_share(det: WindowDetector, raw: F64) -> float:
    return float(np.mean(persistence(det.score(raw), det.persistence_k)))


def _validate(det: WindowDetector, history: F64, holdout: F64, sd: F64) -> dict[str, float]:
    w = det.window
    normal = np.vstack([history[-(w - 1) :], holdout]) if w > 1 else holdout
    false_share = _alarm_share(det, normal)
    recalls = []
    for col in det.kept:
        for step in FAULT_STEPS:
            faulty = normal.copy()
            faulty[w - 1 :, col] += step * sd[col]
            recalls.append(_alarm_share(det, faulty))
    recall = float(np.mean(recalls))
    return {
        "false_alarm_share": false_share,
        "synthetic_recall": recall,
        "utility": recall - false_share,
    }


def select_detector(
    raw: F64,
    signals: Sequence[str],
    families: Sequence[str] = FAMILIES,
    config: DetectorConfig | None = None,
) -> tuple[WindowDetector, dict[str, Any]]:
    """The best family for this asset (see the module rule) fitted on all of ``raw``, and the
    validation report: ``chosen``, ``rule`` and per family its figures."""
    cfg = config or DetectorConfig()
    data, _ = check_training(raw, tuple(signals), cfg.window)  # clear errors before any split
    split = int(FIT_SHARE * data.shape[0])
    fit_part, holdout = data[:split], data[split:]
    sd = fit_part.std(axis=0)
    figures: dict[str, dict[str, float]] = {}
    for family in families:
        det = fit_detector(family, fit_part, signals, cfg)
        figures[family] = _validate(det, fit_part, holdout, sd)
    chosen = max(families, key=lambda f: (figures[f]["utility"], -list(families).index(f)))
    report: dict[str, Any] = {
        "chosen": chosen,
        "rule": "max(synthetic-fault recall − hold-out false-alarm share), fit on the first "
        f"{FIT_SHARE:.0%} of the training rows, steps {FAULT_STEPS} sd on one signal at a time",
        "fit_rows": split,
        "holdout_rows": int(holdout.shape[0]),
        "families": figures,
    }
    best = fit_detector(chosen, data, signals, cfg)
    best.validation = report
    return best, report
