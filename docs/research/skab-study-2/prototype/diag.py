# ruff: noqa
# Prototype of study 2, kept as it was run (reformatted only); reads /work/shared/datasets/skab.
from score import *

for name, mk, C in [
    ("lag10 af50", lambda: PCA(10), 5.0),
    ("lag60", lambda: PCA(60), 11.1936),
    ("mean30", lambda: PCA(30, raw=False), 12.5594),
    ("lag30sum", lambda: PCA(30, comb="sum"), 7.9245),
    ("mean10", lambda: PCA(10, raw=False), 7.4812),
]:
    print(name, C, run(mk, C), flush=True)
