local nmap = require "nmap"
local shortport = require "shortport"
local stdnse = require "stdnse"
local string = require "string"
local table = require "table"

description = [[
Checks whether a mail server executes commands that were sent in plaintext together
with STARTTLS (STLS for POP3) once the TLS session is up: STARTTLS command injection,
CVE-2011-0411 (Postfix and others) and its later IMAP/POP3 cousins.

For SMTP, IMAP and POP3 it sends the STARTTLS command and a harmless second command
in one packet (SMTP NOOP, IMAP NOOP, POP3 CAPA), completes the TLS handshake, then
sends one closing command inside TLS (QUIT or LOGOUT) and reads until the server
hangs up. A server that answers the plaintext command inside TLS keeps commands
across the switch, so an attacker on the path can inject commands into the protected
session. It sends no mail, no login and nothing that changes state.

Part of mailtls (shipped in the package as mailtls/nse/). The output string starts
with "VULNERABLE:", "not vulnerable:" or "inconclusive:".
]]

---
-- @usage
-- nmap -p 25,110,143 --script ./mailtls-starttls-injection.nse <target>
--
-- @output
-- PORT   STATE SERVICE
-- 25/tcp open  smtp
-- |_mailtls-starttls-injection: VULNERABLE: the plaintext NOOP sent with STARTTLS was answered inside TLS: 250 2.0.0 Ok
--
-- @xmloutput
-- <elem key="protocol">smtp</elem>
-- <elem key="state">vulnerable</elem>
-- <elem key="injected">NOOP</elem>
-- <elem key="answer">250 2.0.0 Ok</elem>

author = "mailtls"
license = "Same as Nmap--See https://nmap.org/book/man-legal.html"
categories = {"vuln", "safe"}

local PROTOCOL_BY_SERVICE = {smtp = "smtp", submission = "smtp", imap = "imap", pop3 = "pop3"}
local PROTOCOL_BY_PORT = {[25] = "smtp", [587] = "smtp", [143] = "imap", [110] = "pop3"}

portrule = function(host, port)
  if port.protocol ~= "tcp" or port.state ~= "open" then
    return false
  end
  -- An implicit-TLS port has no STARTTLS to inject into.
  if port.version and port.version.service_tunnel == "ssl" then
    return false
  end
  return PROTOCOL_BY_SERVICE[port.service] ~= nil or PROTOCOL_BY_PORT[port.number] ~= nil
end

local function protocol_of(port)
  return PROTOCOL_BY_SERVICE[port.service] or PROTOCOL_BY_PORT[port.number]
end

-- One line (without its end), or nil and the error.
local function line(socket)
  local status, data = socket:receive_buf("\r?\n", false)
  if not status then
    return nil, data
  end
  return data
end

-- Lines up to and including the first one for which done(line) is true.
local function lines_until(socket, done)
  local seen = {}
  for _ = 1, 200 do
    local l, err = line(socket)
    if not l then
      return nil, err, seen
    end
    seen[#seen + 1] = l
    if done(l) then
      return seen
    end
  end
  return nil, "too many lines", seen
end

-- What the server says inside TLS, up to its answer to the closing command (closed(l)),
-- its closing the connection, or its going quiet. The answers due here are a line or
-- two: a server that keeps talking is not waited for, and once the first line is in,
-- the wait for each further one is short, since anything injected was answered first.
local function rest(socket, closed)
  local seen = {}
  for _ = 1, 20 do
    local l = line(socket)
    if not l then
      break
    end
    seen[#seen + 1] = l
    if closed(l) then
      break
    end
    socket:set_timeout(1000)
  end
  return seen
end

local function smtp_final(l) return l:match("^%d%d%d ") ~= nil end

-- Each protocol: how to get to the point of STARTTLS, what to send in one packet,
-- what the STARTTLS answer must look like, what to close with inside TLS, and how to
-- tell an answer to the injected command among what comes back inside TLS.
local PROTOCOLS = {
  smtp = {
    injected = "NOOP",
    prepare = function(socket)
      local greeting, err = lines_until(socket, smtp_final)
      if not greeting or not greeting[#greeting]:match("^220") then
        return nil, "no SMTP greeting: " .. (err or greeting[#greeting])
      end
      socket:send("EHLO mailtls.invalid\r\n")
      local ehlo, err2 = lines_until(socket, smtp_final)
      if not ehlo or not ehlo[#ehlo]:match("^250") then
        return nil, "EHLO refused: " .. (err2 or ehlo[#ehlo])
      end
      for _, l in ipairs(ehlo) do
        if l:upper():match("^250[ -]STARTTLS") then
          return true
        end
      end
      return false
    end,
    starttls = "STARTTLS\r\nNOOP\r\n",
    starttls_alone = "STARTTLS\r\n",
    accepted = function(socket)
      local reply, err = lines_until(socket, smtp_final)
      if not reply then return nil, err end
      return reply[#reply]:match("^220") ~= nil, reply[#reply]
    end,
    close = "QUIT\r\n",
    closed = function(l) return l:match("^221") ~= nil end,
    -- Inside TLS only QUIT's 221 is due; a 250 can only answer the injected NOOP.
    injected_answer = function(l)
      return l:match("^250 ") ~= nil
    end,
  },
  imap = {
    injected = "NOOP",
    prepare = function(socket)
      local greeting, err = line(socket)
      if not greeting or not greeting:match("^%* OK") then
        return nil, "no IMAP greeting: " .. (err or greeting)
      end
      socket:send("M1 CAPABILITY\r\n")
      local caps, err2 = lines_until(socket, function(l) return l:match("^M1 ") ~= nil end)
      if not caps then return nil, "CAPABILITY failed: " .. err2 end
      for _, l in ipairs(caps) do
        if l:upper():match("^%* CAPABILITY.* STARTTLS") then
          return true
        end
      end
      return false
    end,
    starttls = "M2 STARTTLS\r\nM3 NOOP\r\n",
    starttls_alone = "M2 STARTTLS\r\n",
    accepted = function(socket)
      local reply, err = lines_until(socket, function(l) return l:match("^M2 ") ~= nil end)
      if not reply then return nil, err end
      return reply[#reply]:match("^M2 OK") ~= nil, reply[#reply]
    end,
    close = "M4 LOGOUT\r\n",
    closed = function(l) return l:match("^M4 ") ~= nil end,
    -- Tags make it certain: M3 was only ever sent in plaintext.
    injected_answer = function(l) return l:match("^M3 ") ~= nil end,
  },
  pop3 = {
    injected = "CAPA",
    prepare = function(socket)
      local greeting, err = line(socket)
      if not greeting or not greeting:match("^%+OK") then
        return nil, "no POP3 greeting: " .. (err or greeting)
      end
      socket:send("CAPA\r\n")
      local first = line(socket)
      if not first or not first:match("^%+OK") then
        return false
      end
      local caps = lines_until(socket, function(l) return l == "." end) or {}
      for _, l in ipairs(caps) do
        if l:upper():match("^STLS") then
          return true
        end
      end
      return false
    end,
    starttls = "STLS\r\nCAPA\r\n",
    starttls_alone = "STLS\r\n",
    accepted = function(socket)
      local reply, err = line(socket)
      if not reply then return nil, err end
      return reply:match("^%+OK") ~= nil, reply
    end,
    close = "QUIT\r\n",
    -- QUIT's "+OK" cannot be told from CAPA's first line: wait (briefly) for what follows.
    closed = function(l) return false end,
    -- QUIT gets one status line; a CAPA answer brings its list and the "." that ends it.
    injected_answer = function(l) return l == "." end,
  },
}

-- STARTTLS without anything behind it, then the handshake: does TLS work at all?
local function starttls_alone_works(host, port, proto)
  local socket = nmap.new_socket()
  socket:set_timeout(5000)
  if not socket:connect(host, port) then
    return false
  end
  local works = false
  if proto.prepare(socket) then
    socket:send(proto.starttls_alone)
    if proto.accepted(socket) then
      works = socket:reconnect_ssl()
      if works then
        socket:send(proto.close)
        rest(socket, proto.closed)
      end
    end
  end
  socket:close()
  return works and true or false
end

action = function(host, port)
  local name = protocol_of(port)
  local proto = PROTOCOLS[name]
  local out = stdnse.output_table()
  out.protocol = name
  out.injected = proto.injected

  local function result(state, text)
    out.state = state
    return out, string.format("%s: %s", state == "vulnerable" and "VULNERABLE" or state, text)
  end

  local socket = nmap.new_socket()
  socket:set_timeout(5000)
  local ok, err = socket:connect(host, port)
  if not ok then
    return result("inconclusive", "could not connect: " .. tostring(err))
  end
  local offered, why = proto.prepare(socket)
  if offered == nil then
    socket:close()
    return result("inconclusive", why)
  elseif not offered then
    -- No STARTTLS here: nothing to inject into, and other scripts say so.
    socket:close()
    return nil
  end
  -- The point of the test: STARTTLS and the next command in one packet.
  socket:send(proto.starttls)
  local accepted, reply = proto.accepted(socket)
  if not accepted then
    socket:close()
    return result("inconclusive", "STARTTLS was not accepted: " .. tostring(reply))
  end
  local tls_ok, tls_err = socket:reconnect_ssl()
  if not tls_ok then
    socket:close()
    -- Some servers (Dovecot) read the leftover plaintext as the start of the TLS
    -- handshake, which then fails: the command was not run. Tell that apart from TLS
    -- that never works by trying STARTTLS alone on a fresh connection.
    local clean = starttls_alone_works(host, port, proto)
    if clean then
      return result("not vulnerable", string.format(
        "the plaintext %s sent with STARTTLS broke the TLS handshake (the server read it as TLS), "
        .. "while STARTTLS alone succeeds", proto.injected))
    end
    return result("inconclusive", "TLS handshake after STARTTLS failed: " .. tostring(tls_err))
  end
  socket:send(proto.close)
  local inside = rest(socket, proto.closed)
  socket:close()
  for _, l in ipairs(inside) do
    if proto.injected_answer(l) then
      out.answer = l
      return result("vulnerable", string.format(
        "the plaintext %s sent with STARTTLS was answered inside TLS: %s", proto.injected, l))
    end
  end
  if #inside == 0 then
    return result("inconclusive", "no answer inside TLS")
  end
  out.answer = inside[#inside]
  return result("not vulnerable", string.format(
    "the plaintext %s sent with STARTTLS was discarded; inside TLS only %s was answered",
    proto.injected, proto.close:gsub("\r\n", "")))
end
