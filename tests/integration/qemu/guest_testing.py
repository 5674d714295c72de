# SPDX-License-Identifier: LGPL-2.1-or-later
"""Shared pieces of the QEMU guest tests (test_qemu_guest.py,
test_qemu_vscclient.py): the guest built once per run, timing reports, and a
TestCase that boots guests and stops them at cleanup."""
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import build_guest  # noqa: E402
import guest_runner  # noqa: E402


# How long one guest may take from QEMU start to power-off. A boot to the ATR
# takes ~10-20 s under TCG on a loaded 2-core machine; this is only the bound
# that turns a hang into a failure.
GUEST_TIMEOUT = 240
T0_ATR = bytes.fromhex("3B021450")  # ISO 7816-3: no interface bytes -> T=0 only
SELECT_AID = "00A4040C07A0000002471001"
GET_CHALLENGE = "0084000008"

_guest = None
_guest_error = None


def guest():
    """The guest, built once per test run (and cached across runs)."""
    global _guest, _guest_error
    if _guest is None and _guest_error is None:
        why = guest_runner.qemu_available()
        if why:
            _guest_error = why
        else:
            t = time.monotonic()
            try:
                _guest = build_guest.build()
                print(f"# guest {_guest.key} ready in {time.monotonic() - t:.1f} s "
                      f"(kernel {_guest.kernel_version})", flush=True)
            except build_guest.BuildError as e:
                _guest_error = f"guest cannot be built here: {e}"
    if _guest_error:
        raise unittest.SkipTest(_guest_error)
    return _guest


def report(name, seconds):
    """A timing figure, as a TAP comment (informative; never asserted)."""
    if seconds is not None:
        print(f"# {name}: {seconds:.1f} s", flush=True)


class GuestTestCase(unittest.TestCase):
    def boot(self, steps, port=None, tls_dir=None, extra_args=(), controller="uhci",
             readers=1, **params):
        """Start QEMU with the guest running `steps`; stopped at cleanup."""
        params.setdefault("wait", 60)
        vm = guest_runner.GuestVM(guest(), steps, params=params, port=port,
                                  tls_dir=tls_dir, extra_args=extra_args,
                                  controller=controller, readers=readers)
        self.addCleanup(vm.stop)
        if not hasattr(self, "started"):
            self.started = time.monotonic()
        vm.start()
        return vm

    def finish(self, vm):
        result = vm.wait_done(GUEST_TIMEOUT)
        report(f"{self._testMethodName}: QEMU start to first ATR",
               vm.seconds_until(r"@@VSCARD card-present"))
        report(f"{self._testMethodName}: total", time.monotonic() - self.started)
        return result
