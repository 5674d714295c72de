# SPDX-License-Identifier: LGPL-2.1-or-later
"""Plays scripted client conversations against a VSCard host and records its replies.

A conversation is a list of steps: Send(bytes) writes bytes and (unless
settle=False) collects what the host answers until it has been quiet for a
moment; Reconnect() closes the connection and opens a new one. The transcript
records, per step, the bytes the host sent and whether it closed the connection,
so two hosts (QEMU and vschost --mode qemu) can be compared byte for byte.
"""
import socket
from dataclasses import dataclass, field

from vscard_peer import describe

# How long the host must stay silent before a step's reply counts as complete.
# Both hosts answer synchronously; this only bounds the wait.
DEFAULT_QUIET = 0.25
# The wait for late bytes after a conversation's last step.
FINAL_QUIET = 1.0


@dataclass
class Send:
    data: bytes
    settle: bool = True


@dataclass
class Reconnect:
    pass


@dataclass
class Conversation:
    name: str
    steps: list
    doc: str = ""


@dataclass
class Transcript:
    # One entry per step: (connection number, step number, reply bytes, closed after it)
    entries: list = field(default_factory=list)

    def comparable(self):
        """Per connection: every byte the host sent, in order, and whether it closed.

        Which step a reply lands in depends on scheduling (a loaded machine can
        delay a reply past the quiet window), so steps are for reading, not
        for comparing; the byte stream and the close are what the host decides."""
        out = {}
        for c, _, r, closed in self.entries:
            data, was_closed = out.get(c, (b"", False))
            out[c] = (data + r, was_closed or closed)
        return sorted(out.items())

    def summary(self):
        """Per connection: how many bytes the host sent and whether it closed."""
        return [(c, len(data), closed) for c, (data, closed) in self.comparable()]

    def render(self):
        lines = []
        for c, s, r, closed in self.entries:
            lines.append(f"  conn {c} step {s}: {describe(r)}{' [closed]' if closed else ''}")
        return "\n".join(lines)


def _drain(sock, quiet):
    """Reads until the host is quiet for `quiet` seconds or closes. Returns (bytes, closed)."""
    out = b""
    sock.settimeout(quiet)
    while True:
        try:
            data = sock.recv(65536)
        except socket.timeout:
            return out, False
        except (ConnectionResetError, BrokenPipeError):
            return out, True
        if not data:
            return out, True
        out += data


def play(connect, conversation, quiet=DEFAULT_QUIET, final_quiet=FINAL_QUIET):
    """Plays `conversation` using connect() -> socket. Returns a Transcript.

    `quiet` bounds the wait after each step; `final_quiet` the wait for late
    bytes before a Reconnect closes the connection and after the last step.

    After the host closes, the remaining sends of that connection are skipped
    (recorded with empty replies) and the next Reconnect opens a fresh one."""
    t = Transcript()
    conn_no = 0
    sock = connect()
    closed = False
    pending = b""  # bytes received during settle=False sends
    try:
        for step_no, step in enumerate(conversation.steps):
            if isinstance(step, Reconnect):
                if not closed:
                    # Late bytes of this connection would be lost with it.
                    got, closed = _drain(sock, final_quiet)
                    pending += got
                if pending:
                    t.entries.append((conn_no, step_no, pending, closed))
                    pending = b""
                sock.close()
                conn_no += 1
                sock = connect()
                closed = False
                t.entries.append((conn_no, step_no, b"", False))
                continue
            if closed:
                t.entries.append((conn_no, step_no, b"", True))
                continue
            try:
                sock.sendall(step.data)
            except (BrokenPipeError, ConnectionResetError):
                closed = True
            if not step.settle and not closed:
                # Pick up what is already there without waiting, to keep buffers moving.
                got, closed = _drain(sock, 0.0001)
                pending += got
                continue
            got, now_closed = (b"", True) if closed else _drain(sock, quiet)
            closed = closed or now_closed
            t.entries.append((conn_no, step_no, pending + got, closed))
            pending = b""
        if not closed:
            # A loaded machine can pause a host longer than `quiet` mid-reply:
            # collect stragglers once more, with a longer window, before comparing.
            got, closed = _drain(sock, final_quiet)
            pending += got
        if pending:
            t.entries.append((conn_no, len(conversation.steps), pending, closed))
    finally:
        sock.close()
    return t
