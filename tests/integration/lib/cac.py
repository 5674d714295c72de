# SPDX-License-Identifier: LGPL-2.1-or-later
"""CAC card operations over a VSCard host connection (what a guest's driver does).

Facts from libcacard's src/cac.c: PKI applets A0 00 00 00 79 01 0x; READ BUFFER
(INS 52) reads the value buffer, which starts with its length (2 bytes, little
endian), a CertInfo byte and the DER certificate; SIGN/DECRYPT (INS 42) takes
the 256-byte RSA block in chained parts (P1 80, last part P1 00) and returns the
raw RSA result.
"""
import hashlib

import vscard_peer as vp

PKI_AIDS = [bytes.fromhex("A00000007901%02X" % i) for i in range(3)]
SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")


def xfr(peer, apdu, reader_id=0):
    peer.send(vp.apdu(apdu, reader_id))
    mtype, rid, payload = peer.recv()
    if mtype != vp.APDU:
        raise AssertionError(f"expected an APDU response, got {vp.TYPE_NAMES.get(mtype, mtype)}"
                             f" {payload.hex()}")
    return payload


def xfr_all(peer, apdu, reader_id=0):
    """Sends `apdu`, follows 61XX with GET RESPONSE; returns (data, sw)."""
    r = xfr(peer, apdu, reader_id)
    data = b""
    while len(r) >= 2 and r[-2] == 0x61:
        data += r[:-2]
        r = xfr(peer, bytes([0x00, 0xC0, 0x00, 0x00, r[-1]]), reader_id)
    return data + r[:-2], r[-2:]


def select(peer, aid):
    return xfr_all(peer, bytes([0x00, 0xA4, 0x04, 0x00, len(aid)]) + aid)


def read_certificate(peer):
    """READ BUFFER of the selected PKI applet's value buffer -> DER certificate."""
    buf = b""
    while True:
        data, sw = xfr_all(peer, bytes([0x80, 0x52, len(buf) >> 8, len(buf) & 0xFF, 2, 2, 0xFF]))
        assert sw == b"\x90\x00", sw.hex()
        buf += data
        if len(data) < 0xFF:
            break
    assert len(buf) >= 2 + int.from_bytes(buf[:2], "little"), "short value buffer"
    der = buf[3:]
    assert der[:2] == b"\x30\x82", der[:4].hex()
    return der[:4 + int.from_bytes(der[2:4], "big")]


def sign_sha256(peer, message):
    """PKCS#1 v1.5 SHA-256 signature of `message` by the selected PKI applet's key."""
    info = SHA256_DIGEST_INFO + hashlib.sha256(message).digest()
    block = b"\x00\x01" + b"\xff" * (256 - 3 - len(info)) + b"\x00" + info
    r = xfr(peer, bytes([0x80, 0x42, 0x80, 0x00, 0xFF]) + block[:0xFF])
    assert r == b"\x90\x00", r.hex()
    sig, sw = xfr_all(peer, bytes([0x80, 0x42, 0x00, 0x00, 1]) + block[0xFF:] + b"\x00")
    assert sw == b"\x90\x00", sw.hex()
    return sig
