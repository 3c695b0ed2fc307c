#!/usr/bin/env bash
# Builds the Debian 12 chroots that lab.others runs its real mail servers from (as root):
#   exim       Exim 4.96 (exim4-daemon-light) and Courier IMAP/POP3
#   opensmtpd  OpenSMTPD 6.8.0p2 and Cyrus IMAP/POP3 3.6
#   sendmail   Sendmail 8.17 and GNU Mailutils imap4d/pop3d 3.15
# One MTA per chroot: Debian's MTAs conflict with each other and with the host's Postfix.
# Each tree is `debootstrap --variant=minbase bookworm` (made once, kept as a tarball and
# unpacked per family), with the host's apt sources and config copied in and the packages
# installed by apt inside, under a policy-rc.d that lets no service start. The trees live in
# $MAILTLS_LAB_CHROOTS (default /var/lib/mailtls-lab), never in the repository.
# Idempotent: a family whose stamp names the same packages is left alone (a quick no-op).
# Also installs swaks and strace on the host (test clients, not servers).
set -euo pipefail

root=${MAILTLS_LAB_CHROOTS:-/var/lib/mailtls-lab}
declare -A families=(
  [exim]="exim4-daemon-light courier-imap courier-pop"
  [opensmtpd]="opensmtpd cyrus-imapd cyrus-pop3d sasl2-bin"
  [sendmail]="sendmail-bin sendmail-cf m4 make mailutils-imap4d mailutils-pop3d"
)
common="ca-certificates openssl"

todo=()
for family in "${!families[@]}"; do
  want="${families[$family]} $common"
  [ "$(cat "$root/$family/.mailtls-lab-packages" 2>/dev/null)" = "$want" ] || todo+=("$family")
done
tools=1
for tool in debootstrap swaks strace; do command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || tools=0; done
if [ ${#todo[@]} -eq 0 ] && [ "$tools" -eq 1 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-lab-servers.sh: the lab's chroots are missing and building them needs root" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
began=$(date +%s)
if [ "$tools" -eq 0 ]; then
  apt-get update -qq
  apt-get install -y -qq debootstrap swaks strace >/dev/null
fi
mkdir -p "$root"

# The mirror the host's own apt uses (its first Debian URI), for debootstrap.
mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null \
  | grep -E '^[[:space:]]*(URIs:|deb )' | grep -o -E 'https?://[^ ]+' | grep -v -- '-security' | head -n 1 || true)
mirror=${mirror:-http://deb.debian.org/debian}

base="$root/bookworm-minbase.tar.gz"
if [ ! -s "$base" ]; then
  tree=$(mktemp -d "$root/base.XXXXXX")
  chmod 755 "$tree"   # the chroots' "/": mktemp's 0700 would lock every daemon's own user out
  debootstrap --variant=minbase bookworm "$tree" "$mirror" >"$root/debootstrap.log" 2>&1 \
    || { tail -n 20 "$root/debootstrap.log" >&2; rm -rf "$tree"; exit 1; }
  tar -C "$tree" -czf "$base.tmp" . && mv "$base.tmp" "$base"
  rm -rf "$tree"
fi

build() {  # family: unpack the base, copy apt's view of the world in, install inside
  local family=$1 dir="$root/$1" want="${families[$1]} $common"
  rm -rf "$dir" && mkdir -p "$dir"
  tar -C "$dir" -xzf "$base"
  chmod 755 "$dir"
  rm -f "$dir/etc/apt/sources.list"
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] && cp "$f" "$dir$f"
  done
  cp /etc/apt/apt.conf.d/* "$dir/etc/apt/apt.conf.d/" 2>/dev/null || true
  cp /etc/resolv.conf "$dir/etc/resolv.conf"   # for apt only: lab.others replaces it at start
  [ -f /etc/ssl/certs/ca-certificates.crt ] && mkdir -p "$dir/etc/ssl/certs" \
    && cp /etc/ssl/certs/ca-certificates.crt "$dir/etc/ssl/certs/"
  printf '#!/bin/sh\n# mailtls lab: no service starts from a package install\nexit 101\n' >"$dir/usr/sbin/policy-rc.d"
  chmod +x "$dir/usr/sbin/policy-rc.d"
  mount -t proc proc "$dir/proc"
  local status=0
  chroot "$dir" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive sh -c \
    "apt-get update -qq && apt-get install -y -qq --no-install-recommends $want && apt-get clean" \
    >"$root/$family-install.log" 2>&1 || status=$?
  umount "$dir/proc"
  if [ "$status" -ne 0 ]; then
    tail -n 20 "$root/$family-install.log" >&2
    return "$status"
  fi
  echo "$want" >"$dir/.mailtls-lab-packages"
}

# Side by side: the installs wait on the network more than on the two cores.
pids=()
for family in "${todo[@]}"; do
  build "$family" & pids+=($!)
done
failed=0
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
[ "$failed" -eq 0 ] || { echo "install-lab-servers.sh: a chroot failed to build (logs in $root)" >&2; exit 1; }
echo "install-lab-servers.sh: built ${todo[*]:-nothing} in $root in $(( $(date +%s) - began )) s ($(du -sh "$root" | cut -f1))"
