#!/usr/bin/env bash
# Short fuzzing run (docs/reliability.md, "Fuzzing"): builds the libFuzzer targets of tests/fuzz in
# a separate clang build (build-fuzz, ASan + UBSan), replays the regression inputs of
# tests/fuzz/crashes/<target>/ as plain inputs, then fuzzes each target for SECONDS (default 60)
# over a temporary copy of its seed corpus. The targets run side by side when there are two or
# more CPUs. One test case per target; ends with `N passed, N failed`; exit status 0 only if no
# target crashed, leaked or timed out.
#
#   scripts/fuzz.sh [SECONDS]
#
# A failing input is kept in build-fuzz/artifacts/<target>/; replay it with
#   build-fuzz/tests/fuzz/<target> FILE          (TCPTERM_FUZZ_TRACE=1 for fuzz_tcp_input's steps)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

SECONDS_PER_TARGET=${1:-60}
TARGETS=(fuzz_parse fuzz_tcp_input)
BUILD=build-fuzz

fail_all() {
    echo "fuzz: $*"
    echo "0 passed, ${#TARGETS[@]} failed"
    exit 1
}

if ! [[ "$SECONDS_PER_TARGET" =~ ^[0-9]+$ ]] || [ "$SECONDS_PER_TARGET" -lt 1 ]; then
    echo "usage: scripts/fuzz.sh [SECONDS]" >&2
    exit 2
fi

scripts/setup-deps.sh || fail_all "scripts/setup-deps.sh failed"
# clang and libFuzzer's runtime (clang-14, libclang-rt-14-dev; llvm-14 for symbolized traces).
if ! command -v clang++-14 >/dev/null ||
    ! ls /usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    echo "fuzz: installing clang-14 libclang-rt-14-dev llvm-14" >&2
    { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
        --no-install-recommends clang-14 libclang-rt-14-dev llvm-14; } >/dev/null ||
        fail_all "could not install clang-14 / libclang-rt-14-dev"
fi
grep -q "option('fuzz'" meson_options.txt || fail_all "meson_options.txt has no 'fuzz' option"

if [ ! -f "$BUILD/build.ninja" ]; then
    CC=clang-14 CXX=clang++-14 meson setup "$BUILD" -Dfuzz=true -Db_sanitize=address,undefined \
        -Db_lundef=false --buildtype=debugoptimized >"$BUILD.setup.log" 2>&1 ||
        { cat "$BUILD.setup.log"; fail_all "meson setup $BUILD failed"; }
fi
ninja -C "$BUILD" -j "$(nproc)" "${TARGETS[@]/#/tests/fuzz/}" >"$BUILD.build.log" 2>&1 ||
    { tail -n 60 "$BUILD.build.log"; fail_all "build failed ($BUILD.build.log)"; }

export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
if [ -x /usr/lib/llvm-14/bin/llvm-symbolizer ]; then
    export ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-14/bin/llvm-symbolizer
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# run_target NAME: replay, then fuzz; writes $work/NAME.result ("PASS ..." or "FAIL ...").
run_target() {
    local t=$1
    local bin="$BUILD/tests/fuzz/$t"
    local log="$work/$t.log"
    local art="$BUILD/artifacts/$t"
    mkdir -p "$art" "$work/$t.corpus"
    local replay=ok
    local inputs=()
    if [ -d "tests/fuzz/crashes/$t" ]; then
        mapfile -t inputs < <(find "tests/fuzz/crashes/$t" -type f ! -name '*.md' | sort)
    fi
    # Each regression input on its own, so that every one still failing is named.
    local f bad=()
    for f in "${inputs[@]}"; do
        if ! "$bin" -timeout=25 "$f" >"$work/$t.replay.one" 2>&1; then
            bad+=("$(basename "$f")")
            cat "$work/$t.replay.one" >>"$work/$t.replay.log"
        fi
    done
    if [ ${#bad[@]} -gt 0 ]; then
        replay="${bad[*]}"
    fi
    cp tests/fuzz/corpus/"$t"/* "$work/$t.corpus/"
    "$bin" -max_total_time="$SECONDS_PER_TARGET" -timeout=25 -rss_limit_mb=4096 \
        -print_final_stats=1 -artifact_prefix="$art/" "$work/$t.corpus" >"$log" 2>&1
    local rc=$?
    local execs eps last
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    last=$(grep -E '^#[0-9]+' "$log" | tail -n 1 | grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [^ ]+' ||
        true)
    local what="${execs:-0} executions (${eps:-0}/s), ${last:-no coverage line}"
    if [ "$replay" != ok ]; then
        echo "FAIL ${#bad[@]} of ${#inputs[@]} regression inputs crash ($replay); fuzzing: $what" \
            >"$work/$t.result"
        grep -m1 -E 'FUZZ_CHECK failed|ERROR: (Address|Undefined|Leak)Sanitizer|runtime error' \
            -A1 "$work/$t.replay.log" >>"$work/$t.result"
    elif [ $rc -ne 0 ]; then
        local a
        a=$(grep -oE "Test unit written to [^ ]+" "$log" | tail -n 1 | sed 's/Test unit written to //')
        echo "FAIL after $what: crash/leak/timeout, input ${a:-?}" >"$work/$t.result"
        grep -m1 -E 'FUZZ_CHECK failed|ERROR: (Address|Undefined|Leak)Sanitizer|runtime error|ERROR: libFuzzer' \
            -A1 "$log" >>"$work/$t.result"
    else
        echo "PASS $what; ${#inputs[@]} regression inputs replayed" >"$work/$t.result"
    fi
}

echo "fuzz: ${#TARGETS[@]} targets, ${SECONDS_PER_TARGET} s each"
if [ "$(nproc)" -ge 2 ]; then
    pids=()
    for t in "${TARGETS[@]}"; do
        run_target "$t" &
        pids+=($!)
    done
    wait "${pids[@]}"
else
    for t in "${TARGETS[@]}"; do run_target "$t"; done
fi

passed=0
failed=0
for t in "${TARGETS[@]}"; do
    result=$(cat "$work/$t.result" 2>/dev/null || echo "FAIL no result")
    echo "$t: $result"
    if [[ "$result" == PASS* ]]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
    fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
