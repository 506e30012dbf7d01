"""Explanation demo for the recommended detector (PCA-T2Q lag 10, train-cv calibration, 20 % target):
for each file, the first alarm after row 400 and the signal most often ranked first over all alarms."""
import os, sys, collections
os.environ.setdefault('OMP_NUM_THREADS', '1')
import numpy as np
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common
from pca_t2q import PCAT2Q

files = common.load_files()
mk = lambda: PCAT2Q(10)
C, _ = common.calibrate_C(common.compute_cv_scores(mk, files), 5, 20.0)
print(f'C = {C}')
for name, X, y in files:
    m = mk().fit(X[:400]); s = m.score(X)
    al = common.persistence(s[400:] > C * np.quantile(m.train_scores, common.Q), 5)
    idx = np.flatnonzero(al) + 400
    if len(idx) == 0:
        print(f'{name:14s} no alarm'); continue
    first = m.explain(X, idx[0])
    cnt = collections.Counter(m.explain(X, i, 1)[0][0] for i in idx)
    print(f'{name:14s} first alarm row {idx[0]} (label {y[idx[0]]}): ' + ', '.join(f'{k} {v:.1f}' for k, v in first)
          + f' | most frequent top signal: {cnt.most_common(1)[0][0]} ({cnt.most_common(1)[0][1]}/{len(idx)})')
