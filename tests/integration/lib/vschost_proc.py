# SPDX-License-Identifier: LGPL-2.1-or-later
"""Starts the built vschost for integration tests and finds the port it listens on.

    with VschostProcess(["--mode", "qemu"]) as host:   # listens on 127.0.0.1:0
        sock = host.connect()

vschost prints "vschost: listening on ADDR ..." on stderr for each bound address;
listening on port 0 and reading that line avoids racing other tests for a port.
"""
import re
import socket
import subprocess
import tempfile
import threading
import time

from build_tree import program
import processes


class VschostProcess:
    def __init__(self, args=(), listen=("127.0.0.1:0",), stdin=subprocess.DEVNULL,
                 expect_listening=True, start_timeout=15.0, cwd=None):
        self.args = list(args)
        self.cwd = cwd
        self.listen = list(listen)
        self.stdin = stdin
        self.expect_listening = expect_listening
        self.start_timeout = start_timeout
        self.proc = None
        self.addresses = []
        self.stderr_lines = []
        self._stdout = tempfile.TemporaryFile()
        self._lock = threading.Lock()
        self._listening = threading.Event()

    @property
    def port(self):
        return int(self.addresses[0].rsplit(":", 1)[1])

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        binary = program("vschost")
        if binary is None:
            raise FileNotFoundError("vschost is not built (set VSCARD_BUILD_DIR)")
        argv = [binary, "--no-interactive"] if self.stdin == subprocess.DEVNULL else [binary]
        for a in self.listen:
            argv += ["--listen", a]
        argv += self.args
        self.proc = subprocess.Popen(argv, stdin=self.stdin, stdout=self._stdout,
                                     stderr=subprocess.PIPE, cwd=self.cwd)
        threading.Thread(target=self._read_stderr, daemon=True).start()
        if self.expect_listening:
            if not self._listening.wait(self.start_timeout):
                self.stop()
                raise RuntimeError("vschost did not start listening:\n" + self.stderr_text())

    def _read_stderr(self):
        for raw in self.proc.stderr:
            line = raw.decode(errors="replace").rstrip("\n")
            with self._lock:
                self.stderr_lines.append(line)
            m = re.match(r"vschost: listening on (\S+)", line)
            if m:
                self.addresses.append(m.group(1))
                if len(self.addresses) >= len(self.listen):
                    self._listening.set()

    def stderr_text(self):
        with self._lock:
            return "\n".join(self.stderr_lines)

    def wait_stderr(self, text, timeout=10.0):
        """True once `text` appears on vschost's stderr (read by a thread, so a
        line logged just now may not be there yet on a loaded machine)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.stderr_text():
                return True
            time.sleep(0.05)
        return text in self.stderr_text()

    def stdout_text(self):
        self._stdout.seek(0)
        return self._stdout.read().decode(errors="replace")

    def connect(self, timeout=10.0):
        host, port = self.addresses[0].rsplit(":", 1)
        host = host.strip("[]")
        return socket.create_connection((host, int(port)), timeout=timeout)

    def wait(self, timeout=30.0):
        return self.proc.wait(timeout)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        processes.stop(self.proc)
