package.path = SCRIPT_PATH:match("^(.*/)") .. "?.lua;" .. package.path
local mailtls = require "mailtls"
local sslcert = require "sslcert"
local stdnse = require "stdnse"

description = [[
Runs first in a mailtls scan and sets the terms every other script runs under:

* at most mailtls.max-connections-per-host connections at once to any one host
  (default 5), counted across every script and port of the run, while hosts run side
  by side (nmap's --max-parallelism counts per process, not per host);
* a ledger of every TCP connection, per host, port and script, with the ones the server
  refused, reset, or hung up before saying anything (reported per port by
  mailtls-census);
* STARTTLS for SMTP, IMAP and POP3 done by mailtls's own exchange for nmap's TLS
  scripts (ssl-enum-ciphers): replies are read to their end however the server splits
  its writes (nselib's IMAP STARTTLS reads one line of a multi-line CAPABILITY reply),
  and a session turned away (a 421 greeting, a close before the greeting) is tried
  again after a pause instead of being taken for "no STARTTLS";
* on the ports where mailtls-session runs, ssl-cert is given the certificate of that
  session's finished handshake, instead of fetching it again under nselib's one lock
  for the whole scan.

nmap's scripts themselves are not changed; they run on the socket methods and the
STARTTLS function this script puts in place.
]]

---
-- @usage
-- nmap -p 25,143 --script mailtls-prelude.nse,ssl-enum-ciphers,mailtls-census.nse <target>
--
-- @args mailtls.max-connections-per-host connections at once to any one host (default 5)

author = "mailtls"
license = "GPL-3.0-or-later, as mailtls"
categories = {"safe"}

prerule = function()
  return true
end

action = function()
  mailtls.install(stdnse.get_script_args("mailtls.max-connections-per-host") or 5)
  local stock = sslcert.getPrepareTLSWithoutReconnect
  sslcert.getPrepareTLSWithoutReconnect = function(port)
    local name = mailtls.protocol_of(port)
    if name and not mailtls.implicit(port) then
      return mailtls.prepare_tls(name)
    end
    return stock(port)
  end
  -- ssl-cert prints the certificate of mailtls-session's finished handshake on the mail
  -- ports: nselib's getCertificate would fetch it once more, under one lock for the whole
  -- scan (every host and port in turn), and through its own STARTTLS.
  local stock_certificate = sslcert.getCertificate
  sslcert.getCertificate = function(host, port)
    local cert = mailtls.session_certificate(host, port)
    if cert then
      return true, cert
    elseif cert == false then
      return false, "no TLS handshake finished (mailtls-session)"
    end
    return stock_certificate(host, port)
  end
  return ("at most %d connections at once per host"):format(mailtls.ledger.limit)
end
