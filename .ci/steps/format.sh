#!/usr/bin/env bash
# Formatting: every tracked C source and header must match .clang-format.
# Fix a failure with: git ls-files '*.c' '*.h' | xargs clang-format -i
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v clang-format >/dev/null; then
    apt-get install -y -qq --no-install-recommends clang-format >/dev/null
fi
git ls-files '*.c' '*.h' | xargs clang-format --dry-run -Werror
echo "format: every C file matches .clang-format"
