#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Runs one integration test module (Python unittest) and reports it as TAP.

Usage: tap_runner.py MODULE_PATH [--build-dir DIR]

Meson registers each integration test module with protocol 'tap', so every test
method is counted on its own in the summary. A test that cannot run here (a real
peer missing, no permission for network namespaces) calls self.skipTest(reason)
and is reported as "ok N name # SKIP reason".

Test modules (tests/integration/test_*.py) import the helpers in lib/ and qemu/
by name; this runner puts both folders on sys.path. The shared pieces:
  build_tree.py   the build dir and the programs in it (program("vschost"))
  processes.py    starting, tracking and stopping the processes a test runs
  class_setup.py  one expensive preparation per test class (PreparedOnce)
  pcsc_env.py     our own pcscd and card programs; opensc_tool.py reads OpenSC
"""
import importlib.util
import os
import sys
import traceback
import unittest


class TapResult(unittest.TestResult):
    def __init__(self):
        super().__init__()
        self.n = 0

    def _line(self, ok, test, directive=""):
        self.n += 1
        name = test.id().split(".", 1)[-1]
        print(f"{'ok' if ok else 'not ok'} {self.n} {name}{directive}", flush=True)

    def addSuccess(self, test):
        super().addSuccess(test)
        self._line(True, test)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._line(False, test)
        self._diag(err)

    def addError(self, test, err):
        super().addError(test, err)
        self._line(False, test)
        self._diag(err)

    def addSubTest(self, test, subtest, err):
        # unittest reports a failing subTest here and then neither addSuccess
        # nor addFailure for its test: say what failed, and stopTest() gives
        # the test its "not ok" line.
        super().addSubTest(test, subtest, err)
        if err is not None:
            print(f"# subtest failed: {subtest._subDescription()}", flush=True)
            self._diag(err)

    def startTest(self, test):
        super().startTest(test)
        self._reported = self.n

    def stopTest(self, test):
        if self.n == self._reported:
            self._line(False, test)
        super().stopTest(test)

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._line(True, test, f" # SKIP {reason}")

    def _diag(self, err):
        for line in "".join(traceback.format_exception(*err)).splitlines():
            print(f"# {line}", flush=True)


def main():
    path = sys.argv[1]
    if "--build-dir" in sys.argv:
        os.environ["VSCARD_BUILD_DIR"] = sys.argv[sys.argv.index("--build-dir") + 1]
    # Test modules import lib/ and qemu/ modules by name; this is the only place
    # that puts them on the path.
    lib = os.path.dirname(os.path.abspath(__file__))
    sys.path[:0] = [lib, os.path.join(os.path.dirname(lib), "qemu")]
    spec = importlib.util.spec_from_file_location("itest", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    suite = unittest.defaultTestLoader.loadTestsFromModule(module)
    print(f"1..{suite.countTestCases()}", flush=True)
    result = TapResult()
    suite.run(result)
    sys.exit(0 if result.wasSuccessful() else 1)


if __name__ == "__main__":
    main()
