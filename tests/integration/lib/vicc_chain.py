# SPDX-License-Identifier: LGPL-2.1-or-later
"""vicc card programs beside vschost and vscclient, for the --vicc tests (no pcscd).

    vc = ViccChain(test)                         # skips if vicc or the programs are missing
    host = vc.chain.vschost("--mode", "multi")   # export_chain's helpers
    client = vc.vscclient(host.port, "--vicc=0")
    vc.start_vicc(vc.vicc_port(client))          # Debian's vicc, iso7816 card

Every process is tracked and stopped in the test's cleanup.
"""
import os

import export_chain as ec
import pcsc_env
from processes import LoggedProcess


class ViccChain:
    """vschost and vscclient from export_chain, plus vicc processes (no pcscd)."""

    def __init__(self, test):
        self.chain = ec.ExportChain(test)
        self.test = test
        self.vicc_env = pcsc_env.vicc_env(self.chain.tmp)
        self.viccs = []
        test.addCleanup(self.close)

    def vscclient(self, host_port, *args):
        return self.chain.vscclient(host_port, *args)

    @staticmethod
    def vicc_port(client):
        """The port `vscclient --vicc=0` chose, from its log line."""
        return int(client.wait_output(r"vicc: waiting for cards on \S+ \(vicc -H \S+ -P (\d+)\)",
                                      timeout=30).group(1))

    def start_vicc(self, port, reversed_mode=False):
        log = os.path.join(self.chain.tmp, f"vicc{len(self.viccs)}.log")
        p = LoggedProcess(pcsc_env.vicc_argv(port, reversed_mode=reversed_mode), log,
                          env=self.vicc_env)
        self.viccs.append(p)
        return p

    def logs(self):
        return self.chain.logs()

    def close(self):
        for p in self.viccs:
            p.stop()
        self.viccs = []
