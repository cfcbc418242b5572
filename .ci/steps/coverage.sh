#!/usr/bin/env bash
# Coverage of core/ and plugins/ by the Check suites: a -DQF_COVERAGE=ON
# (gcov) build runs ctest, then gcovr prints line and branch coverage per
# file and in total. The figure is printed, never enforced: the goal is at
# least 85% of lines.
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v gcovr >/dev/null; then
    apt-get install -y -qq --no-install-recommends gcovr >/dev/null
fi

build=build-coverage
jobs=$(nproc)
cmake -S . -B "$build" -DQF_COVERAGE=ON -DCMAKE_BUILD_TYPE=Debug \
    -DQF_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" -j"$jobs" >/dev/null
find "$build" -name '*.gcda' -delete
# A failing test still leaves its coverage; the main suite reports failures.
ctest --test-dir "$build" -j"$jobs" --output-on-failure >"$build/ctest.log" 2>&1 ||
    echo "coverage: some tests failed (see $build/ctest.log)"

# --gcov-ignore-parse-errors: a line gcov cannot describe is skipped and
# reported on stderr instead of failing the whole report.
gcovr --root . --filter 'core/' --filter 'plugins/' --print-summary \
    --gcov-ignore-parse-errors \
    -o "$build/coverage-lines.txt" "$build" >"$build/coverage-summary.txt"
cat "$build/coverage-lines.txt"
echo "== coverage of core/ and plugins/ (goal: 85% of lines)"
cat "$build/coverage-summary.txt"
