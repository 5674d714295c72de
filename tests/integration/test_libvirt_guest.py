# SPDX-License-Identifier: LGPL-2.1-or-later
"""A guest booted through libvirt gets the card vscclient brings (docs/libvirt.md).

libvirtd runs here in session mode (qemu:///session) as the unprivileged user
`nobody`, with its own runtime and config directories under a temporary
directory: nothing of the machine's libvirt configuration is used or changed,
and no libvirt-daemon-system service is needed. The domain is docs/libvirt.md's
form in a q35 machine under TCG, with libvirt's default USB controller (it adds
qemu-xhci itself, checked in the live XML), booting the test guest's kernel and
initramfs (tests/integration/qemu/) with a serial console in a file. vscclient
--soft-card connects to the TCP chardev libvirt gave QEMU; the guest must list
the reader and read the soft card's ATR through pcscd and OpenSC.

The libvirt path adds nothing to memory safety over test_qemu_guest, so it runs
in the plain build only.
"""
import os
import pathlib
import shutil
import subprocess
import tempfile
import time
import unittest

from build_tree import is_sanitizer_build, program
import guest_runner
from guest_testing import GUEST_TIMEOUT, guest
from ports import free_port
import processes

SOFT_CARD_ATR = "3b:7a:18:00:00:73:66:74:65:20:63:64:31:34:34"
DOMAIN = "vscard-libvirt-test"

DOMAIN_XML = """<domain type='qemu'>
  <name>{name}</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
    <kernel>{kernel}</kernel>
    <initrd>{initrd}</initrd>
    <cmdline>console=ttyS0 quiet vscard.usb={usb_module} vscard.steps=readers,atr</cmdline>
  </os>
  <on_reboot>destroy</on_reboot>
  <devices>
    <controller type='ccid' index='0'/>
    <smartcard mode='passthrough' type='tcp'>
      <source mode='bind' host='127.0.0.1' service='{port}'/>
      <protocol type='raw'/>
      <address type='ccid' controller='0' slot='0'/>
    </smartcard>
    <serial type='file'>
      <source path='{console}'/>
      <target port='0'/>
    </serial>
  </devices>
</domain>
"""


class LibvirtGuestTest(unittest.TestCase):
    def setUp(self):
        self.vscclient = program("vscclient")
        if self.vscclient is None:
            self.skipTest("vscclient is not built")
        if is_sanitizer_build():
            self.skipTest("runs in the plain build only (see the module docstring)")
        for tool in ("/usr/sbin/libvirtd", "virsh", "setpriv"):
            if shutil.which(tool) is None:
                self.skipTest(f"{tool} is missing (libvirt-daemon, libvirt-daemon-driver-qemu, "
                              "libvirt-clients, util-linux: tests/ci-packages.txt)")
        if os.geteuid() != 0:
            self.skipTest("needs root to run libvirtd as the user nobody")
        g = guest()   # skips if QEMU or the guest kernel is not available
        self.tmp = tempfile.TemporaryDirectory(prefix="vscard-libvirt-")
        self.addCleanup(self.tmp.cleanup)
        self.root = pathlib.Path(self.tmp.name)
        os.chmod(self.root, 0o755)
        self.home = self.root / "home"
        self.runtime = self.root / "runtime"
        images = self.root / "images"
        for d in (self.home, self.runtime, images):
            d.mkdir()
        shutil.copy(g.kernel, images / "vmlinux")
        shutil.copy(g.initrd, images / "initrd.cpio")
        for p in (images / "vmlinux", images / "initrd.cpio"):
            os.chmod(p, 0o644)
        # nobody reads the images and writes the console (whatever our umask).
        os.chmod(images, 0o755)
        os.chmod(self.home, 0o755)
        os.chmod(self.runtime, 0o700)
        shutil.chown(self.home, "nobody", "nogroup")
        shutil.chown(self.runtime, "nobody", "nogroup")
        self.images = images
        self.libvirtd = subprocess.Popen(
            self.as_nobody("/usr/sbin/libvirtd"), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=open(self.root / "libvirtd.log", "wb"),
            start_new_session=True)
        self.addCleanup(self.stop_libvirtd)

    def as_nobody(self, *argv):
        return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "env",
                f"HOME={self.home}", f"XDG_RUNTIME_DIR={self.runtime}",
                f"XDG_CONFIG_HOME={self.home}/.config", f"XDG_CACHE_HOME={self.home}/.cache",
                *argv]

    def virsh(self, *args, check=True):
        r = subprocess.run(self.as_nobody("virsh", "-c", "qemu:///session", *args),
                           capture_output=True, text=True, timeout=120)
        if check and r.returncode != 0:
            log = (self.root / "libvirtd.log").read_text(errors="replace")[-3000:]
            raise AssertionError(f"virsh {' '.join(args)}: {r.stdout}{r.stderr}\n"
                                 f"libvirtd log:\n{log}")
        return r.stdout

    def stop_libvirtd(self):
        self.virsh("destroy", DOMAIN, check=False)
        self.virsh("undefine", DOMAIN, check=False)
        processes.stop(self.libvirtd, timeout=30)

    def test_q35_guest_reads_the_soft_card(self):
        deadline = time.monotonic() + 30
        while "Running hypervisor" not in self.virsh("version", check=False):
            self.assertIsNone(self.libvirtd.poll(), "libvirtd exited")
            self.assertLess(time.monotonic(), deadline, "libvirtd does not answer")
            time.sleep(0.2)
        port = free_port()
        console = self.home / "console.log"
        xml = self.root / "domain.xml"
        xml.write_text(DOMAIN_XML.format(
            name=DOMAIN, kernel=self.images / "vmlinux", initrd=self.images / "initrd.cpio",
            usb_module=guest_runner.USB_CONTROLLERS["xhci"][1], port=port, console=console))
        os.chmod(xml, 0o644)
        self.virsh("define", str(xml))
        live = self.virsh("dumpxml", DOMAIN)
        # libvirt's own default for q35: the reader goes on its qemu-xhci.
        self.assertIn("<controller type='usb' index='0' model='qemu-xhci'", live)
        started = time.monotonic()
        self.virsh("start", DOMAIN)
        env = dict(os.environ, XDG_CACHE_HOME=str(self.root / "client-cache"))
        client = subprocess.Popen([str(self.vscclient), "--soft-card", "127.0.0.1", str(port)],
                                  env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True)
        try:
            text = ""
            while time.monotonic() - started < GUEST_TIMEOUT:
                text = console.read_text(errors="replace") if console.exists() else ""
                if "@@VSCARD done" in text:
                    break
                time.sleep(1)
            print(f"# libvirt guest: done after {time.monotonic() - started:.1f} s", flush=True)
        finally:
            client.terminate()
            _, client_err = client.communicate(timeout=30)
        result = guest_runner.parse_console(text)
        self.assertEqual(result.status, "ok", f"console:\n{text}\nvscclient:\n{client_err}")
        self.assertIn("CCID", result.step("readers").output)
        self.assertEqual(result.step("atr").output.strip(), SOFT_CARD_ATR)


if __name__ == "__main__":
    unittest.main()
