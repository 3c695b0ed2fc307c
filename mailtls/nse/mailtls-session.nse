package.path = SCRIPT_PATH:match("^(.*/)") .. "?.lua;" .. package.path
local mailtls = require "mailtls"
local shortport = require "shortport"
local stdnse = require "stdnse"

description = [[
Opens a mail session as a mail client would and reports what it met, line by line:
the greeting, the capabilities before TLS (EHLO, CAPABILITY or CAPA, read to the end
of the reply however the server splits its writes), whether STARTTLS (STLS) is offered
and answered, whether a full TLS handshake then completes and the server answers a
command inside TLS (the proof that TLS works, which a ServerHello alone is not), the
certificate, and the capabilities inside TLS. On implicit-TLS ports (465, 993, 995) the
session starts with the handshake.

A session the server turns away (a 421 greeting, a close before any word, a reset) is
tried again after a pause, twice; a failed handshake is tried once more. The output
says how many tries it took, and "handshake" is one of: established, failed (every
try; the error is given), declined (STARTTLS answered with an error), not-offered,
refused (the server never let the session start: nothing was learned), broken (the
exchange stopped half-way). It sends EHLO/CAPABILITY/CAPA, STARTTLS and QUIT/LOGOUT,
and on SMTP before STARTTLS "MAIL FROM:<>" then RSET, to see whether the server takes
mail before TLS (the answer is "mail_from"): no recipient, no login, no mail.
]]

---
-- @usage
-- nmap -p 25,110,143,465,587,993,995 --script mailtls-session.nse <target>
--
-- @xmloutput
-- <elem key="protocol">smtp</elem>
-- <elem key="path">starttls</elem>
-- <table key="greeting"><elem>220 mx.example ESMTP</elem></table>
-- <table key="before_tls"><elem>250-mx.example</elem><elem>250 STARTTLS</elem></table>
-- <elem key="mail_from">530 5.7.0 Must issue a STARTTLS command first</elem>
-- <elem key="starttls">accepted</elem>
-- <elem key="handshake">established</elem>
-- <elem key="tries">1</elem>
-- <table key="certificate"><elem key="sha1">...</elem><elem key="pem">...</elem></table>
-- <table key="after_tls"><elem>250-mx.example</elem><elem>250 AUTH PLAIN</elem></table>

author = "mailtls"
license = "GPL-3.0-or-later, as mailtls"
categories = {"discovery", "safe"}

portrule = function(host, port)
  if port.protocol == "tcp" and port.state == "open" and mailtls.protocol_of(port) ~= nil then
    mailtls.certificate_promised(host, port)
    return true
  end
  return false
end

local function timeout_of(host)
  return ((host.times and host.times.timeout) or 5) * 1000 + 5000
end

local function shown(lines)
  local out = {}
  for i, l in ipairs(lines or {}) do
    out[i] = mailtls.clip(l)
  end
  return out
end

local function certificate_of(socket, received)
  local cert = socket:get_ssl_certificate()
  if not cert then
    return nil
  end
  received.cert = cert
  local out = stdnse.output_table()
  out.sha1 = stdnse.tohex(cert:digest("sha1"))
  out.pem = cert.pem
  return out
end

-- Inside TLS: the capabilities again, which is also the proof that the session works.
local function inside(c, name, out)
  local proto = mailtls.PROTOCOLS[name]
  if out.path == "implicit" then
    local greeting, err = proto.greeting(c)
    if not greeting then
      return nil, "no greeting inside TLS: " .. tostring(err)
    end
    out.greeting = shown(greeting)
    if not proto.greeted(greeting) then
      return nil, "refused inside TLS: " .. mailtls.clip(greeting[#greeting]), "refused"
    end
  end
  local caps, err = proto.capabilities(c)
  if not caps then
    return nil, "no answer inside TLS: " .. tostring(err)
  end
  out[out.path == "implicit" and "capabilities" or "after_tls"] = shown(caps)
  return true
end

-- One try. Returns "done", or the kind of trouble ("refused", "failed", ...) and what was said.
local function try(host, port, name, out, received)
  local proto = mailtls.PROTOCOLS[name]
  local timeout = timeout_of(host)
  local c, trouble
  if out.path == "implicit" then
    c, trouble = mailtls.open(host, port, true, timeout)
    if not c then
      local kind = mailtls.TRANSIENT[trouble] and "refused"
        or (trouble == "TIMEOUT" and "refused") or (trouble and trouble:find("reset", 1, true) and "refused")
        or "failed"
      return kind, trouble
    end
  else
    local state
    state, c = mailtls.greet(host, port, name, timeout)
    if not state then
      if c.lines then
        out.before_tls = shown(c.lines)
      end
      return (mailtls.TRANSIENT[c.kind] and "refused") or (c.kind == "refused" and "refused") or "broken", c.said
    end
    out.greeting = shown(state.greeting)
    out.before_tls = shown(state.capabilities)
    if name == "smtp" and proto.capable(state.capabilities) then
      -- Does the server take mail before TLS? A sender is named, never a recipient, and the
      -- transaction is reset at once: nothing can be sent (RFC 5321 4.1.1.2, 4.1.1.5).
      local said, err = mailtls.smtp_command(c, "MAIL FROM:<>\r\n")
      if not said then
        c:close()
        return "broken", "MAIL FROM: " .. tostring(err)
      end
      out.mail_from = mailtls.clip(said[#said])
      said, err = mailtls.smtp_command(c, "RSET\r\n")
      if not said then
        c:close()
        return "broken", "RSET: " .. tostring(err)
      end
    end
    if not state.offered then
      c:send(proto.quit)
      c:close()
      out.handshake = "not-offered"
      return "done"
    end
    local ok, why = mailtls.starttls(c, name)
    if not ok then
      c:close()
      if why.kind == "declined" then
        out.starttls = mailtls.clip(why.said)
        out.handshake = "declined"
        return "done"
      end
      return "broken", why.said
    end
    out.starttls = "accepted"
    local done, err = c.socket:reconnect_ssl()
    if not done then
      c:close()
      return "failed", err
    end
  end
  out.certificate = certificate_of(c.socket, received)
  local ok, err, kind = inside(c, name, out)
  if not ok then
    c:close()
    return kind or "failed", err
  end
  c:send(proto.quit)
  c:close()
  out.handshake = "established"
  return "done"
end

local run

local function session(host, port)
  local ok, result = pcall(run, host, port)
  if not ok then
    mailtls.certificate_received(host, port, false)
    error(result, 0)
  end
  return result
end

run = function(host, port)
  local name = mailtls.protocol_of(port)
  local path = mailtls.implicit(port) and "implicit" or "starttls"
  local tries, out = 0, nil
  local received = {}
  -- A refused session is waited out twice, a failed handshake tried once more.
  local budget = {refused = 3, broken = 2, failed = 2}
  while true do
    tries = tries + 1
    out = stdnse.output_table()
    out.protocol = name
    out.path = path
    local result, said = try(host, port, name, out, received)
    if result == "done" then
      break
    end
    if tries >= (budget[result] or 1) then
      out.handshake = result
      out.error = mailtls.clip(said)
      break
    end
    stdnse.sleep(mailtls.PAUSES[tries] or 2.0)
  end
  out.tries = tries
  -- Handed to ssl-cert (see mailtls-prelude): the certificate of a finished handshake.
  mailtls.certificate_received(host, port, out.handshake == "established" and received.cert or false)
  return out
end

action = function(host, port)
  return mailtls.managed(session, host, port)
end
