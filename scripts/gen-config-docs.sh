#!/usr/bin/env bash
# Regenerates docs/configuration.md and config/tcpterm.toml from the configuration schema
# (lib/engine/config_schema.cpp) with the tcpterm-config-gen tool. The config tests fail when the
# committed files differ from this output, so run it after changing any key.
# Usage: scripts/gen-config-docs.sh [BUILD_DIR]   (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}

ninja -C "$build" -j1 tests/engine/tcpterm-config-gen >/dev/null
gen="$build/tests/engine/tcpterm-config-gen"

tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
"$gen" md >"$tmp" && cp "$tmp" docs/configuration.md
"$gen" toml >"$tmp" && cp "$tmp" config/tcpterm.toml
echo "wrote docs/configuration.md and config/tcpterm.toml"
