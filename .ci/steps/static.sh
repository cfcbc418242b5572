#!/usr/bin/env bash
# Static analysis of core/, plugins/, sdk/ and tools/: clang-tidy with the
# checked-in .clang-tidy (every finding is an error) over the build's
# compile_commands.json, then cppcheck. Test code is not analysed. A false
# positive is suppressed at its line with a comment giving the reason:
#   // NOLINT(check-name): reason         for clang-tidy
#   // cppcheck-suppress id ; reason      for cppcheck (on the line above)
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v clang-tidy >/dev/null || ! command -v cppcheck >/dev/null; then
    apt-get install -y -qq --no-install-recommends clang-tidy cppcheck >/dev/null
fi

build=build-static
jobs=$(nproc)
cmake -S . -B "$build" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON \
    -DQF_BUILD_TESTS=OFF -DQF_BUILD_BENCH=OFF >/dev/null
# A full build first, so that every file in compile_commands.json compiles.
cmake --build "$build" -j"$jobs" >/dev/null

echo "clang-tidy $(clang-tidy --version | sed -n 's/.*version \([0-9.]*\).*/\1/p' | head -1)"
run-clang-tidy -p "$build" -quiet -j "$jobs" \
    "$PWD/(core|plugins|sdk|tools)/" >"$build/clang-tidy.log" 2>&1 || {
    grep -E 'warning:|error:' "$build/clang-tidy.log" | sort -u
    echo "clang-tidy found problems; full output in $build/clang-tidy.log"
    exit 1
}
echo "clang-tidy: clean"

# cJSON.h is force-included so that cppcheck expands the cJSON_ArrayForEach
# macro. Other system headers stay unresolved (missingIncludeSystem).
includes=(-I core -I sdk/include)
for dir in plugins/*/ tools/*/; do
    includes+=(-I "$dir")
done
cppcheck --enable=warning,performance,portability --error-exitcode=1 \
    --inline-suppr --quiet -j "$jobs" --std=c11 -D_GNU_SOURCE \
    --suppress=missingIncludeSystem --include=/usr/include/cjson/cJSON.h \
    "${includes[@]}" \
    core plugins sdk tools
echo "cppcheck: clean"
