#!/usr/bin/env bash
# Runs packetdrill scripts against the tcpterm TCP core through libtcpterm_packetdrill.so (the
# adapter in tests/packetdrill). packetdrill is not packaged: build it yourself and point
# $PACKETDRILL at the binary; without it this prints that it is skipped and exits 0.
#
#   PACKETDRILL=/path/to/packetdrill scripts/packetdrill.sh            # tests/packetdrill/scripts
#   PACKETDRILL=... scripts/packetdrill.sh DIR_OR_SCRIPT...            # e.g. a public corpus
#
# Each script runs in its own packetdrill process with the stack at 192.168.0.2 and the scripted
# peer at 192.0.2.1; $TCPTERM_STATES names the adapter's state file (one line per connection,
# "LOCAL REMOTE STATE"), so a script can check a state with `grep -q TIME_WAIT $TCPTERM_STATES`.
# Extra adapter flags: $PD_SO_FLAGS (";key=value..."). Build directory: $BUILD (default build).
# Prints one line per script and, last, `N passed, N failed`; exits 1 if any failed.
set -uo pipefail
cd "$(dirname "$0")/.."

if [ -z "${PACKETDRILL:-}" ]; then
    echo "packetdrill: \$PACKETDRILL is not set (path to a packetdrill binary): skipped"
    exit 0
fi
if [ ! -x "$PACKETDRILL" ]; then
    echo "packetdrill: $PACKETDRILL is not an executable"
    echo "0 passed, 1 failed"
    exit 1
fi
build=${BUILD:-build}
so="$PWD/$build/tests/packetdrill/libtcpterm_packetdrill.so"
if [ ! -f "$so" ]; then
    ninja -C "$build" -j1 tests/packetdrill/libtcpterm_packetdrill.so >/dev/null || {
        echo "packetdrill: cannot build $so"
        echo "0 passed, 1 failed"
        exit 1
    }
fi

targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(tests/packetdrill/scripts)
scripts=()
for t in "${targets[@]}"; do
    if [ -d "$t" ]; then
        while IFS= read -r f; do scripts+=("$f"); done < <(find "$t" -name '*.pkt' | sort)
    else
        scripts+=("$t")
    fi
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0
failed=0
for s in "${scripts[@]}"; do
    states="$work/states"
    rm -f "$states"
    : >"$states"
    log="$work/log"
    start=$(date +%s%N)
    # packetdrill resolves `../common/...` commands relative to the script's directory.
    (
        cd "$(dirname "$s")" &&
            TCPTERM_STATES="$states" timeout 120 "$PACKETDRILL" \
                --local_ip=192.168.0.2 --remote_ip=192.0.2.1 \
                --so_filename="$so" \
                --so_flags="ip=192.168.0.2;mss=1460;states=$states${PD_SO_FLAGS:-}" \
                "$(basename "$s")"
    ) >"$log" 2>&1
    rc=$?
    ms=$((($(date +%s%N) - start) / 1000000))
    if [ $rc -eq 0 ]; then
        passed=$((passed + 1))
        printf 'PASS %s (%d ms)\n' "$s" "$ms"
    else
        failed=$((failed + 1))
        printf 'FAIL %s (exit %d): %s\n' "$s" "$rc" \
            "$(grep -v '^\s*$' "$log" | head -n 3 | tr '\n' ' ' | cut -c1-400)"
    fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
