"""Candidate (b): small 1-D CNN (optionally + GRU) on 30-cycle windows, in torch.

Usage: python cand_b_cnn.py --subset FD001 [--seeds 0 1 2] [--arch cnn|cnngru] [--onnx]

Procedure (identical for every subset):
  1. ConditionNormaliser fitted on the training file (same as candidate a)
  2. one sample per training cycle: the last WIN cycles up to it (front-padded with the
     unit's first cycle when shorter) + a cycle-count channel; target = min(RUL,125)/125
  3. hyper-parameter (number of epochs) chosen on a grouped hold-out of 20 % of the
     TRAINING units; then refit on all training units for that many epochs
  4. predict the window ending at the last cycle of each test unit.
"""
from __future__ import annotations

import argparse
import json
import os

import numpy as np
import torch
import torch.nn as nn

import cmapss_common as C

WIN = 30
MAX_EPOCHS = 30
BATCH = 256
LR = 1e-3
WEIGHT_DECAY = 1e-4
USE_CYCLE = False
CYCLE_SCALE = 200.0
torch.set_num_threads(2)


def windows(data, norm):
    z = norm.transform(data)
    X = np.zeros((len(data), WIN, z.shape[1] + int(USE_CYCLE)), dtype=np.float32)
    for u in np.unique(data[:, 0]):
        idx = np.where(data[:, 0] == u)[0]
        idx = idx[np.argsort(data[idx, 1])]
        zu = np.hstack([z[idx], data[idx, 1:2] / CYCLE_SCALE]) if USE_CYCLE else z[idx]
        pad = np.vstack([np.repeat(zu[:1], WIN - 1, 0), zu])
        for i, r in enumerate(idx):
            X[r] = pad[i:i + WIN]
    return X


class Net(nn.Module):
    def __init__(self, n_in, arch="cnn", ch=10):
        super().__init__()
        self.arch = arch
        self.conv = nn.Sequential(
            nn.Conv1d(n_in, ch, 9, padding=4), nn.Tanh(),
            nn.Conv1d(ch, ch, 9, padding=4), nn.Tanh(),
            nn.Conv1d(ch, ch, 9, padding=4), nn.Tanh(),
            nn.Conv1d(ch, 1, 3, padding=1), nn.Tanh(),
        )
        if arch == "cnngru":
            self.gru = nn.GRU(1, ch, batch_first=True)
            head_in = ch
        else:
            head_in = WIN
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.5), nn.Linear(head_in, 100), nn.Tanh(),
                                  nn.Linear(100, 1))

    def forward(self, x):  # x: (B, WIN, F)  -> RUL in cycles (B, 1)
        h = self.conv(x.transpose(1, 2))
        if self.arch == "cnngru":
            _, h = self.gru(h.transpose(1, 2))
            h = h[0]
        return self.head(h) * C.RUL_CAP


def train(X, y, epochs, seed, arch, Xv=None, yv=None, stop_at=None):
    torch.manual_seed(seed)
    np.random.seed(seed)
    net = Net(X.shape[2], arch)
    opt = torch.optim.Adam(net.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y.astype(np.float32) / C.RUL_CAP)
    g = torch.Generator().manual_seed(seed)
    hist = []
    for ep in range(stop_at or epochs):
        net.train()
        perm = torch.randperm(len(Xt), generator=g)
        for i in range(0, len(perm), BATCH):
            b = perm[i:i + BATCH]
            opt.zero_grad()
            loss = ((net(Xt[b]).squeeze(1) / C.RUL_CAP - yt[b]) ** 2).mean()
            loss.backward()
            opt.step()
        sched.step()
        if Xv is not None:
            hist.append(C.rmse(predict(net, Xv), yv))
    return net, hist


def predict(net, X):
    net.eval()
    with torch.no_grad():
        return np.clip(net(torch.from_numpy(X)).squeeze(1).numpy().astype(np.float64), 0, None)


def fit(train_data, seed, arch):
    norm = C.ConditionNormaliser().fit(train_data)
    X = windows(train_data, norm)
    y = C.train_targets(train_data)
    tr, va = next(iter(C.grouped_folds(train_data[:, 0], 5, seed=0)))
    # same cosine schedule length as the final run, so the curve is comparable
    _, hist = train(X[tr], y[tr], MAX_EPOCHS, seed, arch, X[va], y[va])
    best = int(np.argmin(hist)) + 1
    # refit on all training units with the same schedule, stopped at the chosen epoch
    epochs = best
    net, _ = train(X, y, MAX_EPOCHS, seed, arch, stop_at=epochs)
    return norm, net, dict(val_curve=[round(h, 2) for h in hist], epochs=epochs, val_rmse=min(hist))


def export_onnx(net, Xlast, path):
    import onnxruntime as ort
    out = {}
    net.eval()
    x = torch.from_numpy(Xlast)
    with torch.no_grad():
        ref = net(x).numpy().reshape(-1).astype(np.float64)
    class Unit(nn.Module):  # same net, output as health index RUL/125 in [0, ~1]
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            return self.inner(x) / C.RUL_CAP

    for name, conv in [("float32", lambda m: m.float()), ("float64", lambda m: m.double()),
                       ("float32_unit", lambda m: m.float())]:
        try:
            m = conv(Net(Xlast.shape[2], net.arch))
            m.load_state_dict(net.state_dict())
            m = conv(m).eval()
            if name == "float32_unit":
                m = Unit(m).eval()
            xx = x.double() if name == "float64" else x
            p = path.replace(".onnx", f"_{name}.onnx")
            torch.onnx.export(m, (xx[:1],), p, input_names=["X"], output_names=["rul"],
                              dynamic_axes={"X": {0: "batch"}, "rul": {0: "batch"}}, opset_version=17,
                              dynamo=False)
            sess = ort.InferenceSession(p, providers=["CPUExecutionProvider"])
            got = sess.run(None, {"X": xx.numpy()})[0].reshape(-1).astype(np.float64)
            with torch.no_grad():
                fw = m(xx).numpy().reshape(-1).astype(np.float64)
            out[name] = dict(path=p, max_abs_diff_vs_same_precision_torch=float(np.max(np.abs(got - fw))),
                             max_abs_diff_vs_float32_torch=float(np.max(np.abs(got - ref))),
                             output_max=float(np.max(np.abs(fw))))
        except Exception as e:
            out[name] = dict(error=f"{type(e).__name__}: {e}"[:300])
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--subset", default="FD001")
    ap.add_argument("--data", default=C.DATA_DIR)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--arch", default="cnn", choices=["cnn", "cnngru"])
    ap.add_argument("--onnx", action="store_true")
    ap.add_argument("--out", default="results")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    train_data, test, rul = C.load_subset(a.subset, a.data)
    runs = []
    for seed in a.seeds:
        with C.Timer() as t:
            norm, net, info = fit(train_data, seed, a.arch)
        Xt = windows(test, norm)[C.last_rows(test)]
        pred = predict(net, Xt)
        r = dict(seed=seed, rmse=C.rmse(pred, rul), score=C.phm08_score(pred, rul), train_s=t.s, **info)
        if a.onnx and seed == a.seeds[0]:
            r["onnx"] = export_onnx(net, Xt, os.path.join(a.out, f"{a.arch}_{a.subset}.onnx"))
        np.save(os.path.join(a.out, f"pred_{a.arch}_{a.subset}_s{seed}.npy"), pred)
        print(json.dumps(r), flush=True)
        runs.append(r)
    summ = {k: [float(np.mean([r[k] for r in runs])), float(np.std([r[k] for r in runs]))]
            for k in ("rmse", "score", "train_s")}
    out = dict(candidate=a.arch, subset=a.subset, seeds=a.seeds, mean_std=summ, runs=runs)
    with open(os.path.join(a.out, f"{a.arch}_{a.subset}.json"), "w") as fh:
        json.dump(out, fh, indent=1)
    print(json.dumps(dict(subset=a.subset, **summ)))


if __name__ == "__main__":
    main()
