#!/usr/bin/env bash
# Installs the system packages that mailtls and its lab need, on Debian/Ubuntu as root:
# nmap (the scanner), Dovecot (POP3/IMAP) and Postfix (SMTP) for the loopback lab, openssl,
# and for the domain lab (lab/dnslab): Knot (authoritative DNS) and Unbound (validating resolver).
# Chromium (Debian's) renders the HTML report in the browser test (tests/unit/output/test_html_in_browser.py); iproute2
# and util-linux give `ip` and `unshare` for the test that resolves a name in a private network namespace.
# A quick no-op when they are already there. Debian's policy keeps the packaged services
# from starting here; the lab (python -m lab start) runs its own instances.
set -euo pipefail

missing=0
for tool in nmap dovecot postfix openssl knotd unbound chromium ip unshare; do
  command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || missing=1
done
# dovecot-core alone has no imap/pop3 login services: check for the protocol packages too.
[ -x /usr/lib/dovecot/imap-login ] && [ -x /usr/lib/dovecot/pop3-login ] || missing=1
if [ "$missing" -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-system.sh: nmap, Dovecot or Postfix is missing and installing needs root" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# Postfix's debconf questions: no mail configuration, so nothing is set up to send mail.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
apt-get update -qq
apt-get install -y -qq nmap dovecot-imapd dovecot-pop3d postfix openssl knot unbound chromium iproute2 util-linux >/dev/null
# Where packaged services do start (systemd, no policy-rc.d), Dovecot would hold *:110/143
# and the lab could not bind its 127.0.0.x addresses: the lab runs its own instances.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemctl disable --now dovecot.service postfix.service knot.service unbound.service >/dev/null 2>&1 || true
fi
echo "install-system.sh: installed nmap $(nmap --version | awk 'NR==1 {print $3}'), $(dovecot --version | cut -d' ' -f1 | sed 's/^/Dovecot /'), Postfix $(postconf -dh mail_version)"
