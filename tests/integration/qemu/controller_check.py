#!/usr/bin/python3
"""Checks which QEMU USB host controller carries the CCID reader correctly:
boots the test guest with the controller named on the command line, feeds it a
T=0 card from the Python VSCard client, and sends APDUs whose answers have known
lengths and contents, including one whose CCID message is exactly 64 bytes (one
full bulk packet: 10-byte CCID header + 52 data bytes + SW1 SW2), followed by
more exchanges.

Usage: controller_check.py [uhci|ehci|ohci|xhci ...]   (default: all four)
Prints one verdict line per controller; exits 0 if every named one worked.
Results with QEMU 7.2 are in docs/qemu.md.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import build_guest  # noqa: E402
import fake_card_client  # noqa: E402
import guest_runner  # noqa: E402

T0_ATR = bytes.fromhex("3B021450")
# READ BINARY of 0x34 = 52 bytes: the 64-byte CCID message; then a challenge,
# a 200-byte answer (several packets) and a short one.
APDUS = ["00A4040C07A0000002471001", "00B0000034", "0084000008", "00B00000C8", "00B0000010"]


def expected(apdu):
    le = int(apdu[8:10], 16) if len(apdu) == 10 else 0
    if apdu[2:4] == "B0":
        return "".join(f"{i & 0xFF:02X}" for i in range(le))
    return None  # random (GET CHALLENGE) or empty (SELECT)


def check(guest, controller):
    vm = guest_runner.GuestVM(guest, ["atr", "apdu"], controller=controller,
                              params={"apdus": ",".join(APDUS), "wait": 30})
    try:
        vm.start()
        client = fake_card_client.FakeCardClient(vm.port, atr=T0_ATR)
        try:
            client.connect()
            result = vm.wait_done(240)
        finally:
            client.close()
    except (RuntimeError, ConnectionError, OSError, TimeoutError) as e:
        said = vm.console().strip().splitlines() or [str(e)]
        return f"QEMU or the connection failed: {said[-1]}"
    finally:
        vm.stop()
    if "apdu" not in result.steps:
        return "no APDU step ran: " + "; ".join(result.errors() or ["see console"])
    answers = guest_runner.parse_apdu_output(result.step("apdu").output)
    for i, apdu in enumerate(APDUS):
        if i >= len(answers):
            return f"exchange {i + 1} ({apdu}) failed after {i} good ones"
        data, sw = answers[i]
        want = expected(apdu)
        if sw != "9000" or (want is not None and data != want):
            return f"exchange {i + 1} ({apdu}) answered {sw} with wrong data: out of step"
    return "ok"


def main():
    names = sys.argv[1:] or list(guest_runner.USB_CONTROLLERS)
    guest = build_guest.build()
    ok = True
    for name in names:
        device = guest_runner.USB_CONTROLLERS[name][0]
        verdict = check(guest, name)
        ok &= verdict == "ok"
        print(f"{name} ({device}): {verdict}", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
