# SPDX-License-Identifier: LGPL-2.1-or-later
"""`vscclient HOST PORT` with no card option, and `vscclient --list`
(vscclient(1), CARD SOURCES): with a PC/SC reader holding a card (pcscd +
vpcd/vicc through lib/pcsc_env.py) it bridges the readers; else a CAC from the
certificates with keys in ~/.pki/nssdb (an NSS database made here by certutil);
else it says there is no card and names the options, without connecting. A
database with a password (certutil -N -f) hides its keys until a login: the
line says so and names --nss-db DIR -c NAME, which works with the guest's PIN
as the database password (libcacard's vcard_emul_login: PK11_Authenticate).
pcscd is made unreachable for the NSS cases with PCSCLITE_CSOCK_NAME, which
libpcsclite reads for its socket path."""
import os
import shutil
import subprocess
import tempfile
import unittest

from build_tree import program, program_path
import cac
import openssl_check
import vscard_peer as vp
from pcsc_env import PcscEnv, reader_name
from vscclient_env import ScriptedHost, Vscclient, host_handshake


def setUpModule():
    if program("vscclient") is None:
        raise unittest.SkipTest("vscclient is not built")
    if shutil.which("certutil") is None:
        raise unittest.SkipTest("certutil is not installed (package libnss3-tools)")
    if not openssl_check.available():
        raise unittest.SkipTest("openssl is not installed (package openssl)")


def run(argv, **kw):
    return subprocess.run(argv, check=True, capture_output=True, **kw)


class NoPcscTest(unittest.TestCase):
    """pcscd unreachable; HOME is a fresh directory (no ~/.pki/nssdb unless made)."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="vscclient-default-")
        self.addCleanup(self.tmp.cleanup)
        self.home = os.path.join(self.tmp.name, "home")
        os.mkdir(self.home)
        self.env = {"HOME": self.home,
                    "PCSCLITE_CSOCK_NAME": os.path.join(self.tmp.name, "no-pcscd.comm")}
        if os.path.exists("/etc/pki/nssdb/cert9.db"):
            self.skipTest("/etc/pki/nssdb exists here: the default would use it")

    def make_user_db(self, nickname="alice-id"):
        db = os.path.join(self.home, ".pki", "nssdb")
        os.makedirs(db)
        run(["certutil", "-N", "-d", "sql:" + db, "--empty-password"])
        noise = os.path.join(self.tmp.name, "noise")
        with open(noise, "wb") as f:
            f.write(os.urandom(64))
        run(["certutil", "-S", "-d", "sql:" + db, "-n", nickname, "-s", "CN=Alice ID,O=vscard test",
             "-x", "-t", "u,u,u", "-k", "rsa", "-g", "2048", "-z", noise])
        # A CA certificate without its key (made in another database, then
        # imported alone): listed, not put on the card.
        other = os.path.join(self.tmp.name, "other-db")
        os.mkdir(other)
        run(["certutil", "-N", "-d", "sql:" + other, "--empty-password"])
        run(["certutil", "-S", "-d", "sql:" + other, "-n", "some-ca", "-s", "CN=Some CA",
             "-x", "-t", "C,,", "-k", "rsa", "-g", "2048", "-z", noise])
        pem = run(["certutil", "-L", "-d", "sql:" + other, "-n", "some-ca", "-a"]).stdout
        ca = os.path.join(self.tmp.name, "some-ca.pem")
        with open(ca, "wb") as f:
            f.write(pem)
        run(["certutil", "-A", "-d", "sql:" + db, "-n", "some-ca", "-t", "C,,", "-a", "-i", ca])
        return db

    PASSWORD = "pw123456"   # 8 bytes: a CAC PIN (VERIFY pads shorter ones with FF)

    def make_locked_user_db(self):
        db = os.path.join(self.home, ".pki", "nssdb")
        os.makedirs(db)
        pwfile = os.path.join(self.tmp.name, "password")
        with open(pwfile, "w") as f:
            f.write(self.PASSWORD + "\n")
        run(["certutil", "-N", "-d", "sql:" + db, "-f", pwfile])
        noise = os.path.join(self.tmp.name, "noise")
        with open(noise, "wb") as f:
            f.write(os.urandom(64))
        run(["certutil", "-S", "-d", "sql:" + db, "-f", pwfile, "-n", "bob-id",
             "-s", "CN=Bob ID,O=vscard test", "-x", "-t", "u,u,u", "-k", "rsa", "-g", "2048",
             "-z", noise])
        return db

    def test_password_protected_database_is_named(self):
        db = self.make_locked_user_db()
        with ScriptedHost() as host, Vscclient([], host.port, env=self.env) as c:
            self.assertEqual(c.wait(), 1)
            err = c.stderr()
        errors = [line for line in err.splitlines() if line.startswith("vscclient: error: ")]
        self.assertEqual(len(errors), 1, err)
        self.assertIn(f"{db} has a password, which hides its keys", errors[0])
        self.assertIn(f"--nss-db {db} -c NAME", errors[0])
        r = subprocess.run([program_path("vscclient"), "--list"], capture_output=True, text=True,
                           env=dict(os.environ, **self.env), timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("  password-protected: private keys are hidden until a login", r.stdout)

    def test_password_protected_database_works_as_the_line_says(self):
        db = self.make_locked_user_db()
        with ScriptedHost() as host, \
                Vscclient(["--nss-db", db, "-c", "bob-id"], host.port, env=self.env):
            peer = host.accept()
            host_handshake(peer)
            _, sw = cac.select(peer, cac.PKI_AIDS[0])
            self.assertEqual(sw, b"\x90\x00")
            der = cac.read_certificate(peer)
            self.assertEqual(openssl_check.subject(der), "CN=Bob ID,O=vscard test")
            # libcacard verifies P2 00 (test_card_control: 00 20 00 00).
            wrong = b"12345678"
            _, sw = cac.xfr_all(peer, bytes([0x00, 0x20, 0x00, 0x00, len(wrong)]) + wrong)
            self.assertNotEqual(sw, b"\x90\x00", "VERIFY with another PIN")
            pin = self.PASSWORD.encode()
            _, sw = cac.xfr_all(peer, bytes([0x00, 0x20, 0x00, 0x00, len(pin)]) + pin)
            self.assertEqual(sw, b"\x90\x00", "VERIFY with the database password")
            self.assertEqual(len(cac.sign_sha256(peer, b"vscard")), 256)

    def test_no_card_anywhere_says_so_and_does_not_connect(self):
        with ScriptedHost() as host, Vscclient([], host.port, env=self.env) as c:
            self.assertEqual(c.wait(), 1)
            err = c.stderr()
            with self.assertRaises(Exception):
                host.accept(timeout=0.5)
        self.assertIn("vscclient: error: no card to offer: pcscd cannot be reached", err)
        for option in ("--soft-card", "--pcsc", "--vicc", "--nss-db DIR -c NAME", "--list"):
            self.assertIn(option, err)
        self.assertNotIn("connected", err)

    def test_user_nss_database_becomes_the_card(self):
        db = self.make_user_db()
        with ScriptedHost() as host, Vscclient([], host.port, env=self.env) as c:
            peer = host.accept()
            name, _ = host_handshake(peer)
            self.assertEqual(name, "Virtual Reader")
            _, sw = cac.select(peer, cac.PKI_AIDS[0])
            self.assertEqual(sw, b"\x90\x00")
            der = cac.read_certificate(peer)
            self.assertEqual(openssl_check.subject(der), "CN=Alice ID,O=vscard test")
            err = c.stderr()
        self.assertIn(f"vscclient: no card option: emulating a CAC with the certificates alice-id "
                      f"from {db}", err)

    def test_nickname_libcacard_cannot_carry_is_skipped_and_named(self):
        # NSS nicknames are free text ("Doe, John (ID)" is common), but
        # libcacard's soft=(...) list ends a name at ',' or ')' and has no
        # quoting: such a certificate is skipped with a line saying why and how
        # to rename it (it made vscclient fail with "bad emulator arguments
        # (-e)", an option the user never gave); the other one is the card.
        db = self.make_user_db()
        noise = os.path.join(self.tmp.name, "noise")
        run(["certutil", "-S", "-d", "sql:" + db, "-n", "Doe, John (ID)", "-s", "CN=John Doe",
             "-x", "-t", "u,u,u", "-k", "rsa", "-g", "2048", "-z", noise])
        with ScriptedHost() as host, Vscclient([], host.port, env=self.env) as c:
            peer = host.accept()
            host_handshake(peer)
            _, sw = cac.select(peer, cac.PKI_AIDS[0])
            self.assertEqual(sw, b"\x90\x00")
            self.assertEqual(openssl_check.subject(cac.read_certificate(peer)),
                             "CN=Alice ID,O=vscard test")
            err = c.stderr()
        self.assertIn("the certificate nickname 'Doe, John (ID)' cannot be passed to libcacard", err)
        self.assertIn("certutil --rename", err)
        self.assertIn("emulating a CAC with the certificates alice-id from", err)
        # Named with -c, it is refused before connecting, with the same reason.
        with ScriptedHost() as host, Vscclient(["--nss-db", db, "-c", "Doe, John (ID)"], host.port,
                                               env=self.env) as c:
            self.assertEqual(c.wait(), 1)
            self.assertIn("vscclient: error: -c: the certificate nickname 'Doe, John (ID)' cannot",
                          c.stderr())

    def test_list_shows_tokens_and_certificates(self):
        db = self.make_user_db()
        r = subprocess.run([program_path("vscclient"), "--list"], capture_output=True, text=True,
                           env=dict(os.environ, **self.env), timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("PC/SC readers:\n  none: pcscd cannot be reached", r.stdout)
        self.assertIn(f"NSS database {db}:", r.stdout)
        self.assertIn("  token: NSS Certificate DB", r.stdout)
        self.assertIn("  certificate: alice-id  CN=Alice ID,O=vscard test  (with its private key",
                      r.stdout)
        self.assertRegex(r.stdout, r"certificate: some-ca  CN=Some CA\n")


class PcscReaderTest(unittest.TestCase):
    def setUp(self):
        self.pcsc = PcscEnv()        # skips with the reason if pcscd/vicc cannot run
        self.addCleanup(self.pcsc.close)
        self.pcsc.start()
        self.pcsc.start_vicc(0)
        self.pcsc.wait_card(0)

    def test_list_shows_readers_atrs_and_pattern_matches(self):
        r = subprocess.run([program_path("vscclient"), "--list", "--pcsc=" + reader_name(0)],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, rf"  {reader_name(0)}: card, ATR [0-9A-F ]+  "
                                   rf"\(matches --pcsc={reader_name(0)}\)\n")
        self.assertIn(f"  {reader_name(1)}: no card\n", r.stdout)

    def test_default_is_the_pcsc_readers(self):
        with ScriptedHost("127.0.0.1") as host, Vscclient([], host.port) as c:
            peer = host.accept(timeout=30)
            peer.expect(vp.INIT)
            peer.send(vp.init(caps=(0,)))
            _, _, name = peer.expect(vp.READER_ADD)
            self.assertEqual(name.rstrip(b"\0").decode(), reader_name(0))
            c.wait_output("no card option: bridging the 2 PC/SC reader(s)", stream="stderr")


if __name__ == "__main__":
    unittest.main()
