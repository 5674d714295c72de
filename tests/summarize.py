#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Sums every test case run by `meson test` in one or more build directories.

Usage: summarize.py BUILD_DIR... [--extra RESULTS.json]...

Per-case results come from meson's JUnit log (GoogleTest cases and TAP subtests
of the integration modules). A test program that failed without reporting a
failing case (a crash, a timeout, a module that did not load) counts as one
failure. --extra files hold one JSON object per line, {"name", "passed",
"failed", "skipped"}, for stages outside meson (the fuzzers).
Prints "N passed, N failed, N skipped"; exits 1 if anything failed.
"""
import json
import os
import sys
import xml.etree.ElementTree as ET


def count_build(build_dir):
    passed = failed = skipped = 0
    failing_suites = set()
    junit = os.path.join(build_dir, "meson-logs", "testlog.junit.xml")
    if os.path.exists(junit):
        for suite in ET.parse(junit).getroot().iter("testsuite"):
            for case in suite.iter("testcase"):
                kinds = {child.tag for child in case}
                if kinds & {"failure", "error"}:
                    failed += 1
                    failing_suites.add(suite.get("name", ""))
                elif "skipped" in kinds or case.get("result") == "skipped":
                    skipped += 1
                else:
                    passed += 1
    log = os.path.join(build_dir, "meson-logs", "testlog.json")
    if os.path.exists(log):
        with open(log) as f:
            for line in f:
                test = json.loads(line)
                if test.get("result") in ("FAIL", "ERROR", "TIMEOUT", "UNEXPECTEDPASS"):
                    prefix = "vscard." + test["name"]
                    if not any(s == prefix or s.startswith(prefix + ".") for s in failing_suites):
                        print(f"{test['name']}: {test['result']} without a failing case", file=sys.stderr)
                        failed += 1
    else:
        print(f"{build_dir}: no test log (did the tests run?)", file=sys.stderr)
        failed += 1
    return passed, failed, skipped


def main(argv):
    totals = [0, 0, 0]
    args = iter(argv)
    for arg in args:
        if arg == "--extra":
            with open(next(args)) as f:
                for line in f:
                    if line.strip():
                        r = json.loads(line)
                        totals[0] += r.get("passed", 0)
                        totals[1] += r.get("failed", 0)
                        totals[2] += r.get("skipped", 0)
        else:
            for i, n in enumerate(count_build(arg)):
                totals[i] += n
    print(f"{totals[0]} passed, {totals[1]} failed, {totals[2]} skipped")
    return 1 if totals[1] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
