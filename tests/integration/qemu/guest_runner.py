# SPDX-License-Identifier: LGPL-2.1-or-later
"""Boots the vscard test guest in QEMU with a usb-ccid reader whose card is fed
over a VSCard chardev, and reads the guest's verdict from its serial console.

    guest = build_guest.build()
    with GuestVM(guest, steps=["atr"]) as vm:   # QEMU listens on vm.port
        start the client under test against 127.0.0.1:vm.port
        result = vm.wait_done(timeout=120)
    result.step("atr").output

The guest's /init (init.sh) prints "@@VSCARD <event> ... t=<uptime>" lines and
wraps each step's output in "@@VSCARD-BEGIN <step>" / "@@VSCARD-END <step> rc=N".

Hardware (measured with QEMU 7.2, docs/qemu.md): UHCI (piix3-usb-uhci) by
default; controller="xhci" (qemu-xhci, libvirt's and q35's default) for the
tests of vscclient's response shaping, since unshaped the APDU stream goes out
of step there after the first 64-byte CCID message. OHCI loses a message and
usb-ehci refuses the full-speed CCID reader. TCG only: there is no usable KVM
on the CI machines.
"""
import dataclasses
import os
import re
import shutil
import socket
import subprocess
import threading
import time

QEMU = "qemu-system-x86_64"
MARK = re.compile(r"^@@VSCARD (\S+)(.*?)(?: t=([0-9.]+))?\s*$")
BEGIN = re.compile(r"^@@VSCARD-BEGIN (\S+)\s*$")
END = re.compile(r"^@@VSCARD-END (\S+) rc=(-?\d+)\s*$")


# controller name -> (QEMU device, guest driver module). "uhci" and "xhci"
# carry the CCID reader (xhci only with shaped responses, module docstring);
# the rest reproduce the findings (controller_check.py).
USB_CONTROLLERS = {
    "uhci": ("piix3-usb-uhci", "uhci-hcd"),
    "ehci": ("usb-ehci", "ehci-pci"),
    "ohci": ("pci-ohci", "ohci-pci"),
    "xhci": ("qemu-xhci", "xhci-pci"),
}


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def qemu_available():
    """None if QEMU with the needed devices is here, else why not."""
    path = shutil.which(QEMU)
    if not path:
        return f"{QEMU} not found (Debian package qemu-system-x86)"
    out = subprocess.run([path, "-device", "help"], capture_output=True, text=True).stdout
    for dev in ("usb-ccid", "ccid-card-passthru", "piix3-usb-uhci"):
        if f'"{dev}"' not in out:
            return f"{QEMU} has no {dev} device"
    return None


@dataclasses.dataclass
class Step:
    name: str
    rc: int
    output: str


@dataclasses.dataclass
class GuestResult:
    console: str
    steps: dict          # name -> Step (the last run of that name)
    marks: list          # [(event, rest, guest_uptime or None)]
    status: str          # "ok", "fail", or "" when the guest never finished

    def step(self, name):
        if name not in self.steps:
            raise AssertionError(f"guest ran no step {name!r}; console:\n{self.console}")
        return self.steps[name]

    def mark(self, event):
        """(rest, uptime) of the first mark named `event`, or None."""
        for ev, rest, t in self.marks:
            if ev == event:
                return rest, t
        return None

    def errors(self):
        return [rest.strip() for ev, rest, _ in self.marks if ev == "error"]


def parse_console(text):
    steps, marks, status = {}, [], ""
    current, buf = None, []
    for line in text.replace("\r", "").splitlines():
        if m := BEGIN.match(line):
            current, buf = m.group(1), []
        elif (m := END.match(line)) and current == m.group(1):
            steps[current] = Step(current, int(m.group(2)), "\n".join(buf))
            current = None
        elif m := MARK.match(line):
            t = float(m.group(3)) if m.group(3) else None
            marks.append((m.group(1), m.group(2), t))
            if m.group(1) == "done":
                status = m.group(2).strip()
        elif current is not None:
            buf.append(line)
    return GuestResult(text, steps, marks, status)


RECEIVED = re.compile(r"^Received \(SW1=0x([0-9A-Fa-f]{2}), SW2=0x([0-9A-Fa-f]{2})\)(:?)")
DUMP = re.compile(r"^((?:[0-9A-F]{2} ){1,16})")


def parse_apdu_output(text):
    """opensc-tool -s output -> [(response data hex, "SW1SW2")] in order.
    Its hex dump prints up to 16 bytes a line, the last line padded to the
    ASCII column; only the hex column counts."""
    results, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        m = RECEIVED.match(lines[i])
        i += 1
        if not m:
            continue
        data = ""
        while m.group(3) and i < len(lines) and (d := DUMP.match(lines[i])):
            data += d.group(1).replace(" ", "")
            i += 1
        results.append((data, (m.group(1) + m.group(2)).upper()))
    return results


class GuestVM:
    """One QEMU run of the guest. Only the QEMU process it started is ever
    killed (by its own PID, in stop() and on leaving the with-block)."""

    def __init__(self, guest, steps, params=None, port=None, tls_dir=None,
                 console_log=None, memory="256M", extra_args=(), controller="uhci",
                 readers=1):
        """readers > 1 gives the guest that many usb-ccid readers, each with
        its own passthru card and chardev port (vm.ports; vm.port is the
        first); steps name a reader as STEP@N (init.sh)."""
        self.guest = guest
        self.ports = [port or free_port()] + [free_port() for _ in range(readers - 1)]
        self.port = self.ports[0]
        self.controller = controller
        params = dict(params or {})
        params["usb"] = USB_CONTROLLERS[controller][1]
        if readers > 1:
            params["readers"] = readers
        params["steps"] = ",".join(steps)
        self.append = "console=ttyS0 quiet " + " ".join(
            f"vscard.{k}={v}" for k, v in params.items())
        self.tls_dir = tls_dir
        self.console_log = console_log
        self.memory = memory
        self.extra_args = list(extra_args)
        self.proc = None
        self._lines = []
        self._cursor = 0  # wait_for searches from here
        self._cond = threading.Condition()
        self._reader = None
        self.started_at = None
        self.line_times = []  # host monotonic seconds since start, per line

    def argv(self):
        argv = [QEMU, "-nodefaults", "-display", "none", "-no-reboot",
                "-accel", "tcg", "-m", self.memory, "-serial", "stdio",
                "-kernel", self.guest.kernel, "-initrd", self.guest.initrd,
                "-append", self.append]
        tls = ""
        if self.tls_dir:
            argv += ["-object", f"tls-creds-x509,id=tls0,dir={self.tls_dir},"
                     "endpoint=server,verify-peer=on"]
            tls = ",tls-creds=tls0"
        argv += ["-device", USB_CONTROLLERS[self.controller][0]]
        # One usb-ccid per reader; each passthru card sits on its own reader's
        # ccid bus ("<usb-ccid id>.0").
        for i, port in enumerate(self.ports):
            argv += ["-device", f"usb-ccid,id=reader{i}",
                     "-chardev", f"socket,id=ccid{i},host=127.0.0.1,port={port},"
                     f"server=on,wait=off{tls}",
                     "-device", f"ccid-card-passthru,chardev=ccid{i},bus=reader{i}.0"]
        return argv + self.extra_args

    def start(self):
        self.started_at = time.monotonic()
        self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.wait_listening()
        return self

    def wait_listening(self, timeout=30):
        """QEMU opens its chardev listener before the guest runs; wait for it
        so a client started next connects on its first try."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"QEMU exited with {self.proc.returncode}:\n{self.console()}")
            try:
                for port in self.ports:
                    with socket.create_connection(("127.0.0.1", port), timeout=1):
                        pass
                # QEMU's chardev saw a connect and a close: harmless, it
                # only resets its input buffer (CHR_EVENT_CLOSED).
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"QEMU did not listen on port {self.port} in {timeout}s")

    def _read(self):
        log = open(self.console_log, "w") if self.console_log else None
        try:
            for raw in iter(self.proc.stdout.readline, b""):
                line = raw.decode(errors="replace")
                if log:
                    log.write(line)
                    log.flush()
                with self._cond:
                    self._lines.append(line)
                    self.line_times.append(time.monotonic() - self.started_at)
                    self._cond.notify_all()
        finally:
            if log:
                log.close()
            with self._cond:
                self._cond.notify_all()

    def console(self):
        with self._cond:
            return "".join(self._lines)

    def wait_for(self, pattern, timeout):
        """The next console line matching `pattern` (regex), like expect: the
        search starts after the line the previous wait_for matched. Returns the
        match; raises TimeoutError with the console so far if none comes."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        seen = self._cursor
        with self._cond:
            while True:
                for i in range(seen, len(self._lines)):
                    if m := rx.search(self._lines[i]):
                        self._cursor = i + 1
                        return m
                seen = len(self._lines)
                finished = self.proc.poll() is not None and not self._reader.is_alive()
                left = deadline - time.monotonic()
                if finished or left <= 0:
                    why = "QEMU exited" if finished else f"no match in {timeout}s"
                    raise TimeoutError(f"{why} waiting for {pattern!r}; console:\n"
                                       + "".join(self._lines))
                self._cond.wait(min(left, 0.5))

    def seconds_until(self, pattern):
        """Host seconds from QEMU start to the first line matching pattern."""
        rx = re.compile(pattern)
        with self._cond:
            for line, t in zip(self._lines, self.line_times):
                if rx.search(line):
                    return t
        return None

    def wait_done(self, timeout):
        """Wait for the guest to power off (or the timeout); parse its console."""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise TimeoutError(f"guest did not finish in {timeout}s; console:\n"
                               + self.console())
        self._reader.join(5)
        return parse_console(self.console())

    def result(self):
        return parse_console(self.console())

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        if self._reader:
            self._reader.join(5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()
