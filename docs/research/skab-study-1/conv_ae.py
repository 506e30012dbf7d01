"""Candidate 3 (learned): 1-D convolutional autoencoder on sliding windows (PyTorch, ONNX-exportable).

Architecture fixed a priori to the SKAB reference Conv-AE (waico/SKAB core/Conv_AE.py), but
multivariate output (the reference decodes to 1 channel): Conv1d(8,32,7,s2)-ReLU-Dropout0.2-
Conv1d(32,16,7,s2)-ReLU-ConvT(16,16,7,s2)-ReLU-Dropout0.2-ConvT(16,32,7,s2)-ReLU-ConvT(32,8,7).
Window W=60 samples (1 s each), stride 1, z-scored with training mean/std.
Training: first 400 rows only (341 windows), Adam lr 1e-3, batch 32, <=100 epochs, early stopping
(patience 5) on the last 10 % of training windows, as in the reference.
Row score (causal) = reconstruction error of the window ENDING at that row: sum over signals of the
mean absolute error over the window (reference residual). Explanation = per-signal share of it.
Threshold/alarm rule: common.report_all (C * q99 of training-window scores; C calibrated label-free on
the anomaly-free pseudo-files to FAR_TARGET; persistence K).
"""
import argparse, json, os, sys
os.environ.setdefault('OMP_NUM_THREADS', '1')
import numpy as np
import torch
from torch import nn
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common

torch.set_num_threads(1)
W = 60


class Net(nn.Module):
    def __init__(self, c=8):
        super().__init__()
        self.enc = nn.Sequential(nn.Conv1d(c, 32, 7, 2, 3), nn.ReLU(), nn.Dropout(0.2),
                                 nn.Conv1d(32, 16, 7, 2, 3), nn.ReLU())
        self.dec = nn.Sequential(nn.ConvTranspose1d(16, 16, 7, 2, 3, output_padding=1), nn.ReLU(), nn.Dropout(0.2),
                                 nn.ConvTranspose1d(16, 32, 7, 2, 3, output_padding=1), nn.ReLU(),
                                 nn.ConvTranspose1d(32, c, 7, 1, 3))

    def forward(self, x):            # x: (batch, W, c) as in the platform's windows
        y = self.dec(self.enc(x.transpose(1, 2)))
        return y.transpose(1, 2)


class ScoreNet(nn.Module):
    """What is exported to ONNX: raw window (batch, W, 8) -> (score, per-signal contribution)."""
    def __init__(self, net, mu, sd):
        super().__init__()
        self.net = net
        self.register_buffer('mu', torch.tensor(mu, dtype=torch.float32))
        self.register_buffer('sd', torch.tensor(sd, dtype=torch.float32))

    def forward(self, x):
        z = (x - self.mu) / self.sd
        contrib = (z - self.net(z)).abs().mean(1)       # (batch, 8)
        return contrib.sum(1), contrib


def windows(Z):
    return np.lib.stride_tricks.sliding_window_view(Z, W, axis=0).transpose(0, 2, 1).copy()


class ConvAE:
    def __init__(self, seed=0, max_epochs=100):
        self.seed, self.max_epochs = seed, max_epochs

    def fit(self, Xtr):
        torch.manual_seed(self.seed); np.random.seed(self.seed)
        self.mu = Xtr.mean(0); self.sd = Xtr.std(0); self.sd[self.sd < 1e-9] = 1.0
        Zw = torch.tensor(windows((Xtr - self.mu) / self.sd), dtype=torch.float32)
        nv = max(1, int(0.1 * len(Zw)))
        tr, va = Zw[:-nv], Zw[-nv:]
        net = Net(Xtr.shape[1]); opt = torch.optim.Adam(net.parameters(), 1e-3)
        best, bad, best_state = np.inf, 0, None
        g = torch.Generator().manual_seed(self.seed)
        for ep in range(self.max_epochs):
            net.train()
            for idx in torch.randperm(len(tr), generator=g).split(32):
                opt.zero_grad(); loss = ((net(tr[idx]) - tr[idx]) ** 2).mean(); loss.backward(); opt.step()
            net.eval()
            with torch.no_grad():
                vl = ((net(va) - va) ** 2).mean().item()
            if vl < best - 1e-7:
                best, bad, best_state = vl, 0, {k: v.clone() for k, v in net.state_dict().items()}
            else:
                bad += 1
                if bad >= 5: break
        net.load_state_dict(best_state); net.eval()
        self.model = ScoreNet(net, self.mu, self.sd).eval()
        self.train_scores = self.window_scores(Xtr)[0]
        return self

    def window_scores(self, X):
        with torch.no_grad():
            s, c = self.model(torch.tensor(windows(X), dtype=torch.float32))
        return s.numpy(), c.numpy()

    def score(self, X):
        s = np.full(len(X), np.nan); s[W - 1:] = self.window_scores(X)[0]
        return s

    def explain(self, X, i, top=3):
        _, c = self.window_scores(X[i - W + 1:i + 1])
        o = np.argsort(c[0])[::-1][:top]
        return [(common.SIGNALS[j], float(c[0, j])) for j in o]


if __name__ == '__main__':
    ap = argparse.ArgumentParser(); ap.add_argument('--data', default=common.DEFAULT_DATA)
    ap.add_argument('--seed', type=int, default=0); ap.add_argument('--k', type=int, default=5)
    a = ap.parse_args()
    rows, scored = common.report_all(lambda: ConvAE(a.seed), a.data, a.k, label=f'Conv-AE seed{a.seed}')
    np.save(f'/tmp/skab-study/convae_scores_seed{a.seed}.npy', np.array(scored, dtype=object), allow_pickle=True)
    for r in rows:
        r['seed'] = a.seed; print(json.dumps(r))
