"""What runs in each chroot: the configuration files and the daemons' command lines.

Each family's chroot (scripts/install-lab-servers.sh) gets a fresh ``/lab`` at every start:
certificates, configuration files, run directories and logs, all written from here. Every
daemon binds only its hosts' 127.0.2.x addresses, runs in the foreground (its pid is the
pid lab.others started), resolves names from an /etc/hosts written here (its resolv.conf
names 127.0.2.254, where nothing listens), and can deliver nothing: Exim has no routers
and refuses every RCPT, OpenSMTPD rejects every recipient, Sendmail's check_rcpt refuses
every recipient and its smart host is the dead 127.0.2.254 with queue-only delivery.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .hosts import HOSTS

#: Where nothing listens: the chroots' only name server and Sendmail's smart host.
DEAD_ADDRESS = "127.0.2.254"
DOMAIN = "lab.mailtls.test"


@dataclass(frozen=True)
class Daemon:
    name: str
    argv: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class Chroot:
    """One family's tree and what to prepare in it; ``lab`` is its /lab seen from the host."""

    family: str
    root: Path

    @property
    def lab(self) -> Path:
        return self.root / "lab"

    def write(self, path: str, text: str, mode: int = 0o644, owner: str | None = None) -> None:
        target = self.root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        target.chmod(mode)
        if owner:
            self.chown(path, owner)

    def mkdir(self, path: str, owner: str | None = None, mode: int = 0o755) -> None:
        target = self.root / path.lstrip("/")
        target.mkdir(parents=True, exist_ok=True)
        target.chmod(mode)
        if owner:
            self.chown(path, owner)

    def chown(self, path: str, owner: str) -> None:
        """chown by the chroot's own user and group names (its uids are not the host's)."""
        user, _, group = owner.partition(":")
        uid = self._id("passwd", user)
        gid = self._id("group", group) if group else self._id("passwd", user, field=3)
        shutil.chown(self.root / path.lstrip("/"), uid, gid)

    def _id(self, table: str, name: str, field: int = 2) -> int:
        for line in (self.root / "etc" / table).read_text().splitlines():
            parts = line.split(":")
            if parts[0] == name:
                return int(parts[field])
        raise KeyError(f"{name} not in {self.root}/etc/{table}")


def _hosts_file() -> str:
    lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"]
    lines += [f"{h.address}\t{h.name}.{DOMAIN} {h.name}" for h in HOSTS.values()]
    return "\n".join(lines) + "\n"


def prepare_common(chroot: Chroot, certs: Path) -> None:
    """/etc/hosts, resolv.conf and the lab's certificates, common to every family."""
    chroot.write("/etc/hosts", _hosts_file())
    chroot.write(
        "/etc/resolv.conf", f"# mailtls lab: no name server\nnameserver {DEAD_ADDRESS}\noptions timeout:1 attempts:1\n"
    )
    chroot.mkdir("/lab/certs")
    for source in certs.iterdir():
        shutil.copy(source, chroot.lab / "certs" / source.name)
        (chroot.lab / "certs" / source.name).chmod(0o600 if source.suffix == ".key" else 0o644)
    chroot.mkdir("/lab/run")


# -- exim: Exim and Courier ---------------------------------------------------------------


def _exim_conf(host: str, address: str, tls: bool) -> str:
    run = f"/lab/run/{host}"
    lines = [
        f"# mailtls lab host {host} ({address}); smtp_accept_max and the other limits stay Exim's defaults",
        f"primary_hostname = {host}.{DOMAIN}",
        f"local_interfaces = {address}",
        "daemon_smtp_ports = 25 : 465 : 587" if tls else "daemon_smtp_ports = 25 : 587",
        f"spool_directory = {run}/spool",
        f"log_file_path = {run}/%slog",
        f"pid_file_path = {run}/exim.pid",
        # No DNS: no reverse lookups, no ident.
        "host_lookup =",
        "rfc1413_hosts =",
        "acl_smtp_rcpt = refuse_all",
    ]
    if tls:
        lines += [
            "tls_on_connect_ports = 465",
            "tls_advertise_hosts = *",
            "tls_certificate = /lab/certs/good.crt",
            "tls_privatekey = /lab/certs/good.key",
            # AUTH only once TLS is up; tls_require_ciphers stays unset (GnuTLS's NORMAL).
            "auth_advertise_hosts = ${if eq{$tls_in_cipher}{}{}{*}}",
        ]
    else:
        lines += [
            "tls_advertise_hosts =",
            "auth_advertise_hosts = *",
            "acl_smtp_vrfy = accept",
            "acl_smtp_expn = accept",
        ]
    lines += [
        "begin acl",
        "refuse_all:",
        "  deny message = this lab host accepts no recipients",
        # No routers at all: even an accepted message could go nowhere.
        "begin authenticators",
        "plain:",
        "  driver = plaintext",
        "  public_name = PLAIN",
        "  server_prompts = :",
        "  server_condition = false",
        "login:",
        "  driver = plaintext",
        "  public_name = LOGIN",
        "  server_prompts = Username:: : Password::",
        "  server_condition = false",
    ]
    return "\n".join(lines) + "\n"


#: Runs one Courier listener in the foreground exactly as the package's /usr/sbin/imapd,
#: imapd-ssl, pop3d and pop3d-ssl start scripts do (their settings files, the same
#: couriertcpd line), with the lab host's overrides read last; without courierlogger,
#: which would put it in the background.
COURIER_RUN = r"""#!/bin/sh
set -a
prefix=/usr; exec_prefix=/usr; sbindir=/usr/sbin; bindir=/usr/bin; libexecdir=/usr/lib/courier
case "$1" in
  imap*) . /etc/courier/imapd; . /etc/courier/imapd-ssl ;;
  pop3*) . /etc/courier/pop3d; . /etc/courier/pop3d-ssl ;;
esac
. "$2"
if [ -n "$TLS_CACHEFILE" ]; then
  rm -f "$TLS_CACHEFILE"; touch "$TLS_CACHEFILE"
  chown courier:courier "$TLS_CACHEFILE"; chmod 600 "$TLS_CACHEFILE"
fi
case "$1" in
  imapd) IMAP_STARTTLS=$IMAPDSTARTTLS; ulimit -v $IMAP_ULIMITD
    exec couriertcpd -address=$ADDRESS -maxprocs=$MAXDAEMONS -maxperip=$MAXPERIP \
      -access=$IMAPACCESSFILE.dat $TCPDOPTS $PORT \
      /usr/lib/courier/courier/imaplogin /usr/bin/imapd $MAILDIRPATH ;;
  imapd-ssl) IMAP_TLS=1; ulimit -v $IMAP_ULIMITD
    exec couriertcpd -address=$SSLADDRESS -maxprocs=$MAXDAEMONS -maxperip=$MAXPERIP \
      -access=$IMAPACCESSFILE.dat $TCPDOPTS $SSLPORT $COURIERTLS -server -tcpd -user=courier \
      /usr/lib/courier/courier/imaplogin /usr/bin/imapd $MAILDIRPATH ;;
  pop3d)
    exec couriertcpd -address=$ADDRESS -maxprocs=$MAXDAEMONS -maxperip=$MAXPERIP $TCPDOPTS $PORT \
      /usr/lib/courier/courier/courierpop3login /usr/lib/courier/courier/courierpop3d $MAILDIRPATH ;;
  pop3d-ssl) POP3_TLS=1; POP3_STARTTLS=NO; POP3_TLS_REQUIRED=0
    exec couriertcpd -address=$SSLADDRESS -maxprocs=$MAXDAEMONS -maxperip=$MAXPERIP $TCPDOPTS $SSLPORT \
      $COURIERTLS -server -tcpd -user=courier \
      /usr/lib/courier/courier/courierpop3login /usr/lib/courier/courier/courierpop3d $MAILDIRPATH ;;
esac
"""

#: Overrides of the packaged /etc/courier settings, per lab host (MAXPERIP etc. untouched).
COURIER_ENV = {
    "courier-plain": {"ADDRESS": "127.0.2.20", "IMAPDSTARTTLS": "NO", "POP3_STARTTLS": "NO"},
    "courier-tls": {
        "ADDRESS": "127.0.2.21",
        "SSLADDRESS": "127.0.2.21",
        "IMAPDSTARTTLS": "YES",
        "IMAP_TLS_REQUIRED": "1",
        "POP3_STARTTLS": "YES",
        "POP3_TLS_REQUIRED": "1",
        "TLS_CERTFILE": "/lab/certs/courier.pem",
    },
}


def prepare_exim(chroot: Chroot) -> list[Daemon]:
    daemons = []
    for host, tls in (("exim-plain", False), ("exim-tls", True)):
        conf = f"/lab/{host}.conf"
        chroot.write(conf, _exim_conf(host, HOSTS[host].address, tls))
        chroot.mkdir(f"/lab/run/{host}", "Debian-exim:Debian-exim", 0o750)
        chroot.mkdir(f"/lab/run/{host}/spool", "Debian-exim:Debian-exim", 0o750)
        daemons.append(Daemon(host, ("/usr/sbin/exim4", "-C", conf, "-bdf")))
    # Exim reads its key after giving up root: group Debian-exim may read it.
    chroot.chown("/lab/certs/good.key", "root:Debian-exim")
    (chroot.lab / "certs" / "good.key").chmod(0o640)
    # Courier wants key and certificate in one file, readable by its TLS helper (user courier).
    pem = (chroot.lab / "certs" / "good.key").read_text() + (chroot.lab / "certs" / "good.crt").read_text()
    chroot.write("/lab/certs/courier.pem", pem, 0o600, "courier:courier")
    chroot.write("/lab/courier-run.sh", COURIER_RUN, 0o755)
    for host, settings in COURIER_ENV.items():
        chroot.write(f"/lab/{host}.env", "".join(f"{k}={v}\n" for k, v in settings.items()))
    chroot.mkdir("/run/courier/authdaemon", "daemon:daemon", 0o750)
    authrc = _shell_settings(chroot.root / "etc/courier/authdaemonrc")
    daemons.append(Daemon("courier-authdaemond", ("/usr/lib/courier/courier-authlib/authdaemond",), authrc))
    listeners = [("courier-plain", "imapd"), ("courier-plain", "pop3d")]
    listeners += [("courier-tls", s) for s in ("imapd", "pop3d", "imapd-ssl", "pop3d-ssl")]
    for host, service in listeners:
        daemons.append(Daemon(f"{host}-{service}", ("/lab/courier-run.sh", service, f"/lab/{host}.env")))
    return daemons


def _shell_settings(path: Path) -> dict[str, str]:
    """NAME="value" lines of a packaged settings file (authdaemonrc), quotes removed."""
    out = {}
    for line in path.read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep and name.isidentifier() and not line.startswith("#"):
            out[name] = value.strip().strip('"')
    return out


# -- opensmtpd: OpenSMTPD and Cyrus ---------------------------------------------------------


def _smtpd_conf() -> str:
    plain, tls = HOSTS["opensmtpd-plain"].address, HOSTS["opensmtpd-tls"].address
    return f"""\
# mailtls lab: OpenSMTPD for opensmtpd-plain ({plain}) and opensmtpd-tls ({tls})
pki lab cert "/lab/certs/good.crt"
pki lab key "/lab/certs/good.key"
listen on {plain} port 25 hostname opensmtpd-plain.{DOMAIN}
listen on {plain} port 587 hostname opensmtpd-plain.{DOMAIN}
listen on {tls} port 25 tls pki lab hostname opensmtpd-tls.{DOMAIN}
listen on {tls} port 587 tls-require pki lab auth hostname opensmtpd-tls.{DOMAIN}
listen on {tls} port 465 smtps pki lab auth hostname opensmtpd-tls.{DOMAIN}
# Nothing is ever accepted for delivery.
match from any for any reject
"""


def _cyrus_service(name: str, cmd: str, conf: str, listen: str, maxchild: int) -> str:
    return f'\t{name}\tcmd="{cmd} -U 30 -C {conf}" listen="{listen}" prefork=0 maxchild={maxchild}'


def prepare_opensmtpd(chroot: Chroot) -> list[Daemon]:
    chroot.write("/lab/smtpd.conf", _smtpd_conf())
    # Debian's imapd.conf (allowplaintext: yes etc.), with each host's differences.
    base = [
        line
        for line in (chroot.root / "etc/imapd.conf").read_text().splitlines()
        if line.strip() and not line.startswith("#") and not line.startswith(("allowplaintext:", "servername:"))
    ]
    plain = [*base, "allowplaintext: yes", f"servername: cyrus-plain.{DOMAIN}"]
    tls = [
        *base,
        "allowplaintext: no",
        f"servername: cyrus-tls.{DOMAIN}",
        "tls_server_cert: /lab/certs/signed.crt",
        "tls_server_key: /lab/certs/signed.key",
    ]
    chroot.write("/lab/cyrus-plain.conf", "\n".join(plain) + "\n")
    chroot.write("/lab/cyrus-tls.conf", "\n".join(tls) + "\n")
    chroot.chown("/lab/certs/signed.key", "cyrus:mail")
    p, t = HOSTS["cyrus-plain"].address, HOSTS["cyrus-tls"].address
    # maxchild as Debian's cyrus.conf has them: 100 for IMAP, 50 for POP3.
    services = [
        _cyrus_service("imapplain", "imapd", "/lab/cyrus-plain.conf", f"{p}:143", 100),
        _cyrus_service("pop3plain", "pop3d", "/lab/cyrus-plain.conf", f"{p}:110", 50),
        _cyrus_service("imaptls", "imapd", "/lab/cyrus-tls.conf", f"{t}:143", 100),
        _cyrus_service("imapstls", "imapd -s", "/lab/cyrus-tls.conf", f"{t}:993", 100),
        _cyrus_service("pop3tls", "pop3d", "/lab/cyrus-tls.conf", f"{t}:110", 50),
        _cyrus_service("pop3stls", "pop3d -s", "/lab/cyrus-tls.conf", f"{t}:995", 50),
    ]
    # (Service names are letters and digits only: cyrmaster exits on anything else.)
    chroot.write(
        "/lab/cyrus.conf",
        'START {\n\trecover\tcmd="/usr/sbin/cyrus ctl_cyrusdb -r"\n}\nSERVICES {\n'
        + "\n".join(services)
        + "\n}\nEVENTS {\n}\n",
    )
    for d in ("/run/cyrus", "/run/cyrus/proc", "/run/cyrus/lock", "/run/cyrus/socket"):
        chroot.mkdir(d, "cyrus:mail", 0o750)
    return [
        Daemon("opensmtpd", ("/usr/sbin/smtpd", "-d", "-f", "/lab/smtpd.conf")),
        Daemon("cyrus", ("/usr/sbin/cyrmaster", "-D", "-M", "/lab/cyrus.conf", "-p", "/lab/run/cyrus.pid")),
    ]


# -- sendmail: Sendmail and GNU Mailutils ----------------------------------------------------

#: Debian 12's sendmail.mc limits and policies, kept as packaged.
_SENDMAIL_DEBIAN = """\
define(`confCONNECTION_RATE_THROTTLE', `15')dnl
define(`confCONNECTION_RATE_WINDOW_SIZE',`10m')dnl
FEATURE(`use_cw_file')dnl
FEATURE(`access_db', , `skip')dnl
FEATURE(`greet_pause', `1000')dnl 1 seconds
FEATURE(`delay_checks', `friend', `n')dnl
define(`confBAD_RCPT_THROTTLE',`3')dnl
FEATURE(`conncontrol', `nodelay', `terminate')dnl
FEATURE(`ratecontrol', `nodelay', `terminate')dnl
"""
_DEBIAN_PRIVACY = "needmailhelo,needexpnhelo,needvrfyhelo,restrictqrun,restrictexpand,nobodyreturn,authwarnings"


def _sendmail_mc(host: str, tls: bool) -> str:
    address = HOSTS[host].address
    run = f"/lab/run/{host}"
    daemons = [
        f"DAEMON_OPTIONS(`Family=inet, Name=MTA-v4, Port=smtp, Addr={address}')dnl",
        # Debian's submission daemon: M=E (no ETRN), M=a (AUTH required).
        f"DAEMON_OPTIONS(`Family=inet, Name=MSP-v4, Port=submission, M=Ea, Addr={address}')dnl",
    ]
    extra = [f"define(`confPRIVACY_FLAGS',`{_DEBIAN_PRIVACY}')dnl"]
    if tls:
        daemons.append(f"DAEMON_OPTIONS(`Family=inet, Name=MTA-SSL, Port=465, M=s, Addr={address}')dnl")
        extra = [
            "define(`confPRIVACY_FLAGS',`goaway')dnl",
            "define(`confCACERT_PATH', `/etc/ssl/certs')dnl",
            "define(`confCACERT', `/lab/certs/ca.crt')dnl",
            "define(`confSERVER_CERT', `/lab/certs/signed.crt')dnl",
            "define(`confSERVER_KEY', `/lab/certs/signed.key')dnl",
            "define(`confCLIENT_CERT', `/lab/certs/signed.crt')dnl",
            "define(`confCLIENT_KEY', `/lab/certs/signed.key')dnl",
        ]
    return (
        "\n".join(
            [
                "divert(-1)dnl",
                "divert(0)dnl",
                "define(`_USE_ETC_MAIL_')dnl",
                "include(`/usr/share/sendmail/cf/m4/cf.m4')dnl",
                f"VERSIONID(`mailtls lab {host}')",
                "OSTYPE(`debian')dnl",
                "DOMAIN(`debian-mta')dnl",
                "undefine(`confHOST_STATUS_DIRECTORY')dnl",
                f"define(`confDOMAIN_NAME', `{host}.{DOMAIN}')dnl",
                f"define(`confPID_FILE', `{run}/sendmail.pid')dnl",
                f"define(`confCONTROL_SOCKET_NAME', `{run}/smcontrol')dnl",
                f"define(`QUEUE_DIR', `{run}/queue')dnl",
                f"define(`STATUS_FILE', `{run}/sendmail.st')dnl",
                "define(`confSERVICE_SWITCH_FILE', `/lab/service.switch')dnl",
                # Nowhere to deliver to: a dead smart host, queue only, and no queue runner.
                f"define(`SMART_HOST', `[{DEAD_ADDRESS}]')dnl",
                "define(`confDELIVERY_MODE', `queueonly')dnl",
                "FEATURE(`nocanonify')dnl",
                "FEATURE(`no_default_msa')dnl",
                *daemons,
                _SENDMAIL_DEBIAN.rstrip(),
                *extra,
                "MAILER_DEFINITIONS",
                "MAILER(`local')dnl",
                "MAILER(`smtp')dnl",
                "LOCAL_RULESETS",
                "SLocal_check_rcpt",
                'R$*\t$#error $@ 5.7.1 $: "550 this lab host accepts no recipients"',
            ]
        )
        + "\n"
    )


def _mailutils_conf(program: str, plain_port: int, tls_port: int) -> str:
    plain, tls = HOSTS["mailutils-plain"].address, HOSTS["mailutils-tls"].address
    return f"""\
# mailtls lab: GNU {program} for mailutils-plain ({plain}) and mailutils-tls ({tls});
# max-children and the rest stay the defaults.
mode daemon;
foreground yes;
pidfile /lab/run/{program}.pid;
logging {{ syslog no; }}
tls-file-checks {{ key-file none; cert-file none; ca-file none; }}
tls {{
  ssl-certificate-file /lab/certs/weak.crt;
  ssl-key-file /lab/certs/weak.key;
}}
server {plain}:{plain_port} {{ tls-mode no; }}
server {tls}:{plain_port} {{ tls-mode required; }}
server {tls}:{tls_port} {{ tls-mode connection; }}
"""


def prepare_sendmail(chroot: Chroot) -> list[Daemon]:
    chroot.write("/lab/service.switch", "passwd\tfiles\nhosts\tfiles\naliases\tfiles\n")
    daemons = []
    for host, tls in (("sendmail-plain", False), ("sendmail-tls", True)):
        chroot.mkdir(f"/lab/run/{host}", mode=0o700)
        chroot.mkdir(f"/lab/run/{host}/queue", mode=0o700)
        chroot.write(f"/lab/{host}.mc", _sendmail_mc(host, tls))
        daemons.append(Daemon(host, ("/usr/sbin/sendmail", "-bD", "-C", f"/lab/{host}.cf")))
    chroot.write("/lab/imap4d.conf", _mailutils_conf("imap4d", 143, 993))
    chroot.write("/lab/pop3d.conf", _mailutils_conf("pop3d", 110, 995))
    daemons += [
        Daemon("mailutils-imap4d", ("/usr/sbin/imap4d", "--config-file=/lab/imap4d.conf")),
        Daemon("mailutils-pop3d", ("/usr/sbin/pop3d", "--config-file=/lab/pop3d.conf")),
    ]
    return daemons


#: Commands to run inside a family's chroot after its files are written, before its daemons.
SETUP_COMMANDS: dict[str, list[tuple[str, ...]]] = {
    "exim": [("/usr/sbin/makeimapaccess",)],
    "opensmtpd": [],
    "sendmail": [("/bin/sh", "-c", f"m4 /lab/{h}.mc > /lab/{h}.cf") for h in ("sendmail-plain", "sendmail-tls")],
}

PREPARE: dict[str, Callable[[Chroot], list[Daemon]]] = {
    "exim": prepare_exim,
    "opensmtpd": prepare_opensmtpd,
    "sendmail": prepare_sendmail,
}
