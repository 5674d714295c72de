# SPDX-License-Identifier: LGPL-2.1-or-later
"""Starting and stopping the processes a test runs: the one place that does it.

    p = LoggedProcess([program, "-v"], "/tmp/x/prog.log")   # output to a log file
    p.wait_output(r"listening on (\\S+)")
    p.stop()                                                # SIGTERM, then SIGKILL

    stop(popen)      # any subprocess.Popen: SIGTERM, wait, SIGKILL after `timeout` s
    kill(popen)      # SIGKILL at once and reap

Each acts on the one process it is given (by its PID), never on a name: other
checkouts run the same programs on this machine at the same time.
"""
import os
import re
import signal
import subprocess
import time


def stop(proc, timeout=10):
    """Ends `proc` (a subprocess.Popen, or None): SIGTERM, then SIGKILL if it has
    not exited within `timeout` s. Reaps it either way."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)


def kill(proc):
    """Ends `proc` with SIGKILL at once (a crash, as far as its peers can tell)."""
    if proc is not None and proc.poll() is None:
        proc.kill()
        proc.wait()


def poll_output(proc, read, match, timeout):
    """Calls match(read()) every 50 ms until it gives a true value, which is
    returned; None once `proc` has exited without it or `timeout` s passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = match(read())
        if found:
            return found
        if proc.poll() is not None:
            return None
        time.sleep(0.05)
    return None


class LoggedProcess:
    """A program whose output goes to a log file; ended by stop()."""

    def __init__(self, argv, log_path, env=None, stdin=subprocess.DEVNULL):
        self.argv = argv
        self.log_path = log_path
        self._log = open(log_path, "ab")
        self.proc = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=stdin, env=env or os.environ)

    @property
    def pid(self):
        return self.proc.pid

    def output(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_output(self, pattern, timeout=30):
        """Waits until the log matches `pattern` (a regex); returns the match."""
        m = poll_output(self.proc, self.output, lambda text: re.search(pattern, text), timeout)
        if m:
            return m
        raise AssertionError(f"{pattern!r} not in the output of {self.argv[0]} "
                             f"(exit {self.proc.poll()}):\n{self.output()[-3000:]}")

    def command(self, line):
        self.proc.stdin.write((line + "\n").encode())
        self.proc.stdin.flush()

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        stop(self.proc)
        if self.proc.stdin:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        self._log.close()
