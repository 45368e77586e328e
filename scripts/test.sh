#!/usr/bin/env bash
# The test command: installs dependencies, builds (normal and ASan/UBSan), runs every test in both
# builds, then a 30 s run of each fuzz target, and ends with one line `N passed, N failed` counting test cases. Exit status 0 only if
# everything built and passed.
set -uo pipefail
cd "$(dirname "$0")/.."

if ! scripts/setup-deps.sh; then
    echo "0 passed, 1 failed"
    exit 1
fi

jobs=$(nproc)
setup() { # dir, meson args...
    local dir=$1
    shift
    if [ ! -f "$dir/build.ninja" ]; then
        meson setup "$dir" "$@" >"$dir.setup.log" 2>&1 || { cat "$dir.setup.log"; return 1; }
    fi
    ninja -C "$dir" -j "$jobs" >"$dir.build.log" 2>&1 || { tail -n 80 "$dir.build.log"; return 1; }
}

passed=0
failed=0
tally() { # reads the last line "N passed, N failed" of a run
    local line
    line=$(tail -n 1 "$1")
    local p f
    p=$(echo "$line" | sed -nE 's/^([0-9]+) passed, ([0-9]+) failed$/\1/p')
    f=$(echo "$line" | sed -nE 's/^([0-9]+) passed, ([0-9]+) failed$/\2/p')
    if [ -z "$p" ]; then
        failed=$((failed + 1))
        return
    fi
    passed=$((passed + p))
    failed=$((failed + f))
}

log=$(mktemp)
if setup build --buildtype=debugoptimized; then
    python3 scripts/run-tests.py build normal | tee "$log"
    tally "$log"
else
    echo "build (normal) FAILED"
    failed=$((failed + 1))
fi

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:halt_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
if setup build-san --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false; then
    python3 scripts/run-tests.py build-san asan+ubsan | tee "$log"
    tally "$log"
else
    echo "build (asan+ubsan) FAILED"
    failed=$((failed + 1))
fi
# A short fuzzing run of the libFuzzer targets (clang build, ASan/UBSan), regression inputs first.
bash scripts/fuzz.sh 30 | tee "$log"
tally "$log"
rm -f "$log"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
