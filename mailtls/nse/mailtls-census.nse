package.path = SCRIPT_PATH:match("^(.*/)") .. "?.lua;" .. package.path
local mailtls = require "mailtls"

description = [[
Reports, per open port, every connection the scan's scripts made to it (counted by
mailtls-prelude) and those that went wrong before the server answered: refused (a
421/554 greeting, -ERR, * BYE), closed before a word, reset, timed out, unreachable.
A script whose connections were turned away saw only part of what the port offers;
mailtls reads this to tell a complete answer from one that was cut short. Runs after
every other script of the scan on the port.
]]

---
-- @usage
-- nmap -p 25 --script mailtls-prelude.nse,ssl-enum-ciphers,mailtls-census.nse <target>
--
-- @xmloutput
-- <elem key="limit">5</elem>
-- <elem key="peak">5</elem>
-- <table key="scripts">
--   <table key="ssl-enum-ciphers">
--     <elem key="connections">57</elem>
--     <table key="trouble"><elem key="refused">2</elem></table>
--     <table key="said"><elem>refused: 421 4.7.0 Too many connections</elem></table>
--   </table>
-- </table>

author = "mailtls"
license = "GPL-3.0-or-later, as mailtls"
categories = {"safe"}

-- Every script a mailtls scan may run: listed so that this one runs after all of them.
dependencies = {
  "ssl-enum-ciphers", "ssl-cert", "smtp-commands", "imap-capabilities", "pop3-capabilities",
  "smtp-open-relay", "mailtls-tls", "mailtls-starttls-injection", "mailtls-ehlo",
}

portrule = function(host, port)
  return port.protocol == "tcp" and port.state == "open" and mailtls.ledger.installed
end

action = function(host, port)
  return mailtls.census(host, port)
end
