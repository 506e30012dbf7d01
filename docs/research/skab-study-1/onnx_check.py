"""ONNX export + ONNX Runtime agreement check for the candidates (edge inference, issue 7 item 4).

PCA-T2Q (lag 10): the fitted scorer is re-expressed as a torch module (float64) taking the last
LAG_WIN raw rows (batch, 10, 8) and returning (score, per-signal contribution to Q+T^2); exported
with torch.onnx.export; ORT output compared to the numpy platform implementation on every row >= 9
of every benchmark file (model fitted per file).  Conv-AE: the ScoreNet (float32) is exported and
compared to PyTorch on every window.  IForest: skl2onnx conversion, score_samples compared.
"""
import os, sys, json, time, io
os.environ.setdefault('OMP_NUM_THREADS', '1')
import numpy as np, torch, onnxruntime as ort
from torch import nn
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common
from pca_t2q import PCAT2Q
torch.set_num_threads(1)
so = ort.SessionOptions(); so.intra_op_num_threads = 1; so.inter_op_num_threads = 1


def export(module, example, names_out, path):
    kw = dict(input_names=['window'], output_names=names_out, dynamic_axes={'window': {0: 'batch'}}, opset_version=17)
    try:
        torch.onnx.export(module, (example,), path, dynamo=False, **kw)
    except TypeError:
        torch.onnx.export(module, (example,), path, **kw)
    return ort.InferenceSession(path, so, providers=['CPUExecutionProvider'])


class PCAScoreNet(nn.Module):
    def __init__(self, m: PCAT2Q):
        super().__init__()
        t = lambda a: torch.tensor(np.asarray(a), dtype=torch.float64)
        self.mu, self.sd, self.P, self.lam = t(m.mu), t(m.sd), t(m.P), t(m.lam)
        self.t2u, self.qu = float(m.t2_ucl), float(m.q_ucl)

    def forward(self, w):                       # w: (batch, LAG_WIN, 8) raw signals, last row = now
        f = torch.cat([w[:, -1, :], w.mean(1)], 1)
        z = (f - self.mu) / self.sd
        T = z @ self.P
        r = z - T @ self.P.T
        score = torch.maximum((T * T / self.lam).sum(1) / self.t2u, (r * r).sum(1) / self.qu)
        c = r * r / self.qu + ((T / self.lam) @ self.P.T * z).abs() / self.t2u
        contrib = c[:, :8] + c[:, 8:]
        return score, contrib


def check_pca(files, lw=10):
    worst_abs = worst_rel = 0.0; flips = 0; n = 0; lat = []
    for name, X, y in files:
        m = PCAT2Q(lw).fit(X[:common.N_TRAIN])
        ref = m.score(X)[lw - 1:]
        W = np.lib.stride_tricks.sliding_window_view(X, lw, axis=0).transpose(0, 2, 1).copy()
        sess = export(PCAScoreNet(m).eval(), torch.tensor(W[:2]), ['score', 'contrib'], '/tmp/skab-study/pca_t2q.onnx')
        t0 = time.perf_counter(); out = sess.run(None, {'window': W})[0]; lat.append((time.perf_counter() - t0) / len(W))
        d = np.abs(out - ref); worst_abs = max(worst_abs, d.max()); worst_rel = max(worst_rel, (d / np.maximum(np.abs(ref), 1e-12)).max())
        thr = 2.3658 * np.quantile(m.train_scores, common.Q)
        flips += int(((out > thr) != (ref > thr)).sum()); n += len(ref)
    return dict(model='PCA-T2Q lag10 (float64 ONNX)', rows=n, max_abs_diff=float(worst_abs), max_rel_diff=float(worst_rel),
                alarm_flips=flips, ort_us_per_row=round(1e6 * np.mean(lat), 2), onnx_bytes=os.path.getsize('/tmp/skab-study/pca_t2q.onnx'))


def check_convae(files):
    from conv_ae import ConvAE, windows
    worst_abs = worst_rel = 0.0; n = 0; lat = []
    for name, X, y in files[:6]:           # 6 files: training is the expensive part
        m = ConvAE(0).fit(X[:common.N_TRAIN])
        Wn = windows(X).astype(np.float32)
        with torch.no_grad():
            ref = m.model(torch.tensor(Wn))[0].numpy()
        sess = export(m.model, torch.tensor(Wn[:2]), ['score', 'contrib'], '/tmp/skab-study/conv_ae.onnx')
        t0 = time.perf_counter(); out = sess.run(None, {'window': Wn})[0]; lat.append((time.perf_counter() - t0) / len(Wn))
        d = np.abs(out - ref); worst_abs = max(worst_abs, d.max()); worst_rel = max(worst_rel, (d / np.abs(ref)).max()); n += len(ref)
    return dict(model='Conv-AE (float32 ONNX vs float32 PyTorch)', windows=n, files=6, max_abs_diff=float(worst_abs),
                max_rel_diff=float(worst_rel), ort_us_per_window=round(1e6 * np.mean(lat), 2),
                onnx_bytes=os.path.getsize('/tmp/skab-study/conv_ae.onnx'))


def check_iforest(files):
    from iforest import IForest
    from skl2onnx import to_onnx
    worst = 0.0; n = 0
    for name, X, y in files[:3]:
        m = IForest(0).fit(X[:common.N_TRAIN]); F = m.features(X).astype(np.float32)
        onx = to_onnx(m.model, F[:1], target_opset={'': 17, 'ai.onnx.ml': 3})
        open('/tmp/skab-study/iforest.onnx', 'wb').write(onx.SerializeToString())
        sess = ort.InferenceSession('/tmp/skab-study/iforest.onnx', so, providers=['CPUExecutionProvider'])
        outs = sess.run(None, {sess.get_inputs()[0].name: F})
        dec = outs[1].ravel()                       # decision_function = score_samples - offset_
        ref = m.model.decision_function(F.astype(np.float64))
        worst = max(worst, np.abs(dec - ref).max()); n += len(ref)
    return dict(model='IForest (skl2onnx, float32 input)', rows=n, files=3, max_abs_diff=float(worst))


if __name__ == '__main__':
    files = common.load_files()
    for f in (check_pca, check_iforest, check_convae):
        try:
            print(json.dumps(f(files)), flush=True)
        except Exception as e:
            print(json.dumps(dict(check=f.__name__, error=repr(e)[:500])), flush=True)
