#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""README demo: vschost (QEMU's behaviour) reads a card that vscclient --soft-card
feeds it, and this prints what the host saw. Exit status 0 only if all of it
worked. Usage: soft_card_demo.py BUILD_DIR | --bindir DIR (installed programs)"""
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration", "lib"))
from soft_card_run import SoftCardRun  # noqa: E402


def main():
    build, bindir = (sys.argv[1] if len(sys.argv) > 1 else "build"), None
    if build == "--bindir" and len(sys.argv) > 2:
        build, bindir = None, sys.argv[2]
    for tool in ("certutil", "openssl"):
        if shutil.which(tool) is None:
            print(f"demo: {tool} is missing (tests/install-deps.sh installs it)")
            return 1
    with tempfile.TemporaryDirectory(prefix="vscard-demo-") as tmp:
        print("vschost --mode qemu (a host that answers like QEMU 7.2's ccid-card-passthru)")
        print("vscclient --soft-card (a CAC card from three self-signed NSS certificates)\n")
        r = SoftCardRun(build, tmp, bindir).run()
    ok = True

    def line(good, text):
        nonlocal ok
        ok = ok and good
        print(f"  [{'ok' if good else 'FAILED'}] {text}")

    print("What the host saw:")
    line(r.readers == ["Virtual Reader"], f"reader added: {', '.join(r.readers) or 'none'}")
    card = r.card or {}
    line(bool(card.get("accepted")),
         f"card ATR {card.get('atr', '-')} ({card.get('protocols', '?')}), "
         f"{'accepted' if card.get('accepted') else 'refused'} by the QEMU rule")
    line(len(r.applets) == 3, "CAC PKI applets selected: " +
         (", ".join(a.hex().upper() for a in r.applets) or "none"))
    checks = SoftCardRun.verify(r) if r.certificates else []
    line(len(checks) == 3, f"{len(checks)} certificates read")
    for subject, verified in checks:
        line(verified, f"certificate {subject}: signature made by the card "
                       f"{'verifies' if verified else 'does NOT verify'} (openssl)")
    summary = r.summary or {}
    line(r.host_status == 0 and summary.get("ok", False),
         f"vschost script: {summary.get('passed', 0)} steps passed, "
         f"{summary.get('failed', 0)} failed, {summary.get('not_run', 0)} not run")
    if not ok:
        print("\nvschost stderr (tail):\n" + r.host_stderr[-2000:])
        print("vscclient stderr (tail):\n" + r.client_stderr[-2000:])
    print("\ndemo " + ("passed" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
