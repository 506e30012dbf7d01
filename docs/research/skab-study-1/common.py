"""Shared protocol code for the SKAB outlier-detection study (FactoryOS issue 7).

Protocol (identical for every detector script):
  * every *.csv under DATA_DIR except folder anomaly-free is one "file";
  * fit on rows [0, 400) of the file (normal by SKAB convention; labels never read),
    detect on rows [400, end), label = column `anomaly` (NOT `changepoint`);
  * pool TP/FP/TN/FN over all scored rows of all files (tsad `chp_score(metric='binary')`):
      F1  = TP / (TP + (FP + FN)/2)
      FAR = 100 * FP / (FP + TN)      (false alarm rate, %)
      MAR = 100 * FN / (FN + TP)      (missed alarm rate, %)
"""
import glob, os, time, json
import numpy as np, pandas as pd

N_TRAIN = 400
SIGNALS = ['Accelerometer1RMS', 'Accelerometer2RMS', 'Current', 'Pressure', 'Temperature',
           'Thermocouple', 'Voltage', 'Volume Flow RateRMS']
DEFAULT_DATA = '/work/shared/datasets/skab'


def set_single_thread():
    for k in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'OPENBLAS_NUM_THREADS'):
        os.environ.setdefault(k, '1')


def load_files(data_dir=DEFAULT_DATA):
    out = []
    for f in sorted(glob.glob(os.path.join(data_dir, '**', '*.csv'), recursive=True)):
        if 'anomaly-free' in os.path.relpath(f, data_dir).split(os.sep):
            continue
        d = pd.read_csv(f, sep=';', index_col='datetime', parse_dates=True).sort_index()
        out.append((os.path.relpath(f, data_dir), d[SIGNALS].to_numpy(float), d['anomaly'].to_numpy(int)))
    return out


def load_anomaly_free_pseudo_files(data_dir=DEFAULT_DATA, length=1150):
    """anomaly-free.csv cut into consecutive pseudo-files (no labels: all normal) -> used only to
    check the false-alarm rate of the threshold rule, never scored in the benchmark."""
    f = os.path.join(data_dir, 'anomaly-free', 'anomaly-free.csv')
    d = pd.read_csv(f, sep=';', index_col='datetime', parse_dates=True).sort_index()
    X = d[SIGNALS].to_numpy(float)
    return [(f'anomaly-free[{i}:{i+length}]', X[i:i + length], np.zeros(min(length, len(X) - i), int))
            for i in range(0, len(X) - length + 1, length)]


def metrics(y_true_list, y_pred_list):
    TP = FP = TN = FN = 0
    for t, p in zip(y_true_list, y_pred_list):
        t = np.asarray(t).astype(bool); p = np.asarray(p).astype(bool)
        TP += int((t & p).sum()); TN += int((~t & ~p).sum())
        FP += int((~t & p).sum()); FN += int((t & ~p).sum())
    f1 = TP / (TP + (FN + FP) / 2) if TP + FN + FP else float('nan')
    far = 100 * FP / (FP + TN) if FP + TN else float('nan')
    mar = 100 * FN / (FN + TP) if FN + TP else float('nan')
    return dict(f1=round(f1, 4), far=round(far, 2), mar=round(mar, 2), TP=TP, FP=FP, TN=TN, FN=FN)


def persistence(alarm, k):
    """Fixed, causal persistence rule: raise at t only if the raw alarm held for the last k samples
    (t-k+1..t); once raised, stay raised until k consecutive raw non-alarms (hysteresis)."""
    alarm = np.asarray(alarm, bool)
    if k <= 1:
        return alarm.copy()
    out = np.zeros_like(alarm); state = False; run_on = run_off = 0
    for i, a in enumerate(alarm):
        run_on = run_on + 1 if a else 0
        run_off = run_off + 1 if not a else 0
        if not state and run_on >= k: state = True
        elif state and run_off >= k: state = False
        out[i] = state
    return out


# ---------------------------------------------------------------------------------------------
# Score-based protocol with a label-free calibrated threshold.
#   Each detector: fit(X_train) sets self.train_scores (scores of the 400 training rows; for
#   windowed models the windows inside the training part); score(X) -> one score per row of X.
#   Per-file threshold  thr = C * quantile_Q(train_scores)   (Q = 0.99, fixed)
#   C (one global constant per detector family) is the smallest value on a fixed log grid whose
#   pooled false-alarm rate on a label-free calibration set is <= the FAR target:
#     'anomaly-free': anomaly-free.csv cut into 8 pseudo-files, same 400-row fit / score-the-rest
#                     protocol (all rows normal);
#     'train-cv'    : the benchmark files' own first 400 rows, fit on [0,200), score [200,400).
#   The persistence rule is applied before counting false alarms in both cases.
#   The benchmark's scored rows/labels are never used by this procedure.
# ---------------------------------------------------------------------------------------------
Q = 0.99
FAR_TARGET = 10.0          # % of normal samples on the calibration set (pre-declared default)
C_GRID = np.round(np.exp(np.linspace(np.log(0.5), np.log(50), 81)), 4)


def compute_scores(make_detector, files, seed=None):
    out = []
    t0 = time.perf_counter()
    for name, X, y in files:
        det = make_detector()
        det.fit(X[:N_TRAIN])
        s = np.asarray(det.score(X), float)
        out.append((name, s[N_TRAIN:], float(np.quantile(det.train_scores, Q)), y[N_TRAIN:]))
    return out, time.perf_counter() - t0


def apply_threshold(scored, C, k_persist):
    yt, yp = [], []
    for name, s, q, y in scored:
        yp.append(persistence(s > C * q, k_persist)); yt.append(y)
    return yt, yp


def calibrate_C(af_scored, k_persist, far_target=FAR_TARGET):
    for C in C_GRID:
        yt, yp = apply_threshold(af_scored, C, k_persist)
        far = 100 * sum(p.sum() for p in yp) / sum(len(p) for p in yp)
        if far <= far_target:
            return float(C), far
    return float(C_GRID[-1]), far



def reference_scale(data_dir=DEFAULT_DATA, length=1150):
    """Per-signal scale floor from normal reference data only (anomaly-free.csv): the median, over
    pseudo-files of `length` rows, of each signal's standard deviation across the whole pseudo-file.
    It encodes how much each sensor normally wanders over the duration of one experiment (slow
    fluid-temperature and vibration drift that 400 training rows cannot show). Fixed for all files."""
    af = load_anomaly_free_pseudo_files(data_dir, length)
    return np.median([X.std(0) for _, X, _ in af], 0)


# Alternative label-free calibration that uses ONLY the first-400-row training parts of the
# benchmark files themselves (forward time split): fit on rows [0, 200), score rows [200, 400)
# which are normal by convention, threshold = C * q99(scores of rows the model was fitted on);
# C = smallest grid value whose pooled held-out false-alarm rate is <= FAR_TARGET.
CV_SPLIT = 200


def compute_cv_scores(make_detector, files):
    out = []
    for name, X, y in files:
        det = make_detector(); det.fit(X[:CV_SPLIT])
        s = np.asarray(det.score(X[:N_TRAIN]), float)
        out.append((name, s[CV_SPLIT:], float(np.quantile(det.train_scores, Q)), np.zeros(N_TRAIN - CV_SPLIT, int)))
    return out


def report_all(make_detector, data_dir=DEFAULT_DATA, k_persist=5, targets=(10.0, 20.0), label=''):
    """Score every file once, then report both label-free calibrations at each FAR target."""
    files = load_files(data_dir)
    scored, t_fs = compute_scores(make_detector, files)
    af_scored, _ = compute_scores(make_detector, load_anomaly_free_pseudo_files(data_dir))
    cv_scored = compute_cv_scores(make_detector, files)
    rows = []
    for calib, cs in (('anomaly-free', af_scored), ('train-cv', cv_scored)):
        for ft in targets:
            C, far_c = calibrate_C(cs, k_persist, ft)
            r = metrics(*apply_threshold(scored, C, k_persist))
            r.update(label=label, calib=calib, far_target=ft, C=C, calib_far=round(far_c, 2),
                     fit_score_s=round(t_fs, 2), k=k_persist)
            rows.append(r)
    return rows, scored
