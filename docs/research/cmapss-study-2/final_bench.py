"""Study 2, final: the product's bench function on one subset (the lead wires the CLI)."""

import json
import sys
from pathlib import Path

from factoryos.bench.cmapss import run_cmapss

result = run_cmapss(Path("/work/shared/datasets/cmapss"), sys.argv[1], progress=False)
print(json.dumps(result))
