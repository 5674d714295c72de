#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""How long a real client's TLS handshake with vschost takes while N other
connections stall mid-handshake (issue 18). A benchmark, not a test.

    tests/bench/tls_stalled_handshakes.py [--build-dir build] [--stalled 200] [--rounds 3]

For each kind of stalled peer (sends nothing; a whole ClientHello; half a
ClientHello) it opens N such connections to one vschost --tls-creds, waits
half a second, then times a mutual-TLS handshake of Python's ssl client
(connect to handshake done). The figure with no stalled peer is the baseline.
Prints one line per case, seconds (median of --rounds).
"""
import argparse
import os
import socket
import ssl
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration", "lib"))
import tls_certs  # noqa: E402
from vschost_proc import VschostProcess  # noqa: E402


def client_context(dir):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.load_verify_locations(os.path.join(dir, "ca-cert.pem"))
    ctx.load_cert_chain(os.path.join(dir, "client-cert.pem"), os.path.join(dir, "client-key.pem"))
    return ctx


def client_hello(ctx):
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def handshake_seconds(ctx, port, limit=60.0):
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=limit) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost"):
            return time.monotonic() - start


def one_case(host_dir, ctx, stalled, payload):
    # A fresh vschost per case, so no case inherits another's stalled peers.
    with VschostProcess(["--tls-creds", host_dir, "--max-clients", str(stalled + 16)]) as host:
        held = []
        try:
            for _ in range(stalled):
                s = socket.create_connection(("127.0.0.1", host.port), timeout=10)
                if payload:
                    s.sendall(payload)
                held.append(s)
            time.sleep(0.5)
            return handshake_seconds(ctx, host.port)
        finally:
            for s in held:
                s.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-dir", default=os.environ.get("VSCARD_BUILD_DIR", "build"))
    parser.add_argument("--stalled", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    os.environ["VSCARD_BUILD_DIR"] = args.build_dir
    with tempfile.TemporaryDirectory(prefix="tls-stall-bench-") as tmp:
        host_dir = os.path.join(tmp, "host")
        tls_certs.make_ca(host_dir, "bench CA")
        tls_certs.issue(host_dir, host_dir, "server", "localhost", san="DNS:localhost,IP:127.0.0.1")
        client = os.path.join(tmp, "client")
        tls_certs.client_dir(host_dir, client, with_client_cert=True)
        ctx = client_context(client)
        hello = client_hello(ctx)
        cases = [("no stalled peer (baseline)", 0, b""),
                 (f"{args.stalled} silent peers", args.stalled, b""),
                 (f"{args.stalled} whole ClientHellos", args.stalled, hello),
                 (f"{args.stalled} half ClientHellos", args.stalled, hello[:len(hello) // 2])]
        for name, count, payload in cases:
            times = [one_case(host_dir, ctx, count, payload) for _ in range(args.rounds)]
            print(f"{name:32s} handshake {statistics.median(times):7.3f} s "
                  f"(min {min(times):.3f}, max {max(times):.3f}, {args.rounds} rounds)", flush=True)


if __name__ == "__main__":
    main()
