#!/usr/bin/env bash
#
# run_portkey_compare.sh - compare `qf serve` with the Portkey gateway
# (@portkey-ai/gateway 1.15.2 from npm) in front of the same qf-sim, in one
# run: latency added at one connection (median and 99th percentile, against
# calling qf-sim directly), throughput at 8 and 64 connections, and
# resident memory of each gateway after the load.
#
# usage: bench/gateway/run_portkey_compare.sh [BUILD_DIR]
#
# BUILD_DIR (default ./build) must hold bin/qf, bin/qf-sim,
# bin/bench_gateway_load and plugins/openai.so:
#   cmake -S . -B build -DQF_BUILD_BENCH=ON
#   cmake --build build --target qf qf-sim openai bench_gateway_load
#
# Portkey is installed with npm into a temporary folder, never globally.
# It listens on all interfaces by default, so a Node preload forces every
# listening socket onto 127.0.0.1. When `unshare -rn` works, the
# measurements run in a private network namespace whose only interface is
# loopback, so no process of the benchmark can reach another host.
# Environment: QF_BENCH_SECONDS (throughput run length, default 10) and
# QF_BENCH_REQUESTS (requests of each latency run, default 5000).
set -euo pipefail

PORTKEY_VERSION=1.15.2
SECONDS_PER_RUN=${QF_BENCH_SECONDS:-10}
LATENCY_REQUESTS=${QF_BENCH_REQUESTS:-5000}
BODY_QF='{"model":"plotwright","messages":[{"role":"user","content":"hello world"}]}'
BODY_OPENAI='{"model":"gpt-4o","messages":[{"role":"user","content":"hello world"}]}'

fail() {
    echo "run_portkey_compare: $*" >&2
    exit 1
}

# --- Phase 1: check the build and install Portkey (needs the registry) ---

setup() {
    local build=$1 work=$2

    for f in bin/qf bin/qf-sim bin/bench_gateway_load plugins/openai.so; do
        [ -e "$build/$f" ] || fail "$build/$f is missing; build the targets qf qf-sim openai bench_gateway_load with -DQF_BUILD_BENCH=ON"
    done
    command -v node >/dev/null || fail "node is not installed; Portkey needs Node.js"
    command -v npm >/dev/null || fail "npm is not installed"

    mkdir -p "$work/portkey"
    echo "installing @portkey-ai/gateway@$PORTKEY_VERSION into $work/portkey" >&2
    (cd "$work/portkey" &&
        npm install --no-audit --no-fund --silent \
            "@portkey-ai/gateway@$PORTKEY_VERSION" >&2) ||
        fail "npm install @portkey-ai/gateway@$PORTKEY_VERSION failed"

    # Every Node listening socket goes to 127.0.0.1; the chosen port is
    # written to $QF_BENCH_PORT_FILE.
    cat >"$work/loopback.cjs" <<'EOF'
const fs = require('fs');
const net = require('net');
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'object' && args[0] !== null) {
    args[0] = Object.assign({}, args[0], { host: '127.0.0.1' });
  } else {
    const callbacks = args.filter((a) => typeof a === 'function');
    args = [Number(args[0]) || 0, '127.0.0.1', ...callbacks];
  }
  this.once('listening', () => {
    if (process.env.QF_BENCH_PORT_FILE)
      fs.writeFileSync(process.env.QF_BENCH_PORT_FILE, String(this.address().port));
  });
  return listen.apply(this, args);
};
EOF
}

# --- Phase 2: start the servers and measure ------------------------------

PIDS=()

stop_all() {
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
}

# Wait for a line "... http://127.0.0.1:PORT" in a file; print PORT.
wait_port() {
    local file=$1 port=""

    for _ in $(seq 1 200); do
        port=$(sed -n 's|.*http://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$file" 2>/dev/null | head -1)
        [ -n "$port" ] && break
        sleep 0.05
    done
    [ -n "$port" ] || fail "no listening line in $file"
    echo "$port"
}

rss_kb() {
    awk '/^VmRSS/ {print $2}' "/proc/$1/status"
}

hwm_kb() {
    awk '/^VmHWM/ {print $2}' "/proc/$1/status"
}

# load NAME URL BODY ARGS... : run the load generator, print its line.
load() {
    local name=$1 url=$2 body=$3
    shift 3
    local line
    line=$("$LOAD" "$url" "$body" "$@") || fail "$name: the load generator saw errors: $line"
    echo "$line"
}

field() { # field LINE NAME
    echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

measure() {
    local build=$1 work=$2
    local sim_port qf_port pk_port qf_pid pk_pid
    LOAD=$build/bin/bench_gateway_load

    ip link set lo up 2>/dev/null || true

    "$build/bin/qf-sim" --port 0 >"$work/sim.out" 2>"$work/sim.err" &
    PIDS+=($!)
    sim_port=$(wait_port "$work/sim.out")
    local sim_url="http://127.0.0.1:$sim_port/v1/chat/completions"

    cat >"$work/plugins.yml" <<EOF
plugin_dirs: ["$build/plugins"]
state_dir: $work/state
providers:
  text:
    default: openai
    openai: {base_url: "http://127.0.0.1:$sim_port/v1", api_key: sk-bench, model: gpt-4o}
EOF
    "$build/bin/qf" --config "$work/plugins.yml" serve --listen 127.0.0.1:0 \
        >"$work/qf.out" 2>"$work/qf.err" &
    qf_pid=$!
    PIDS+=($qf_pid)
    qf_port=$(wait_port "$work/qf.out")
    local qf_url="http://127.0.0.1:$qf_port/v1/chat/completions"

    QF_BENCH_PORT_FILE=$work/portkey.port node --require "$work/loopback.cjs" \
        "$work/portkey/node_modules/@portkey-ai/gateway/build/start-server.js" \
        --port=0 --headless >"$work/portkey.log" 2>&1 &
    pk_pid=$!
    PIDS+=($pk_pid)
    for _ in $(seq 1 200); do
        [ -s "$work/portkey.port" ] && break
        sleep 0.05
    done
    pk_port=$(cat "$work/portkey.port" 2>/dev/null) || fail "Portkey did not start; see $work/portkey.log"
    local pk_url="http://127.0.0.1:$pk_port/v1/chat/completions"
    local pk_headers=(--header "x-portkey-provider: openai"
        --header "x-portkey-custom-host: http://127.0.0.1:$sim_port/v1"
        --header "Authorization: Bearer sk-bench")

    echo "warming up" >&2
    load sim "$sim_url" "$BODY_OPENAI" --requests 500 >/dev/null
    load qf "$qf_url" "$BODY_QF" --requests 500 >/dev/null
    load portkey "$pk_url" "$BODY_OPENAI" --requests 500 "${pk_headers[@]}" >/dev/null

    echo "latency at one connection, $LATENCY_REQUESTS requests each" >&2
    local l_sim l_qf l_pk
    l_sim=$(load sim "$sim_url" "$BODY_OPENAI" --requests "$LATENCY_REQUESTS")
    l_qf=$(load qf "$qf_url" "$BODY_QF" --requests "$LATENCY_REQUESTS")
    l_pk=$(load portkey "$pk_url" "$BODY_OPENAI" --requests "$LATENCY_REQUESTS" "${pk_headers[@]}")

    echo "throughput, $SECONDS_PER_RUN s per run" >&2
    local t_sim8 t_qf8 t_pk8 t_sim64 t_qf64 t_pk64
    t_sim8=$(load sim "$sim_url" "$BODY_OPENAI" --connections 8 --seconds "$SECONDS_PER_RUN")
    t_qf8=$(load qf "$qf_url" "$BODY_QF" --connections 8 --seconds "$SECONDS_PER_RUN")
    t_pk8=$(load portkey "$pk_url" "$BODY_OPENAI" --connections 8 --seconds "$SECONDS_PER_RUN" "${pk_headers[@]}")
    t_sim64=$(load sim "$sim_url" "$BODY_OPENAI" --connections 64 --seconds "$SECONDS_PER_RUN")
    t_qf64=$(load qf "$qf_url" "$BODY_QF" --connections 64 --seconds "$SECONDS_PER_RUN")
    t_pk64=$(load portkey "$pk_url" "$BODY_OPENAI" --connections 64 --seconds "$SECONDS_PER_RUN" "${pk_headers[@]}")

    report
    stop_all
}

report() {
    local s50 s99 q50 q99 p50 p99
    s50=$(field "$l_sim" p50_ms) s99=$(field "$l_sim" p99_ms)
    q50=$(field "$l_qf" p50_ms) q99=$(field "$l_qf" p99_ms)
    p50=$(field "$l_pk" p50_ms) p99=$(field "$l_pk" p99_ms)

    echo
    echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "portkey: @portkey-ai/gateway@$PORTKEY_VERSION on node $(node --version)"
    echo
    echo "latency at 1 connection (ms)   median   p99    added median  added p99"
    printf "  qf-sim directly            %7s %7s\n" "$s50" "$s99"
    printf "  qf serve                   %7s %7s    %8.3f   %8.3f\n" "$q50" "$q99" \
        "$(echo "$q50 - $s50" | bc -l)" "$(echo "$q99 - $s99" | bc -l)"
    printf "  portkey                    %7s %7s    %8.3f   %8.3f\n" "$p50" "$p99" \
        "$(echo "$p50 - $s50" | bc -l)" "$(echo "$p99 - $s99" | bc -l)"
    echo
    echo "throughput (requests/s)        8 conns   64 conns"
    printf "  qf-sim directly            %9s %9s\n" "$(field "$t_sim8" rps)" "$(field "$t_sim64" rps)"
    printf "  qf serve                   %9s %9s\n" "$(field "$t_qf8" rps)" "$(field "$t_qf64" rps)"
    printf "  portkey                    %9s %9s\n" "$(field "$t_pk8" rps)" "$(field "$t_pk64" rps)"
    printf "  qf serve / portkey         %9.1f %9.1f\n" \
        "$(echo "$(field "$t_qf8" rps) / $(field "$t_pk8" rps)" | bc -l)" \
        "$(echo "$(field "$t_qf64" rps) / $(field "$t_pk64" rps)" | bc -l)"
    echo
    echo "resident memory after the load (MiB)   now    peak"
    printf "  qf serve                           %6.1f  %6.1f\n" \
        "$(echo "$(rss_kb "$qf_pid") / 1024" | bc -l)" "$(echo "$(hwm_kb "$qf_pid") / 1024" | bc -l)"
    printf "  portkey (node)                     %6.1f  %6.1f\n" \
        "$(echo "$(rss_kb "$pk_pid") / 1024" | bc -l)" "$(echo "$(hwm_kb "$pk_pid") / 1024" | bc -l)"
}

main() {
    local build=${1:-build}

    build=$(cd "$build" && pwd) || fail "build folder $1 not found"
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/qf-gateway-bench-XXXXXX")
    trap 'stop_all; rm -rf "$WORK"' EXIT
    setup "$build" "$WORK"

    if unshare -rn true 2>/dev/null; then
        echo "measuring in a private network namespace (loopback only)" >&2
        unshare -rn "$0" --measure "$build" "$WORK"
    else
        echo "unshare -rn is not available; measuring on the host's loopback" >&2
        measure "$build" "$WORK"
    fi
}

if [ "${1:-}" = "--measure" ]; then
    trap stop_all EXIT
    measure "$2" "$3"
else
    main "$@"
fi
