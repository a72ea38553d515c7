#!/usr/bin/env bash
# Builds everything and runs every test: once in a Release build (with the scikit-learn
# cross-checks and, where ../shared/data exists, the real data sets), then again under
# AddressSanitizer and UndefinedBehaviorSanitizer. Installs what is missing first.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/tools/install-deps.sh" --tests
jobs="$(nproc)"

echo "== Release build: every target, every public header on its own, every test" >&2
release="$root/build/test-release"
cmake -S "$root" -B "$release" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$release" -j"$jobs" --target all all_verify_interface_header_sets
ctest --test-dir "$release" -j"$jobs" --output-on-failure --timeout 900

# -O1 keeps the sanitized build quick to compile and the tests quick to run; -g1 (line tables
# only) keeps file:line in the sanitizers' stack traces at about 70% of -g's compile time. Left out here: the
# accuracy study and the packaging tests (no code of ours runs differently under sanitizers)
# and the scikit-learn parity on the large shared data sets (Python does most of its work; the
# compiled scorer runs on every shared data set under the sanitizers in the compiled-scorer tests).
echo "== AddressSanitizer + UndefinedBehaviorSanitizer build: the tests again" >&2
sanitize="$root/build/test-sanitize"
cmake -S "$root" -B "$sanitize" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-g1 -O1" \
      -DISOFLOW_SANITIZE=ON -DISOFLOW_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build "$sanitize" -j"$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir "$sanitize" -j"$jobs" --output-on-failure --timeout 1800 -LE "accuracy|package" \
          -E "score like scikit-learn on every shared data set"
