# SPDX-License-Identifier: LGPL-2.1-or-later
"""Free TCP ports on the loopback, for tests that must name a port up front."""
import socket


def free_port():
    """A TCP port free on 127.0.0.1 now. Racy by nature: prefer letting the
    program bind port 0 and report its port; use this only for peers that cannot
    (vicc -R, QEMU's chardev, commands copied from the docs)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port
