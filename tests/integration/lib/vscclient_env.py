# SPDX-License-Identifier: LGPL-2.1-or-later
"""Runs vscclient against a host played by the test (Python standard library only).

    with ScriptedHost() as host, Vscclient(["--soft-card"], host.port) as client:
        peer = host.accept()                       # vscard_peer.Peer on the host side
        name, atr = host_handshake(peer)           # Init both ways, ReaderAdd, ATR

Every vscclient gets its own XDG_CACHE_HOME (so --soft-card builds its database
there) unless the test passes one. Processes started here are killed in close().
"""
import os
import socket
import subprocess
import tempfile

import vscard_peer as vp
from build_tree import program_path
import processes


class ScriptedHost:
    """A listening socket on 127.0.0.1 (or ::1); accept() gives a Peer."""

    def __init__(self, host="127.0.0.1", port=0):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(8)
        self.host = host
        self.port = self.sock.getsockname()[1]

    @classmethod
    def on_port(cls, port, host="127.0.0.1"):
        """A host restarted on the port an earlier one used."""
        return cls(host, port)

    def accept(self, timeout=20.0):
        self.sock.settimeout(timeout)
        conn, _ = self.sock.accept()
        conn.settimeout(timeout)
        return vp.Peer(conn)

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def host_handshake(peer, caps=(0,), reader_id=0, accept_atr=True):
    """Plays QEMU's side up to the card: returns (reader name, ATR bytes)."""
    mtype, _, payload = peer.expect(vp.INIT)
    assert payload[:4] == vp.MAGIC, payload
    peer.send(vp.init(caps=caps))
    _, _, name = peer.expect(vp.READER_ADD)
    peer.send(vp.error(vp.SUCCESS, reader_id))
    _, rid, atr = peer.expect(vp.ATR)
    assert rid == reader_id, rid
    peer.send(vp.error(vp.SUCCESS if accept_atr else vp.GENERAL_ERROR, reader_id))
    return name.rstrip(b"\0").decode(), atr


class Vscclient:
    """A vscclient process; stdin is a pipe for commands; output is collected."""

    def __init__(self, args, port=None, host="127.0.0.1", cache_dir=None, env=None,
                 positional=True, cwd=None):
        self._tmp = tempfile.TemporaryDirectory(prefix="vscclient-test-")
        self.cache_dir = cache_dir or os.path.join(self._tmp.name, "cache")
        e = dict(os.environ)
        e["XDG_CACHE_HOME"] = self.cache_dir
        e.pop("G_MESSAGES_DEBUG", None)
        if env:
            e.update(env)
        argv = [program_path("vscclient")] + list(args)
        if positional and port is not None:
            argv += [host, str(port)]
        self.argv = argv
        self.out_path = os.path.join(self._tmp.name, "stdout")
        self.err_path = os.path.join(self._tmp.name, "stderr")
        self._out = open(self.out_path, "wb")
        self._err = open(self.err_path, "wb")
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=self._out,
                                     stderr=self._err, env=e, cwd=cwd)

    def command(self, line):
        self.proc.stdin.write((line + "\n").encode())
        self.proc.stdin.flush()

    def stdout(self):
        with open(self.out_path, "rb") as f:
            return f.read().decode(errors="replace")

    def stderr(self):
        with open(self.err_path, "rb") as f:
            return f.read().decode(errors="replace")

    def wait_output(self, text, timeout=20.0, stream="stdout"):
        read = self.stdout if stream == "stdout" else self.stderr
        got = processes.poll_output(self.proc, read, lambda out: (out,) if text in out else None,
                                    timeout)
        if got is not None:
            return got[0]
        raise AssertionError(f"{text!r} not in {stream}: stdout={self.stdout()!r} "
                             f"stderr={self.stderr()!r}")

    def wait(self, timeout=20.0):
        return self.proc.wait(timeout)

    def close(self):
        processes.kill(self.proc)
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        self._out.close()
        self._err.close()
        self._tmp.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
