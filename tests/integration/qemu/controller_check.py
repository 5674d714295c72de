#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Checks which QEMU USB host controller carries the CCID reader correctly:
boots the test guest with the controller named on the command line, feeds it a
T=0 card from the Python VSCard client, and sends APDUs whose answers have known
lengths and contents, including one whose CCID message is exactly 64 bytes (one
full bulk packet: 10-byte CCID header + 52 data bytes + SW1 SW2), followed by
more exchanges.

Usage: controller_check.py [uhci|ehci|ohci|xhci ...]   (default: all four)
       controller_check.py --sizes[=N,N...] [uhci|xhci ...]
Prints one verdict line per controller; exits 0 if every named one worked.

--sizes checks, in one boot per controller, responses of the sizes (data +
SW1 SW2) that QEMU's usb-ccid may mishandle: 54 (a 64-byte CCID message),
118 and 374 (messages of 128 and 384 bytes, multiples of the 64-byte packet),
375 and 600 (longer than BULK_IN_BUF_SIZE 384 minus the 10-byte header), each
followed by a GET CHALLENGE that shows whether the stream is still in step.
The client sends every response as it is (no shaping). Prints one line per
size. Results with QEMU 7.2 are in docs/qemu.md.
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


# Response sizes (data + SW), 54 last: under xHCI it puts every later exchange
# out of step.
SIZES = [118, 374, 375, 600, 54]


def sized_card(apdu):
    """READ BINARY answers P1P2 data bytes (the pattern i & 0xFF) + 9000,
    whatever Le says: the guest's middleware passes on what the reader gives."""
    if len(apdu) >= 4 and apdu[1] == 0xB0:
        n = apdu[2] << 8 | apdu[3]
        return bytes(i & 0xFF for i in range(n)) + b"\x90\x00"
    return fake_card_client.simple_card(apdu)


def check_sizes(guest, controller, sizes=SIZES):
    apdus = []
    for size in sizes:
        apdus += [f"00B0{size - 2:04X}00", "0084000008"]
    vm = guest_runner.GuestVM(guest, ["atr", "each"], controller=controller,
                              params={"apdus": ",".join(apdus), "wait": 30})
    try:
        vm.start()
        client = fake_card_client.FakeCardClient(vm.port, atr=T0_ATR, respond=sized_card)
        try:
            client.connect()
            result = vm.wait_done(300)
        except TimeoutError:
            result = vm.result()  # a hung exchange: the steps before it still count
        finally:
            client.close()
    finally:
        vm.stop()
    verdicts = []
    for k, size in enumerate(sizes):
        read, after = result.steps.get(f"each-{2 * k + 1}"), result.steps.get(f"each-{2 * k + 2}")
        got = guest_runner.parse_apdu_output(read.output) if read else []
        want = "".join(f"{i & 0xFF:02X}" for i in range(size - 2))
        if got == [(want, "9000")]:
            verdict = "delivered"
        elif got:
            verdict = f"wrong answer ({len(got[0][0]) // 2} data bytes, SW {got[0][1]})"
        else:
            lines = (read.output.strip().splitlines() if read else []) or ["no output"]
            verdict = "failed: " + lines[-1]
        nxt = guest_runner.parse_apdu_output(after.output) if after else []
        in_step = len(nxt) == 1 and nxt[0][1] == "9000" and len(nxt[0][0]) == 16
        if not read and f"@@VSCARD-BEGIN each-{2 * k + 1}\n" in result.console:
            verdict = "no answer (the guest's transmit hung)"
        elif not read:
            verdict = "not reached (an earlier exchange hung)"
        began = vm.seconds_until(rf"^@@VSCARD-BEGIN each-{2 * k + 1}\s*$")
        ended = vm.seconds_until(rf"^@@VSCARD-END each-{2 * k + 1} ")
        if began is not None and ended is not None:
            verdict += f" after {ended - began:.1f} s"
        verdicts.append(f"{size} bytes: {verdict}; next exchange "
                        + ("in step" if in_step else f"out of step {nxt}"))
    return verdicts


def main():
    if sys.argv[1:2] and sys.argv[1].startswith("--sizes"):
        sizes = [int(n) for n in sys.argv[1].partition("=")[2].split(",") if n] or SIZES
        guest = build_guest.build()
        for name in sys.argv[2:] or ["uhci", "xhci"]:
            for line in check_sizes(guest, name, sizes):
                print(f"{name}: {line}", flush=True)
        return 0
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
