"""Configuration files for the lab's Dovecot instances and its one Postfix instance.

Safety first: Postfix can never deliver mail (every transport is ``discard``, the
relayhost is a dead loopback port, the SMTP/LMTP/local delivery agents are not even in
master.cf), it never asks DNS anything, and every listener is on 127.0.0.0/8.
"""

from __future__ import annotations

import grp
import os
from pathlib import Path

from .hosts import Dovecot, LabHost, Smtpd, Tls

DOMAIN = "lab.mailtls.test"
#: Dovecot's test user (passwd-file): alice / lab-password, mail stored as nobody.
USER, PASSWORD, UID, GID = "alice", "lab-password", 65534, 65534


def dovecot_dir(workdir: Path, host: LabHost) -> Path:
    return workdir / f"dovecot-{host.name}"


def auth_socket(workdir: Path, host: LabHost) -> Path:
    """Where the host's Dovecot answers Postfix's SASL questions (smtpd_sasl_type=dovecot)."""
    return dovecot_dir(workdir, host) / "run" / "auth-postfix"


def write_users(workdir: Path) -> Path:
    home = workdir / "home" / USER
    home.mkdir(parents=True, exist_ok=True)
    (workdir / "home").chmod(0o755)
    os.chown(home, UID, GID)
    users = workdir / "users"
    users.write_text(f"{USER}:{{PLAIN}}{PASSWORD}:{UID}:{GID}::{home}::\n")
    # Read by Dovecot's auth process, which runs as the dovecot user.
    os.chown(users, 0, grp.getgrnam("dovecot").gr_gid)
    users.chmod(0o640)
    return users


def dovecot_conf(workdir: Path, host: LabHost, certs: dict[str, tuple[Path, Path]]) -> str:
    """One self-contained dovecot.conf (no /etc/dovecot includes) for ``host``."""
    d = host.dovecot
    assert d is not None
    base = dovecot_dir(workdir, host)
    lines = [
        f"# mailtls lab host {host.name} ({host.address}): {host.description}",
        f"instance_name = mailtls-lab-{host.name}",
        f"base_dir = {base}/run",
        f"state_dir = {base}/state",
        # No syslog socket on these machines: log to a file or lose the errors.
        f"log_path = {base}/dovecot.log",
        f"listen = {host.address}",
        "protocols = imap pop3",
        f"ssl = {d.ssl}",
        f"disable_plaintext_auth = {'no' if d.plaintext_auth else 'yes'}",
        "auth_mechanisms = plain login",
        f"passdb {{\n  driver = passwd-file\n  args = scheme=PLAIN {workdir}/users\n}}",
        f"userdb {{\n  driver = passwd-file\n  args = {workdir}/users\n}}",
        "mail_location = maildir:~/Maildir",
    ]
    if d.tls:
        crt, key = _cert_files(d.tls, certs, workdir)
        lines += [
            f"ssl_cert = <{crt}",
            f"ssl_key = <{key}",
            f"ssl_min_protocol = {d.tls.min_protocol}",
        ]
        if d.tls.ciphers:
            lines += [f"ssl_cipher_list = {d.tls.ciphers}", "ssl_prefer_server_ciphers = yes"]
    lines += [
        _listeners("imap-login", d, ("imap", d.imap), ("imaps", d.imaps)),
        _listeners("pop3-login", d, ("pop3", d.pop3), ("pop3s", d.pop3s)),
        # Postfix (user postfix) asks this socket for SMTP AUTH.
        "service auth {\n  unix_listener auth-postfix {\n    mode = 0660\n    user = postfix\n"
        "    group = postfix\n  }\n}",
    ]
    return "\n".join(lines) + "\n"


def _listeners(service: str, d: Dovecot, *listeners: tuple[str, int]) -> str:
    body = "".join(f"  inet_listener {name} {{\n    port = {port}\n  }}\n" for name, port in listeners)
    if d.login_process_limit:
        body += f"  process_limit = {d.login_process_limit}\n"
    if d.login_client_limit:
        body += f"  client_limit = {d.login_client_limit}\n"
    return f"service {service} {{\n{body}}}"


def _cert_files(tls: Tls, certs: dict[str, tuple[Path, Path]], workdir: Path) -> tuple[Path, Path]:
    if tls.cert == "missing":
        return workdir / "certs" / "missing.crt", workdir / "certs" / "missing.key"
    if tls.cert == "mismatch":
        return certs["good"][0], certs["weak"][1]
    return certs[tls.cert]


def postfix_main_cf(workdir: Path) -> str:
    """main.cf: safe global defaults (no TLS, no AUTH, no relaying, no delivery)."""
    pdir = workdir / "postfix"
    return f"""\
# mailtls lab: one Postfix instance, listeners per lab host in master.cf.
compatibility_level = 3.6
queue_directory = {pdir}/spool
data_directory = {pdir}/data
# No syslog socket here: without maillog_file Postfix fails silently.
maillog_file = {pdir}/postfix.log
maillog_file_prefixes = {workdir}
myhostname = mx.{DOMAIN}
mydomain = {DOMAIN}
myorigin = $myhostname
mydestination = $myhostname
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
# Nobody is trusted by address: only the relay host's listener opens this up.
mynetworks =
# Nothing leaves: every transport discards, and the relayhost is a dead loopback port.
relayhost = [127.0.0.1]:9
default_transport = discard
relay_transport = discard
local_transport = discard
virtual_transport = discard
# No DNS at all: no MX/A lookups, no reverse lookups of clients, no alias/passwd maps.
smtp_dns_support_level = disabled
lmtp_dns_support_level = disabled
disable_dns_lookups = yes
smtpd_peername_lookup = no
alias_maps =
alias_database =
local_recipient_maps =
biff = no
append_dot_mydomain = no
# Stock banners (Postfix's here, Dovecot's by default): nmap -sV recognises them from the
# greeting alone. A custom banner makes -sV try all its probes (~25 s more per port).
smtpd_banner = $myhostname ESMTP $mail_name
# Postfix slows down clients that make errors (1 s each); nmap's smtp-open-relay makes
# a dozen on a host that refuses to relay. The lab does not need the tarpit.
smtpd_error_sleep_time = 0s
# No mail to postmaster about the broken host's TLS problem (it would be discarded anyway).
notify_classes =
smtpd_tls_security_level =
smtpd_sasl_auth_enable = no
"""


#: The services Postfix needs to accept and discard mail. No smtp/lmtp/local/virtual/pipe
#: delivery agents: even a mistake elsewhere cannot send anything anywhere.
_MASTER_BASE = """\
# service type  private unpriv  chroot  wakeup  maxproc command
postlog   unix-dgram n  -       n       -       1       postlogd
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
"""


def postfix_master_cf(workdir: Path, hosts: list[LabHost], certs: dict[str, tuple[Path, Path]]) -> str:
    lines = [_MASTER_BASE]
    for host in hosts:
        for listener in host.smtpd:
            lines.append(f"# {host.name}: {host.description}")
            lines.append(f"{host.address}:{listener.port} inet n - n - - smtpd")
            for name, value in _smtpd_options(workdir, host, listener, certs):
                lines.append(f"  -o {{ {name} = {value} }}")
    return "\n".join(lines) + "\n"


def _smtpd_options(workdir: Path, host: LabHost, s: Smtpd, certs) -> list[tuple[str, str]]:
    o = [("syslog_name", f"postfix-{host.name}-{s.port}"), ("myhostname", f"{host.name}.{DOMAIN}")]
    if s.tls:
        crt, key = _cert_files(s.tls, certs, workdir)
        protocols = f">={s.tls.min_protocol}"
        o += [
            ("smtpd_tls_security_level", s.level),
            ("smtpd_tls_cert_file", str(crt)),
            ("smtpd_tls_key_file", str(key)),
            ("smtpd_tls_protocols", protocols),
            ("smtpd_tls_mandatory_protocols", protocols),
        ]
        if s.tls.ciphers:
            o += [
                # smtpd_tls_(mandatory_)ciphers pick one of these lists by grade; the
                # medium list, changed for this listener only, is the host's list.
                ("tls_medium_cipherlist", s.tls.ciphers),
                ("smtpd_tls_ciphers", "medium"),
                ("smtpd_tls_mandatory_ciphers", "medium"),
                ("tls_preempt_cipherlist", "yes"),
            ]
        if s.wrapper:
            o.append(("smtpd_tls_wrappermode", "yes"))
    if s.sasl:
        o += [
            ("smtpd_sasl_auth_enable", "yes"),
            ("smtpd_sasl_type", "dovecot"),
            ("smtpd_sasl_path", str(auth_socket(workdir, host))),
            ("smtpd_tls_auth_only", "yes" if s.auth_only else "no"),
        ]
    if not s.vrfy:
        o.append(("disable_vrfy_command", "yes"))
    return o + list(s.options)
