package.path = SCRIPT_PATH:match("^(.*/)") .. "?.lua;" .. package.path
local mailtls = require "mailtls"
local stdnse = require "stdnse"

description = [[
Tries one login before TLS, without credentials that could work, to see whether the
server takes a login in the clear or refuses it before any credential is given. It runs
only when mailtls is asked to (probe_logins=True, --probe-logins), because the server
logs a failed login.

Per protocol, on a plaintext port (nothing is tried on implicit-TLS ports), at most one
attempt:
* SMTP: AUTH LOGIN (or AUTH PLAIN without an initial response), then "*" to cancel
  (RFC 4954 4): no user name or password is ever sent. A 334 challenge means the server
  asks for credentials before TLS.
* IMAP: LOGIN with a user name that cannot exist and a dummy password.
* POP3: USER with a user name that cannot exist; PASS with a dummy password only if
  USER was accepted (then the server has asked for the password: "taken", whatever it
  answers to PASS).

"verdict" is "taken" (the server asked for or judged the credentials: a login in the
clear is possible), "refused" (turned down before any credential: TLS required,
command disabled, [PRIVACYREQUIRED]), or "unknown" (no answer that tells), with the
server's answer in "answer".
]]

---
-- @usage
-- nmap -p 25,110,143,587 --script mailtls-login-probe.nse <target>
--
-- @xmloutput
-- <elem key="command">AUTH LOGIN</elem>
-- <elem key="answer">530 5.7.0 Must issue a STARTTLS command first</elem>
-- <elem key="verdict">refused</elem>

author = "mailtls"
license = "GPL-3.0-or-later, as mailtls"
categories = {"intrusive", "auth"}

-- A name no real mailbox has: the probe can never log in.
local USER = "mailtls-probe-nonexistent"
local PASSWORD = "mailtls-probe"

portrule = function(host, port)
  return port.protocol == "tcp" and port.state == "open" and mailtls.protocol_of(port) ~= nil
    and not mailtls.implicit(port)
end

-- Words servers use when they turn a login down because TLS is missing, before looking
-- at any credential.
local REFUSALS = {"privacyrequired", "tls", "ssl", "starttls", "stls", "encrypt", "secure", "disabled",
  "not allowed", "not available", "plaintext", "cleartext", "layer", "must issue"}

local function refuses(text)
  local lower = text:lower()
  for _, word in ipairs(REFUSALS) do
    if lower:find(word, 1, true) then
      return true
    end
  end
  return false
end

local TRY = {
  smtp = function(c, caps)
    local mechanism = "LOGIN"
    for i = 2, #caps do
      local list = caps[i]:upper():match("^250[ %-]AUTH[ =](.*)$")
      if list and not (" " .. list .. " "):find(" LOGIN ", 1, true) and (" " .. list .. " "):find(" PLAIN ", 1, true) then
        mechanism = "PLAIN"
      end
    end
    local command = "AUTH " .. mechanism
    local reply, err = mailtls.smtp_command(c, command .. "\r\n")
    if not reply then return command, nil, err end
    local last = reply[#reply]
    if last:match("^334") then
      mailtls.smtp_command(c, "*\r\n") -- cancel: no credential is sent
      return command, last, "taken"
    end
    -- 503/502/504/530/538: refused before any credential
    return command, last, "refused"
  end,
  imap = function(c)
    local command = ("LOGIN %s ****"):format(USER)
    local ok, err = c:send(("M5 LOGIN %s %s\r\n"):format(USER, PASSWORD))
    if not ok then return command, nil, err end
    local lines, err2 = c:lines(function(l) return l:match("^M5 ") ~= nil end)
    if not lines then return command, nil, err2 end
    local last = lines[#lines]
    if last:match("^M5 OK") then
      return command, last, "taken" -- never expected: the user cannot exist
    end
    if last:upper():find("[AUTHENTICATIONFAILED]", 1, true) then
      return command, last, "taken"
    end
    if refuses(last) then
      return command, last, "refused"
    end
    -- A NO that names no reason: the server judged the credentials.
    return command, last, last:match("^M5 NO") and "taken" or "unknown"
  end,
  pop3 = function(c)
    local command = "USER " .. USER
    local ok, err = c:send(command .. "\r\n")
    if not ok then return command, nil, err end
    local line, err2 = c:line()
    if not line then return command, nil, err2 end
    if not line:match("^%+OK") then
      return command, line, refuses(line) and "refused" or "unknown"
    end
    command = command .. ", PASS ****"
    ok, err = c:send(("PASS %s\r\n"):format(PASSWORD))
    if not ok then return command, nil, err end
    line, err2 = c:line()
    -- USER was accepted: the server asked for the password, which a client sends in the clear.
    return command, line or err2, "taken"
  end,
}

local function probe(host, port)
  local name = mailtls.protocol_of(port)
  local out = stdnse.output_table()
  local state, c = mailtls.greet(host, port, name)
  if not state then
    out.verdict = "unknown"
    out.answer = mailtls.clip(("%s: %s"):format(c.kind, c.said))
    return out
  end
  local command, answer, verdict = TRY[name](c, state.capabilities)
  c:send(mailtls.PROTOCOLS[name].quit)
  c:close()
  out.command = command
  out.answer = mailtls.clip(answer or "")
  out.verdict = answer and verdict or "unknown"
  if not answer then
    out.answer = mailtls.clip(verdict)
  end
  return out
end

action = function(host, port)
  return mailtls.managed(probe, host, port)
end
