# SPDX-License-Identifier: LGPL-2.1-or-later
"""End to end with a real QEMU guest, part 2: vscclient -> QEMU -> guest.

vscclient feeds the card (--soft-card, --pcsc from the host's pcscd + vpcd,
TLS, stdin commands, reconnect after a QEMU restart; test_qemu_controllers.py
has vicc's T=1-only card, the response sizes QEMU mishandles and both USB
controllers) and the guest's own
pcscd and OpenSC use it; the host checks what the guest printed (openssl
verifies the guest's signature). The guest and runner are in qemu/ and are
tested on their own by test_qemu_guest.py.
"""
import os
import re
import subprocess
import time
import unittest

import guest_runner
from guest_testing import GET_CHALLENGE, GUEST_TIMEOUT, report
from vscclient_guest import VscclientGuestCase


class VscclientGuestTest(VscclientGuestCase):
    """vscclient -> QEMU -> guest."""

    def test_soft_card_cac_certificates_and_signature(self):
        vm = self.boot(["info", "objects", "sign"], pin="77777777")
        self.vscclient("--soft-card", "127.0.0.1", str(vm.port))
        result = self.finish(vm)
        self.assert_soft_card_used(result)

    def test_pcsc_bridge_apdus_reach_host_card(self):
        # A T=0 card in the host's vpcd reader (lib/vpcd_card.py: GET CHALLENGE
        # gives random bytes, READ BINARY a counting pattern, anything else
        # 6D00), bridged by vscclient --pcsc into the guest, where OpenSC sends
        # SELECT, GET CHALLENGE and a READ BINARY whose 200-byte answer spans
        # several 64-byte USB packets.
        env, pcsc_env = self.host_pcsc()
        env.start_scripted_card(0, atr="3B021450")
        env.wait_card(0)
        vm = self.boot(["atr", "apdu"], apdus=f"00A4000C023F00,{GET_CHALLENGE},00B00000C8")
        self.vscclient(f"--pcsc={pcsc_env.reader_name(0)}", "127.0.0.1", str(vm.port))
        result = self.finish(vm)
        self.assertEqual(result.step("atr").output.strip(), "3b:02:14:50", result.console)
        answers = guest_runner.parse_apdu_output(result.step("apdu").output)
        self.assertEqual([sw for _, sw in answers], ["6D00", "9000", "9000"], result.console)
        self.assertEqual(len(answers[1][0]), 16)
        self.assertEqual(answers[2][0], "".join(f"{i:02X}" for i in range(200)))

    def test_tls_with_client_certificate(self):
        pki = TlsPki(self.tmp)
        vm = self.boot(["atr"], tls_dir=pki.server_dir)
        c = self.vscclient("--soft-card", "--tls-creds", pki.client_dir("good", pki.ca),
                           "--tls-hostname", "localhost", "127.0.0.1", str(vm.port))
        result = self.finish(vm)
        self.assertEqual(result.status, "ok", result.console + c.output())
        self.assertEqual(result.step("atr").rc, 0)

    def assert_tls_refused(self, pki, creds):
        """QEMU (verify-peer=on) refuses the client; vscclient exits non-zero
        and its error line says it was about TLS or the certificate. A paused
        QEMU (-S) is enough: its chardev and TLS run without the guest."""
        vm = self.boot(["atr"], tls_dir=pki.server_dir, extra_args=["-S"])
        c = self.vscclient("--soft-card", "--no-reconnect", "--tls-creds", creds,
                           "--tls-hostname", "localhost", "127.0.0.1", str(vm.port))
        rc = c.wait_exit(60)
        self.assertIsNotNone(rc, "vscclient still running:\n" + c.output())
        self.assertNotEqual(rc, 0, c.output())
        # Informational lines ("vscclient: connected ... (TLS)") don't count:
        # the error or warning itself must say why.
        errors = [line for line in c.output().splitlines()
                  if re.match(r"^vscclient: (error|warning): ", line)]
        self.assertRegex("\n".join(errors), r"(?i)certificate|\bTLS\b", c.output())

    def test_tls_refused_without_client_certificate(self):
        pki = TlsPki(self.tmp)
        self.assert_tls_refused(pki, pki.client_dir("none", pki.ca, with_cert=False))

    def test_tls_refused_with_certificate_from_another_ca(self):
        pki = TlsPki(self.tmp)
        self.assert_tls_refused(pki, pki.client_dir("other", pki.other_ca))

    def test_card_removal_and_insertion_via_stdin(self):
        vm = self.boot(["watch"], watch=150)
        c = self.vscclient("--soft-card", "127.0.0.1", str(vm.port))
        vm.wait_for(r"@@VSCARD card present", GUEST_TIMEOUT)
        c.command("remove")
        vm.wait_for(r"@@VSCARD card absent", 60)
        c.command("insert")
        states = self._wait_states(vm, ["present", "absent", "present"], 60)
        self.assertEqual(states, ["present", "absent", "present"], c.output())

    def _wait_states(self, vm, want, timeout):
        deadline = time.monotonic() + timeout
        while True:
            states = [rest.split()[0] for ev, rest, _ in vm.result().marks if ev == "card"]
            if states[:len(want)] == want or time.monotonic() > deadline:
                return states
            time.sleep(0.5)

    def test_qemu_restart_vscclient_reconnects(self):
        vm1 = self.boot(["atr"])
        port = vm1.port
        c = self.vscclient("--soft-card", "127.0.0.1", str(port))
        first = self.finish(vm1)
        self.assertEqual(first.status, "ok", first.console + c.output())
        self.assertIsNone(c.proc.poll(), "vscclient exited when QEMU went away:\n" + c.output())
        vm2 = self.boot(["atr"], port=port, wait=90)
        second = self.finish(vm2)
        self.assertEqual(second.status, "ok", second.console + c.output())
        self.assertEqual(second.step("atr").output.strip(), first.step("atr").output.strip())
        report("QEMU restart to card in the new guest", vm2.seconds_until("@@VSCARD card-present"))


class TlsPki:
    """A CA, QEMU's server credentials, and client credentials, made with
    openssl in the layout of QEMU's tls-creds-x509 (ca-cert.pem, server-cert.pem,
    server-key.pem; client-cert.pem, client-key.pem)."""

    def __init__(self, tmp):
        self.tmp = os.path.join(tmp, "pki")
        os.makedirs(self.tmp)
        self.ca = self._ca("ca")
        self.other_ca = self._ca("other-ca")
        self.server_dir = os.path.join(self.tmp, "server")
        os.makedirs(self.server_dir)
        self._copy(self.ca[0], os.path.join(self.server_dir, "ca-cert.pem"))
        self._leaf(self.ca, "localhost", os.path.join(self.server_dir, "server"),
                   "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth")

    def _run(self, *args):
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    def _copy(self, src, dst):
        with open(src, "rb") as f, open(dst, "wb") as g:
            g.write(f.read())

    def _ca(self, name):
        cert, key = os.path.join(self.tmp, f"{name}.pem"), os.path.join(self.tmp, f"{name}.key")
        self._run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                  "-days", "2", "-subj", f"/CN=vscard test {name}",
                  "-addext", "basicConstraints=critical,CA:TRUE",
                  "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        return cert, key

    def _leaf(self, ca, cn, prefix, ext):
        key, csr, cert = prefix + "-key.pem", prefix + ".csr", prefix + "-cert.pem"
        extfile = prefix + ".ext"
        with open(extfile, "w") as f:
            f.write(ext + "\n")
        self._run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
                  "-subj", f"/CN={cn}")
        self._run("x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1],
                  "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", extfile)

    def client_dir(self, name, ca, with_cert=True):
        d = os.path.join(self.tmp, f"client-{name}")
        os.makedirs(d)
        self._copy(self.ca[0], os.path.join(d, "ca-cert.pem"))  # trusts QEMU's CA
        if with_cert:
            self._leaf(ca, f"vscclient {name}", os.path.join(d, "client"),
                       "extendedKeyUsage=clientAuth")
        return d


if __name__ == "__main__":
    unittest.main()

