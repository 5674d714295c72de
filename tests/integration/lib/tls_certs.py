# SPDX-License-Identifier: LGPL-2.1-or-later
"""A throwaway X.509 PKI made with the openssl command, in QEMU's tls-creds-x509
layout: ca-cert.pem, server-cert.pem/server-key.pem, client-cert.pem/client-key.pem."""
import os
import shutil
import subprocess


def _run(*argv, cwd):
    subprocess.run(argv, cwd=cwd, check=True, capture_output=True)


def make_ca(dir, name):
    os.makedirs(dir, exist_ok=True)
    _run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", f"/CN={name}", "-keyout", "ca-key.pem", "-out", "ca-cert.pem",
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=dir)


def issue(ca_dir, out_dir, prefix, cn, san=None, client=False):
    """Issues PREFIX-cert.pem / PREFIX-key.pem in out_dir, signed by ca_dir's CA."""
    os.makedirs(out_dir, exist_ok=True)
    ext = os.path.join(out_dir, f"{prefix}.ext")
    with open(ext, "w") as f:
        f.write("basicConstraints=CA:FALSE\n")
        f.write(f"extendedKeyUsage={'clientAuth' if client else 'serverAuth'}\n")
        if san:
            f.write(f"subjectAltName={san}\n")
    _run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={cn}",
         "-keyout", f"{prefix}-key.pem", "-out", f"{prefix}.csr", cwd=out_dir)
    _run("openssl", "x509", "-req", "-in", f"{prefix}.csr", "-days", "2",
         "-CA", os.path.join(ca_dir, "ca-cert.pem"), "-CAkey", os.path.join(ca_dir, "ca-key.pem"),
         "-CAcreateserial", "-out", f"{prefix}-cert.pem", "-extfile", ext, cwd=out_dir)


def client_dir(ca_dir, out_dir, with_client_cert):
    os.makedirs(out_dir, exist_ok=True)
    shutil.copy(os.path.join(ca_dir, "ca-cert.pem"), os.path.join(out_dir, "ca-cert.pem"))
    if with_client_cert:
        issue(ca_dir, out_dir, "client", "vscclient test client", client=True)


def issue_expired(ca_dir, out_dir, prefix, cn, dns="localhost", ip="127.0.0.1"):
    """PREFIX-cert.pem / PREFIX-key.pem, a server certificate valid only on
    1-2 January 2020 (certtool from gnutls-bin: openssl 3.0 cannot backdate)."""
    os.makedirs(out_dir, exist_ok=True)
    template = os.path.join(out_dir, f"{prefix}.tmpl")
    with open(template, "w") as f:
        f.write(f'cn = "{cn}"\ndns_name = "{dns}"\nip_address = "{ip}"\ntls_www_server\n'
                'activation_date = "2020-01-01 00:00:00 UTC"\n'
                'expiration_date = "2020-01-02 00:00:00 UTC"\n')
    _run("openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
         "-out", f"{prefix}-key.pem", cwd=out_dir)
    _run("certtool", "--generate-certificate", "--load-privkey", f"{prefix}-key.pem",
         "--load-ca-certificate", os.path.join(ca_dir, "ca-cert.pem"),
         "--load-ca-privkey", os.path.join(ca_dir, "ca-key.pem"),
         "--template", template, "--outfile", f"{prefix}-cert.pem", cwd=out_dir)


def make_crl(ca_dir, out_path, revoked_cert_paths):
    """A PEM CRL signed by ca_dir's CA revoking the given certificates (certtool,
    package gnutls-bin), written to out_path (ca-crl.pem in QEMU's layout)."""
    tmp = os.path.dirname(out_path)
    os.makedirs(tmp, exist_ok=True)
    template = os.path.join(tmp, "crl.tmpl")
    with open(template, "w") as f:
        f.write("crl_next_update = 30\ncrl_number = 1\n")
    revoked = os.path.join(tmp, "revoked.pem")
    with open(revoked, "w") as out:
        for p in revoked_cert_paths:
            with open(p) as f:
                out.write(f.read())
    load = ["--load-certificate", revoked] if revoked_cert_paths else []
    _run("certtool", "--generate-crl", "--load-ca-privkey", os.path.join(ca_dir, "ca-key.pem"),
         "--load-ca-certificate", os.path.join(ca_dir, "ca-cert.pem"), *load,
         "--template", template, "--outfile", out_path, cwd=tmp)
