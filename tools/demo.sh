#!/usr/bin/env bash
# Build the project, start qf-sim on a free loopback port, answer one
# prompt through the plotwright role's chain, then stop qf-sim.
#
# Usage: tools/demo.sh [PROMPT]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${QF_BUILD_DIR:-$root/build}
prompt=${1:-Outline the opening scene of a heist in a floating city.}

# Configure with the defaults (so the README's test command can reuse the
# tree) and build only what the demo runs.
cmake -S "$root" -B "$build" >/dev/null
cmake --build "$build" -j"$(nproc)" --target qf qf-sim openai ollama cache \
    file_cache rate_limit >/dev/null

# qf-sim prints "qf-sim listening on http://127.0.0.1:PORT" once it is up.
# Its default port comes first: the base URL is part of every cache key, so
# a second run on the same port is answered from the cache.
sim_out=$(mktemp)
sim_pid=
trap '[ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null; wait 2>/dev/null; rm -f "$sim_out"' EXIT
start_sim() {
    : >"$sim_out"
    "$build/bin/qf-sim" --port "$1" >"$sim_out" 2>&1 &
    sim_pid=$!
    for _ in $(seq 100); do
        grep -q listening "$sim_out" && return 0
        kill -0 "$sim_pid" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}
start_sim 8089 || {
    echo "port 8089 is busy; qf-sim uses a free port, so answers cached for"
    echo "port 8089 are not reused (the base URL is part of the cache key)"
    start_sim 0
} || {
    echo "qf-sim did not start:" >&2
    cat "$sim_out" >&2
    exit 1
}
url=$(grep -o 'http://127.0.0.1:[0-9]*' "$sim_out")
echo "qf-sim is listening on $url"

export OPENAI_BASE_URL="$url/v1" OLLAMA_HOST="$url"
unset OPENAI_API_KEY
cd "$root"
echo "\$ qf run --role plotwright \"$prompt\""
"$build/bin/qf" run --role plotwright "$prompt"
