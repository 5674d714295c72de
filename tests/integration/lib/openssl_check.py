# SPDX-License-Identifier: LGPL-2.1-or-later
"""Certificate and signature checks with the openssl command (package openssl)."""
import os
import shutil
import subprocess
import tempfile


def available():
    return shutil.which("openssl") is not None


def subject(der):
    out = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout", "-subject",
                          "-nameopt", "RFC2253"], input=der, capture_output=True, check=True)
    return out.stdout.decode().strip().removeprefix("subject=")


def verify_sha256(der_cert, message, signature):
    """True if `signature` over `message` verifies with the certificate's public key."""
    with tempfile.TemporaryDirectory() as tmp:
        cert = os.path.join(tmp, "cert.der")
        pub = os.path.join(tmp, "pub.pem")
        sig = os.path.join(tmp, "sig")
        data = os.path.join(tmp, "data")
        for path, content in ((cert, der_cert), (sig, signature), (data, message)):
            with open(path, "wb") as f:
                f.write(content)
        subprocess.run(["openssl", "x509", "-inform", "DER", "-in", cert, "-pubkey", "-noout",
                        "-out", pub], check=True, capture_output=True)
        r = subprocess.run(["openssl", "dgst", "-sha256", "-verify", pub, "-signature", sig, data],
                           capture_output=True)
        return r.returncode == 0 and b"Verified OK" in r.stdout
