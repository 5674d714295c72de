# SPDX-License-Identifier: LGPL-2.1-or-later
"""Runs QEMU's ccid-card-passthru as a VSCard host, for differential tests.

QEMU is started paused (-S) with no guest: the passthru device's chardev still
answers VSCard clients, which is all the differential test needs.

    with QemuPassthru() as qemu:          # raises QemuUnavailable if it cannot run
        transcript = play(qemu.connect, conversation)

The listening socket is created here and handed to QEMU as `fd=`, so the port is
known before QEMU starts and no connection attempt races QEMU's start-up;
readiness is QEMU's QMP greeting (sent once every device is realized).
"""
import os
import shutil
import socket
import subprocess
import tempfile
import time
import processes

QEMU = "qemu-system-x86_64"


class QemuUnavailable(Exception):
    """QEMU or its ccid-card-passthru device is missing; the reason is the message."""


def qemu_binary():
    path = shutil.which(QEMU)
    if path is None:
        raise QemuUnavailable(f"{QEMU} is not installed (Debian package qemu-system-x86)")
    return path


class QemuPassthru:
    def __init__(self, host="127.0.0.1", start_timeout=20.0):
        self.host = host
        self.start_timeout = start_timeout
        self.proc = None
        self.port = None
        self._tmp = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        binary = qemu_binary()
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        listener.bind((self.host, 0))
        listener.listen(16)
        self.port = listener.getsockname()[1]
        self._tmp = tempfile.TemporaryDirectory(prefix="vscard-qemu-")
        qmp_path = os.path.join(self._tmp.name, "qmp.sock")
        fd = listener.fileno()
        argv = [binary, "-S", "-nodefaults", "-display", "none", "-machine", "pc",
                "-qmp", f"unix:{qmp_path},server=on,wait=off",
                "-device", "piix3-usb-uhci", "-device", "usb-ccid",
                "-chardev", f"socket,id=vsc,fd={fd},server=on,wait=off",
                "-device", "ccid-card-passthru,chardev=vsc"]
        self._stderr = open(os.path.join(self._tmp.name, "stderr"), "w+b")
        try:
            self.proc = subprocess.Popen(argv, pass_fds=[fd], stdin=subprocess.DEVNULL,
                                         stdout=self._stderr, stderr=self._stderr)
        finally:
            listener.close()
        self._wait_qmp(qmp_path)

    def _wait_qmp(self, path):
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise QemuUnavailable(f"QEMU exited with {self.proc.returncode}: "
                                      f"{self.stderr_text().strip()}")
            if os.path.exists(path):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.settimeout(2)
                try:
                    s.connect(path)
                    if b"QMP" in s.recv(4096):
                        return
                except OSError:
                    pass
                finally:
                    s.close()
            time.sleep(0.02)
        self.stop()
        raise QemuUnavailable("QEMU did not become ready within "
                              f"{self.start_timeout} s")

    def stderr_text(self):
        self._stderr.flush()
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")

    def connect(self, timeout=10.0):
        return socket.create_connection((self.host, self.port), timeout=timeout)

    def stop(self):
        processes.stop(self.proc)
        self.proc = None
        if self._tmp is not None:
            self._stderr.close()
            self._tmp.cleanup()
            self._tmp = None
