"""DIAGNOSTIC ONLY (uses scored labels): sweep the global threshold multiplier C to see the best
F1 any single label-free-shaped threshold rule could reach with a detector's scores. Never used to
choose a deployed setting; reported in RESULTS.md as a ceiling."""
import sys, json, os
os.environ.setdefault('OMP_NUM_THREADS', '1')
import numpy as np
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common


def ceiling(scored, k=5):
    best = None; bal = None
    for C in common.C_GRID:
        m = common.metrics(*common.apply_threshold(scored, C, k)); m['C'] = float(C)
        if best is None or m['f1'] > best['f1']: best = m
        if m['far'] < 25 and m['mar'] < 25 and (bal is None or m['f1'] > bal['f1']): bal = m
    return best, bal


if __name__ == '__main__':
    which = sys.argv[1]
    files = common.load_files()
    if which.startswith('pca'):
        from pca_t2q import PCAT2Q
        lw = int(which[3:] or 0)
        scored, _ = common.compute_scores(lambda: PCAT2Q(lw), files)
    elif which == 'iforest':
        from iforest import IForest
        scored, _ = common.compute_scores(lambda: IForest(0), files)
    else:
        scored = list(np.load(which, allow_pickle=True))
    b, bal = ceiling(scored)
    print(which, 'best-F1 oracle:', json.dumps(b)); print(which, 'best with FAR,MAR<25 oracle:', json.dumps(bal))
