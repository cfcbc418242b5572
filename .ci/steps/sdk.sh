#!/usr/bin/env bash
# The plugin author's path, end to end. Install into a temporary prefix,
# build both SDK examples out of tree with CMake and with pkg-config, and
# pass them through qf-plugin-check. Then chain them in a role and run a
# prompt with the installed qf. Last, scaffold, build and check one plugin
# of each kind. Runs from the repository root after build/ is built (or
# $QF_BUILD_DIR) and exits non-zero on any failure.
set -euo pipefail

root=$(pwd)
build=${QF_BUILD_DIR:-build}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/qf-sdk-ci.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
cc=${CC:-cc}

step() { echo "-- $*"; }
fail() { echo "sdk.sh: FAILED: $*" >&2; exit 1; }

step "install into $prefix"
cmake --install "$build" --prefix "$prefix" >/dev/null
for f in bin/qf bin/qf-serve bin/qf-sim bin/qf-plugin-check include/qf/plugin.h \
         lib/pkgconfig/qf-plugin.pc \
         lib/cmake/QuestFoundryPlugin/QuestFoundryPluginConfig.cmake \
         lib/questfoundry/plugins/openai.so; do
    [ -e "$prefix/$f" ] || fail "the install lacks $f"
done

# Only the prefix from here on: no source tree include paths, no build/.
export PATH="$prefix/bin:$PATH"
unset QF_PLUGIN_PATH QF_CONFIG QF_STATE_DIR

step "the installed qf runs the installed qf-serve"
help=$("$prefix/bin/qf" serve --help) ||
    fail "'qf serve --help' from the prefix failed"
[[ $help == "usage: qf serve "* ]] ||
    fail "'qf serve --help' from the prefix printed '$help'"
case $(ldd "$prefix/bin/qf") in
    *microhttpd*) fail "the installed qf links libmicrohttpd; only qf-serve should" ;;
esac

step "build the examples with CMake"
for ex in middleware:prefix provider:reverse; do
    dir=${ex%%:*} id=${ex##*:}
    cp -r "$root/sdk/examples/$dir" "$tmp/src-$dir"
    cmake -S "$tmp/src-$dir" -B "$tmp/cmake-$dir" \
        -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_FLAGS=-Werror >/dev/null
    cmake --build "$tmp/cmake-$dir" >/dev/null
    [ -f "$tmp/cmake-$dir/$id.so" ] || fail "CMake did not build $id.so"
    exported=$(nm -D --defined-only "$tmp/cmake-$dir/$id.so" | awk '$2=="T"{print $3}')
    [ "$exported" = qf_plugin_entry ] ||
        fail "$id.so exports more than qf_plugin_entry: $exported"
    "$prefix/bin/qf-plugin-check" "$tmp/cmake-$dir/$id.so"
done

step "build the examples with pkg-config and a plain compiler"
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
mkdir -p "$tmp/pc-plugins"
chmod 755 "$tmp/pc-plugins"
for ex in middleware:prefix provider:reverse; do
    dir=${ex%%:*} id=${ex##*:}
    # shellcheck disable=SC2046
    "$cc" -shared $(pkg-config --cflags qf-plugin) -Wall -Wextra -Werror \
        -o "$tmp/pc-plugins/$id.so" "$tmp/src-$dir/$id.c"
    "$prefix/bin/qf-plugin-check" "$tmp/pc-plugins/$id.so"
done

step "chain them in a role and run a prompt with the installed qf"
mkdir -p "$tmp/project"
cat > "$tmp/project/plugins.yml" <<YAML
state_dir: state
plugin_dirs: [$tmp/pc-plugins]
providers:
  text:
    default: reverse
    reverse: {}
roles:
  plotwright:
    provider: reverse
    chain:
      - {plugin: prefix, system: "Be brief."}
YAML
out=$(cd "$tmp/project" && "$prefix/bin/qf" run --role plotwright "hello world" 2>"$tmp/run.err") ||
    { cat "$tmp/run.err" >&2; fail "qf run through prefix -> reverse"; }
expected=$(printf '.feirb eB\ndlrow olleh')
[ "$out" = "$expected" ] || fail "qf run printed '$out', expected '$expected'"
out=$(cd "$tmp/project" && "$prefix/bin/qf" run --no-stream --role plotwright "abc" 2>"$tmp/run.err") ||
    { cat "$tmp/run.err" >&2; fail "qf run --no-stream"; }
[ "$out" = "$(printf '.feirb eB\ncba')" ] || fail "qf run --no-stream printed '$out'"
(cd "$tmp/project" && "$prefix/bin/qf" plugins info reverse >/dev/null) ||
    fail "qf plugins info reverse"

step "the installed qf finds the installed plugins by itself"
mkdir -p "$tmp/builtin"
cat > "$tmp/builtin/plugins.yml" <<YAML
state_dir: state
providers:
  text:
    default: openai
    openai: {base_url: "http://127.0.0.1:1/v1", api_key: not-a-real-key}
YAML
(cd "$tmp/builtin" && "$prefix/bin/qf" plugins list) | grep -q 'openai' ||
    fail "the installed qf did not list its built-in openai plugin"

step "scaffold, build and check one plugin of each kind"
for kind in provider middleware cache_backend; do
    id=my_$kind
    "$prefix/bin/qf" plugins new "$id" --kind "$kind" --dir "$tmp/new/$id" >/dev/null
    cmake -S "$tmp/new/$id" -B "$tmp/new/$id/build" \
        -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_FLAGS=-Werror >/dev/null
    cmake --build "$tmp/new/$id/build" >/dev/null
    ctest --test-dir "$tmp/new/$id/build" --output-on-failure >/dev/null ||
        fail "the tests of the scaffolded $kind failed"
    "$prefix/bin/qf-plugin-check" "$tmp/new/$id/build/$id.so"
done

echo "sdk.sh: passed"
