"""Regenerate sparkplug_b_pb2.py and sparkplug_b_pb2.pyi from sparkplug_b.proto.

Run from anywhere with the project's environment (needs the dev extra's grpcio-tools)::

    .venv/bin/python src/factoryos/connect/sparkplug_b/regenerate.py

The generated module requires a protobuf runtime at least as new as the bundled protoc
(the ``Protobuf Python Version`` line of the output): keep pyproject's lower bound in step.
"""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    command = [
        sys.executable,
        "-m",
        "grpc_tools.protoc",
        f"--proto_path={HERE}",
        f"--python_out={HERE}",
        f"--pyi_out={HERE}",
        str(HERE / "sparkplug_b.proto"),
    ]
    return subprocess.run(command, check=False).returncode


if __name__ == "__main__":
    raise SystemExit(main())
