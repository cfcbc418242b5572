#!/usr/bin/env bash
# Build the libFuzzer targets with clang (-fsanitize=fuzzer,address,undefined),
# replay every seed and regression file of tests/fuzz/corpus/, then fuzz each
# target for a short fixed budget. New inputs go to a scratch folder, so the
# checked-in corpus never changes in CI. Any crash, leak or sanitizer report
# fails the step; the crashing input is left in build-fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/../.."

build=build-fuzz
runs=${QF_FUZZ_RUNS:-20000}
seconds=${QF_FUZZ_SECONDS:-20}
targets=(config sse ndjson cache_entry state_import)

CC=clang cmake -S . -B "$build" -DQF_FUZZ=ON -DQF_BUILD_BENCH=OFF \
    -DQF_TEST_AREAS=fuzz >/dev/null
cmake --build "$build" -j"$(nproc)" \
    $(printf -- '--target fuzz_%s ' "${targets[@]}") >/dev/null

mkdir -p "$build/artifacts"
for t in "${targets[@]}"; do
    bin="$build/tests/fuzz/fuzz_$t"
    seeds="tests/fuzz/corpus/$t"
    scratch="$build/scratch/$t"
    rm -rf "$scratch"
    mkdir -p "$scratch"

    echo "fuzz_$t: replaying $(ls "$seeds" | wc -l) corpus files"
    "$bin" -runs=0 "$seeds" >"$build/fuzz_$t.log" 2>&1 || {
        tail -40 "$build/fuzz_$t.log"
        exit 1
    }
    echo "fuzz_$t: $runs runs, $seconds s at most"
    "$bin" -runs="$runs" -max_total_time="$seconds" -timeout=10 \
        -rss_limit_mb=2048 -artifact_prefix="$build/artifacts/fuzz_$t-" \
        "$scratch" "$seeds" >>"$build/fuzz_$t.log" 2>&1 || {
        tail -40 "$build/fuzz_$t.log"
        echo "fuzz_$t failed; the input is in $build/artifacts/"
        exit 1
    }
done
echo "fuzz: all targets clean"
