#!/usr/bin/env bash
# The main job: installs what is missing, builds the isoflow program, and runs the fraud demo.
# Without an argument it generates card transactions with planted frauds; given a labelled CSV
# (such as creditcard_fraud_pooled.csv.gz, label column `label` or `Class`), it uses that.
# Usage: bash tools/demo.sh [TRANSACTIONS.csv[.gz]] [-- more options of `isoflow demo`]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/tools/install-deps.sh"
build="$root/build/release"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DISOFLOW_BUILD_TESTS=OFF \
      -DISOFLOW_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build "$build" --target isoflow_cli -j"$(nproc)" >/dev/null
mkdir -p "$root/out"
exec "$build/examples/isoflow" demo --workdir "$root/out/demo" "$@"
