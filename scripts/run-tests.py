#!/usr/bin/env python3
"""Runs every test of a meson build directory and counts test cases.

Catch2 executables (registered with meson's test()) run with Catch2's XML reporter, so each
TEST_CASE counts once. Shell tests (tests/interop/*.sh, registered with the 'script' suite) count
one test case each. A crashed executable counts the cases it finished plus one failure.
Prints failures as they happen and, last, a line `N passed, N failed` for this build.
Standard library only.
"""
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET


def run_catch2(name, cmd, env, timeout):
    try:
        p = subprocess.run(cmd + ["-r", "xml"], env=env, capture_output=True, text=True,
                           timeout=timeout)
        out, rc = p.stdout, p.returncode
        err = p.stderr
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        err, rc = "timeout after %ss" % timeout, -1
    passed, failed, failures = 0, 0, []
    try:
        root = ET.fromstring(out)
        for tc in root.iter("TestCase"):
            res = tc.find("OverallResult")
            if res is not None and res.get("success") == "true":
                passed += 1
            else:
                failed += 1
                failures.append(tc.get("name"))
        if rc != 0 and failed == 0:
            failed += 1
            failures.append("%s exited %d" % (name, rc))
    except ET.ParseError:
        # Truncated output: a crash. Count what finished, plus the crash.
        for line in out.splitlines():
            if "<OverallResult success=\"true\"" in line:
                passed += 1
        failed += 1
        failures.append("%s crashed (exit %d)" % (name, rc))
    if failed:
        sys.stdout.write(out[-6000:] if len(out) > 6000 else out)
        sys.stdout.write(err[-4000:])
    return passed, failed, failures


def run_script(name, cmd, env, timeout):
    try:
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
        rc, out = p.returncode, p.stdout + p.stderr
    except subprocess.TimeoutExpired as e:
        rc, out = -1, "timeout after %ss\n" % timeout
    if rc == 0:
        return 1, 0, []
    sys.stdout.write(out[-8000:])
    return 0, 1, ["%s (exit %d)" % (name, rc)]


def main():
    build = sys.argv[1]
    label = sys.argv[2] if len(sys.argv) > 2 else build
    tests = json.loads(subprocess.check_output(["meson", "introspect", "--tests", build]))
    total_p = total_f = 0
    all_failures = []
    for t in tests:
        env = dict(os.environ)
        env.update(t.get("env") or {})
        timeout = t.get("timeout") or 600
        cmd = t["cmd"]
        # meson reports suites as "project:suite"
        suites = t.get("suite") or []
        is_script = any(s.split(":")[-1] == "script" for s in suites) or cmd[0].endswith(".sh")
        kind = run_script if is_script else run_catch2
        p, f, fails = kind(t["name"], cmd, env, timeout)
        print("[%s] %-24s %d passed, %d failed" % (label, t["name"], p, f), flush=True)
        total_p += p
        total_f += f
        all_failures += ["[%s] %s" % (label, x) for x in fails]
    for x in all_failures:
        print("FAILED: " + x)
    print("%d passed, %d failed" % (total_p, total_f))
    return 0 if total_f == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
