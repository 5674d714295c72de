# SPDX-License-Identifier: LGPL-2.1-or-later
"""vscclient's -c/-e with NSS databases the test builds with certutil (package
libnss3-tools), their failure modes, and use_hw with a SoftHSM2 token (package
softhsm2) registered in the database with modutil.
"""
import os
import shutil
import subprocess
import tempfile
import unittest

from build_tree import program
import cac
import openssl_check
import vscard_peer as vp
from vscclient_env import ScriptedHost, Vscclient, host_handshake

SOFTHSM_LIB = "/usr/lib/softhsm/libsofthsm2.so"


def setUpModule():
    if program("vscclient") is None:
        raise unittest.SkipTest("vscclient is not built")
    for tool in ("certutil", "modutil"):
        if shutil.which(tool) is None:
            raise unittest.SkipTest(f"{tool} is not installed (package libnss3-tools)")
    if not openssl_check.available():
        raise unittest.SkipTest("openssl is not installed (package openssl)")


def run(argv, **kw):
    return subprocess.run(argv, check=True, capture_output=True, **kw)


class NssDatabase:
    """sql: NSS database with self-signed certificates made by certutil."""

    def __init__(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="vscclient-nssdb-")
        self.dir = os.path.join(self.tmp.name, "db")
        os.mkdir(self.dir)
        run(["certutil", "-N", "-d", "sql:" + self.dir, "--empty-password"])
        self.noise = os.path.join(self.tmp.name, "noise")
        with open(self.noise, "wb") as f:
            f.write(os.urandom(64))

    def add_cert(self, nickname, subject, token=None, password_file=None):
        argv = ["certutil", "-S", "-d", "sql:" + self.dir, "-n", nickname, "-s", subject,
                "-x", "-t", "u,u,u", "-k", "rsa", "-g", "2048", "-z", self.noise]
        if token:
            argv += ["-h", token, "-f", password_file]
        run(argv)

    def close(self):
        self.tmp.cleanup()


class CertOptionTest(unittest.TestCase):
    def setUp(self):
        self.db = NssDatabase()
        self.addCleanup(self.db.close)
        self.db.add_cert("alice-id", "CN=Alice ID,O=vscard test")
        self.db.add_cert("alice-sign", "CN=Alice Signature,O=vscard test")

    def test_e_and_c_like_the_anchor(self):
        args = ["-e", f'db="sql:{self.db.dir}"', "-c", "alice-id", "-c", "alice-sign"]
        with ScriptedHost() as host, Vscclient(args, host.port) as client:
            peer = host.accept()
            name, _ = host_handshake(peer)
            self.assertEqual(name, "Virtual Reader")
            subjects = []
            for aid in cac.PKI_AIDS[:2]:
                _, sw = cac.select(peer, aid)
                self.assertEqual(sw, b"\x90\x00")
                der = cac.read_certificate(peer)
                subjects.append(openssl_check.subject(der))
                sig = cac.sign_sha256(peer, b"hello " + aid)
                self.assertTrue(openssl_check.verify_sha256(der, b"hello " + aid, sig))
            self.assertEqual(subjects, ["CN=Alice ID,O=vscard test",
                                        "CN=Alice Signature,O=vscard test"])
            self.assertIsNone(client.proc.poll())

    def test_nss_db_and_cert_long_options(self):
        args = ["--nss-db", self.db.dir, "--cert", "alice-sign"]
        with ScriptedHost() as host, Vscclient(args, host.port):
            peer = host.accept()
            host_handshake(peer)
            cac.select(peer, cac.PKI_AIDS[0])
            self.assertEqual(openssl_check.subject(cac.read_certificate(peer)),
                             "CN=Alice Signature,O=vscard test")

    def test_wrong_certificate_name_is_a_clear_error(self):
        args = ["--nss-db", self.db.dir, "-c", "alice-id", "-c", "bob"]
        with Vscclient(args, 1) as client:
            self.assertEqual(client.wait(), 1)
            err = client.stderr()
            self.assertIn("certificate 'bob' is not in the NSS database", err)
            self.assertIn("certutil -L", err)

    def test_missing_database_is_a_clear_error(self):
        missing = os.path.join(self.db.tmp.name, "nowhere")
        with Vscclient(["-e", f'db="sql:{missing}"', "-c", "alice-id"], 1) as client:
            self.assertEqual(client.wait(), 1)
            err = client.stderr()
            self.assertIn(f"no NSS database in '{missing}'", err)
            self.assertIn("certutil -N", err)
            self.assertIn("--soft-card", err)

    def test_malformed_emul_args_are_refused_before_libcacard(self):
        # libcacard 2.8 reads past the end of a soft=( list without ')'.
        args = ["-e", f'db="sql:{self.db.dir}",soft=(,R,CAC,,alice-id']
        with Vscclient(args, 1) as client:
            self.assertEqual(client.wait(), 1)
            self.assertIn("missing its closing ')'", client.stderr())


class SoftHsmTest(unittest.TestCase):
    """use_hw: a PKCS#11 token in the NSS database appears as a CAC card."""

    def setUp(self):
        if not os.path.exists(SOFTHSM_LIB) or shutil.which("softhsm2-util") is None:
            self.skipTest("SoftHSM2 is not installed (package softhsm2)")
        self.db = NssDatabase()
        self.addCleanup(self.db.close)
        tokens = os.path.join(self.db.tmp.name, "tokens")
        os.mkdir(tokens)
        self.conf = os.path.join(self.db.tmp.name, "softhsm2.conf")
        with open(self.conf, "w") as f:
            # libcacard mirrors only removable slots (vcard_emul_nss.c, PK11_IsRemovable).
            f.write(f"directories.tokendir = {tokens}\nobjectstore.backend = file\n"
                    "log.level = ERROR\nslots.removable = true\n")
        self.env = dict(os.environ, SOFTHSM2_CONF=self.conf)
        run(["softhsm2-util", "--init-token", "--free", "--label", "vscard-token",
             "--so-pin", "12345678", "--pin", "1234"], env=self.env)
        run(["modutil", "-dbdir", "sql:" + self.db.dir, "-add", "softhsm", "-libfile",
             SOFTHSM_LIB, "-force"], env=self.env, input=b"\n")
        pw = os.path.join(self.db.tmp.name, "pin")
        with open(pw, "w") as f:
            f.write("1234\n")
        run(["certutil", "-S", "-d", "sql:" + self.db.dir, "-h", "vscard-token", "-f", pw,
             "-n", "hsmcert", "-s", "CN=vscard SoftHSM test", "-x", "-t", ",,", "-k", "rsa",
             "-g", "2048", "-z", self.db.noise], env=self.env)

    def test_token_certificate_appears_as_cac(self):
        args = ["-e", f'db="sql:{self.db.dir}" use_hw=removable']
        with ScriptedHost() as host, Vscclient(args, host.port, env=self.env) as client:
            peer = host.accept()
            peer.expect(vp.INIT)
            peer.send(vp.init())
            # SoftHSM offers the initialized token's slot and a free one: both
            # become readers; the token's reader gets a card (ATR).
            state = {"readers": {}, "atrs": {}, "next": 0}

            def answer_announcements(mtype, rid, payload):
                if mtype == vp.READER_ADD:
                    state["readers"][state["next"]] = payload.decode()
                    peer.send(vp.error(vp.SUCCESS, state["next"]))
                    state["next"] += 1
                    return True
                if mtype == vp.ATR:
                    state["atrs"][rid] = payload
                    peer.send(vp.error(vp.SUCCESS, rid))
                    return True
                return False

            while not state["atrs"]:
                answer_announcements(*peer.recv(timeout=20))
            (rid, _), = state["atrs"].items()
            self.assertIn("SoftHSM", state["readers"][rid])

            def xfr(apdu):
                peer.send(vp.apdu(apdu, rid))
                while True:
                    mtype, r_id, payload = peer.recv(timeout=20)
                    if answer_announcements(mtype, r_id, payload):
                        continue
                    self.assertEqual((mtype, r_id), (vp.APDU, rid))
                    return payload

            def xfr_all(apdu):
                r, data = xfr(apdu), b""
                while r[-2] == 0x61:
                    data += r[:-2]
                    r = xfr(bytes([0, 0xC0, 0, 0, r[-1]]))
                return data + r[:-2], r[-2:]

            _, sw = xfr_all(bytes([0, 0xA4, 4, 0, 7]) + cac.PKI_AIDS[0])
            self.assertEqual(sw, b"\x90\x00")
            buf = b""
            while True:
                data, sw = xfr_all(bytes([0x80, 0x52, len(buf) >> 8, len(buf) & 0xFF, 2, 2, 0xFF]))
                buf += data
                if len(data) < 0xFF:
                    break
            der = buf[3:3 + 4 + int.from_bytes(buf[5:7], "big")]
            self.assertEqual(openssl_check.subject(der), "CN=vscard SoftHSM test")
            self.assertIsNone(client.proc.poll(), client.stderr())


if __name__ == "__main__":
    unittest.main()
