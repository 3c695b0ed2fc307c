---
-- mailtls's own mail-protocol exchanges, and the connection ledger every script of a
-- mailtls scan runs under. Loaded by mailtls's NSE scripts from their own folder:
--
--   package.path = SCRIPT_PATH:match("^(.*/)") .. "?.lua;" .. package.path
--   local mailtls = require "mailtls"
--
-- Three things live here:
--
-- * Conversation: a socket with its own bounded line buffer, so that a reply is read
--   to its end however the server splits its writes (an IMAP CAPABILITY in two
--   packets, an EHLO reply line by line), and a hostile server that never ends a line
--   costs a bounded amount of memory.
-- * upgrade(): STARTTLS (STLS for POP3) done that way, with a polite retry when the
--   server refuses the session (a 421 greeting, a close before any greeting). The
--   prelude hands it to nmap's TLS scripts in place of nselib's own STARTTLS, whose
--   IMAP version reads one line of a multi-line reply.
-- * the ledger: every TCP connection any script makes, per host, port and script, and
--   the ones that went wrong before the server said anything useful. It holds each host
--   to at most `limit` connections at once, across all scripts and ports, however many
--   hosts run side by side (nmap's own --max-parallelism counts per process, not per
--   host). The census script reports it per port, so mailtls can tell a complete answer
--   from one that was cut short.
--
-- Written for mailtls; GPL-3.0-or-later, as mailtls.

local nmap = require "nmap"
local stdnse = require "stdnse"
local string = require "string"
local table = require "table"

local M = {}

-- RFC 5321 4.5.3.1.5: a reply line is at most 512 octets; IMAP lines may be longer
-- (a long CAPABILITY), so the bound here is generous. A server past it is cut off.
M.MAX_LINE = 8192
M.MAX_LINES = 200
-- Kept of a line in the output, so a hostile server cannot fill the XML.
M.SHOWN = 512

--- The script whose code is running: the first frame whose source is an .nse file.
-- A thread made by stdnse.new_thread (ssl-enum-ciphers' workers) starts in its
-- script's own function, so this finds it too.
local script_of = setmetatable({}, {__mode = "k"})

function M.caller()
  local thread = coroutine.running()
  local known = script_of[thread]
  if known then
    return known
  end
  local name = M.find_caller()
  script_of[thread] = name
  return name
end

function M.find_caller()
  for level = 3, 40 do
    local info = debug.getinfo(level, "S")
    if not info then
      break
    end
    local name = info.source:match("([^/\\]+)%.nse$")
    if name then
      return name
    end
  end
  return "?"
end

local function clip(text)
  text = tostring(text or "")
  if #text > M.SHOWN then
    return text:sub(1, M.SHOWN) .. "..."
  end
  return text
end
M.clip = clip

-- What a first line from the server says about the session: "refused" when the server
-- turned the client away before any exchange (SMTP 4xx/5xx greeting, POP3 -ERR, IMAP
-- BYE), nil when it is a greeting or not text at all (TLS).
function M.refusal(line)
  if not line then
    return nil
  end
  if line:match("^[45]%d%d[ %-\r\n]") or line:match("^[45]%d%d$") then
    return "refused"
  end
  if line:match("^%-ERR") or line:match("^%* BYE") then
    return "refused"
  end
  return nil
end

---------------------------------------------------------------------------------------
-- The ledger

local ledger = {
  installed = false,
  limit = 5,
  -- ip -> connections connecting or open now (counted at connect, released at close,
  -- a failed connect, or when a socket nobody closed is collected)
  count = {},
  -- ip -> {closed_at, grace} of connections closed a moment ago (see grace_of)
  closing = {},
  -- ip -> port number -> script -> {connections = n, trouble = {kind = count}, said = {...}}
  ports = {},
  -- socket -> {ip, port, script, thread, open, received, sent_tls, managed}
  sockets = setmetatable({}, {__mode = "k"}),
  -- ip -> the most connections seen open at once
  peak = {},
  -- threads whose connections note their own outcome (mailtls's exchanges, which
  -- retry and say what happened): the ledger counts their connections only
  managed = setmetatable({}, {__mode = "k"}),
  -- ip -> threads waiting for a free place
  waiting = {},
}
M.ledger = ledger

local function ip_of(host)
  if type(host) == "table" then
    return host.ip or host.targetname or tostring(host)
  end
  return tostring(host)
end

local function port_of(port)
  if type(port) == "table" then
    return tonumber(port.number) or 0
  end
  return tonumber(port) or 0
end

-- A connection counts until a moment after it is closed: the server sees the close
-- one round trip later, and a new connection opened at once would overlap it there.
local function grace_of(host)
  local srtt = type(host) == "table" and host.times and tonumber(host.times.srtt) or nil
  return math.min(200, math.max(2, (srtt or 0) * 1000))
end

local function open_count(ip)
  local closing = ledger.closing[ip]
  local recent = 0
  if closing then
    local now = nmap.clock_ms()
    for i = #closing, 1, -1 do
      if now - closing[i].closed_at >= closing[i].grace then
        table.remove(closing, i)
      else
        recent = recent + 1
      end
    end
  end
  return (ledger.count[ip] or 0) + recent
end

local function released(ip)
  if ip == nil or (ledger.waiting[ip] or 0) > 0 then
    nmap.condvar(ledger.open_waiters)("broadcast")
  end
end
ledger.open_waiters = {}

-- A connection stops counting: closed (counted a moment longer), failed, or collected.
local function release(info, closed)
  if not info.open then
    return
  end
  info.open = false
  ledger.count[info.ip] = ledger.count[info.ip] - 1
  local held = ledger.held[info.thread]
  if held then
    held[info.ip] = (held[info.ip] or 1) - 1
  end
  if closed then
    local closing = ledger.closing[info.ip] or {}
    ledger.closing[info.ip] = closing
    closing[#closing + 1] = {closed_at = nmap.clock_ms(), grace = info.grace}
    if (ledger.waiting[info.ip] or 0) > 0 then
      -- From inside a script's thread a timer wakes the waiters when the moment is over;
      -- socket_unlock closes the sockets of finished threads outside any script, where
      -- the next event will.
      local grace = info.grace
      pcall(stdnse.new_thread, function()
        stdnse.sleep(grace / 1000)
        released()
      end)
    end
  end
  released(info.ip)
end

-- thread -> ip -> connections it holds open: a script that opens a second connection
-- while holding one is let through rather than made to wait for itself.
ledger.held = setmetatable({}, {__mode = "k"})

local function entry(ip, number, script)
  local by_port = ledger.ports[ip]
  if not by_port then
    by_port = {}
    ledger.ports[ip] = by_port
  end
  local by_script = by_port[number]
  if not by_script then
    by_script = {}
    by_port[number] = by_script
  end
  local e = by_script[script]
  if not e then
    e = {connections = 0, trouble = {}, said = {}}
    by_script[script] = e
  end
  return e
end

--- Records that something went wrong on a connection: kind is one of "refused" (the
-- server turned the session away, with what it said), "closed" (it hung up before
-- saying anything), "reset", "timeout", "unreachable" (the connection was not made),
-- "recovered" (refused at first, then served after a pause).
function M.note(ip, number, script, kind, text)
  local e = entry(ip, number, script)
  e.trouble[kind] = (e.trouble[kind] or 0) + 1
  if text and #e.said < 5 then
    e.said[#e.said + 1] = ("%s: %s"):format(kind, clip(text))
  end
end

local function is_reset(err)
  return type(err) == "string" and (err:find("reset", 1, true) or err:find("Broken pipe", 1, true)) ~= nil
end

-- What the first read of a connection tells, recorded once per connection.
local function first_read(info, status, data)
  if info.received or info.managed then
    return
  end
  if status then
    info.received = true
    local kind = M.refusal(data:match("^[^\n]*"))
    if kind then
      M.note(info.ip, info.port, info.script, kind, data:match("^[^\r\n]*"))
    end
  elseif data == "TIMEOUT" then
    info.received = true
    M.note(info.ip, info.port, info.script, "timeout", "no answer before the timeout")
  elseif data == "EOF" then
    info.received = true
    if info.sent_tls then
      -- Many TLS servers turn a ClientHello down by hanging up: that is an answer.
      M.note(info.ip, info.port, info.script, "tls-closed")
    else
      M.note(info.ip, info.port, info.script, "closed", "the server closed the connection before saying anything")
    end
  elseif is_reset(data) then
    info.received = true
    M.note(info.ip, info.port, info.script, "reset", data)
  end
end

--- Wraps the socket methods every script shares (nsock's metatable), once per nmap run.
function M.install(limit)
  if ledger.installed then
    return
  end
  ledger.installed = true
  ledger.limit = math.max(1, tonumber(limit) or 5)
  local probe = nmap.new_socket()
  local methods = debug.getmetatable(probe).__index
  probe:close()
  local connect, reconnect_ssl = methods.connect, methods.reconnect_ssl

  methods.connect = function(socket, host, port, protocol, ...)
    if protocol == "udp" or (type(port) == "table" and port.protocol == "udp") then
      return connect(socket, host, port, protocol, ...)
    end
    local ip, number = ip_of(host), port_of(port)
    local script = M.caller()
    local thread = coroutine.running()
    local held = ledger.held[thread]
    -- Wait for a free place: the host's connections, counted across every script and port.
    while open_count(ip) >= ledger.limit and not (held and (held[ip] or 0) > 0) do
      ledger.waiting[ip] = (ledger.waiting[ip] or 0) + 1
      nmap.condvar(ledger.open_waiters)("wait")
      ledger.waiting[ip] = ledger.waiting[ip] - 1
    end
    local previous = ledger.sockets[socket]
    if previous then
      release(previous, true) -- a socket connected again without a close
    end
    local info = {ip = ip, port = number, script = script, managed = ledger.managed[thread],
      thread = thread, grace = grace_of(host), open = true}
    ledger.sockets[socket] = info
    ledger.count[ip] = (ledger.count[ip] or 0) + 1
    held = held or {}
    ledger.held[thread] = held
    held[ip] = (held[ip] or 0) + 1
    local e = entry(ip, number, script)
    e.connections = e.connections + 1
    local now = open_count(ip)
    if now > (ledger.peak[ip] or 0) then
      ledger.peak[ip] = now
    end
    local status, err = connect(socket, host, port, protocol, ...)
    if not status then
      info.received = true
      release(info, false)
    end
    if not status and not info.managed then
      local kind = (err == "TIMEOUT" and "timeout") or (is_reset(err) and "reset") or "unreachable"
      if protocol == "ssl" and kind == "unreachable" then
        kind = "tls" -- a TLS handshake that failed: what the server's TLS says, not a refusal
      end
      M.note(ip, number, script, kind, err)
    end
    return status, err
  end

  local close = methods.close
  methods.close = function(socket, ...)
    local result = table.pack(close(socket, ...))
    local info = ledger.sockets[socket]
    if info then
      release(info, true)
    end
    return table.unpack(result, 1, result.n)
  end

  -- A socket collected without a close frees its place too.
  local metatable = debug.getmetatable(probe)
  local collect = metatable.__gc
  metatable.__gc = function(socket)
    local info = ledger.sockets[socket]
    if info then
      pcall(release, info, false)
    end
    return collect(socket)
  end

  for _, name in ipairs({"receive", "receive_buf", "receive_bytes", "receive_lines"}) do
    local original = methods[name]
    methods[name] = function(socket, ...)
      local status, data = original(socket, ...)
      local info = ledger.sockets[socket]
      if info then
        first_read(info, status, data)
      end
      return status, data
    end
  end

  local send = methods.send
  methods.send = function(socket, data, ...)
    local info = ledger.sockets[socket]
    if info and info.sent_tls == nil and type(data) == "string" and #data > 0 then
      -- A TLS handshake record (content type 22) sent first: a raw ClientHello.
      info.sent_tls = data:byte(1) == 0x16 and not info.received
    end
    return send(socket, data, ...)
  end

  methods.reconnect_ssl = function(socket, ...)
    local status, err = reconnect_ssl(socket, ...)
    local info = ledger.sockets[socket]
    if info and not info.managed and not status and is_reset(err) then
      M.note(info.ip, info.port, info.script, "reset", err)
    end
    return status, err
  end
end

--- What the ledger holds for one port, as a table for a script's structured output.
function M.census(host, port)
  local ip, number = ip_of(host), port_of(port)
  local out = stdnse.output_table()
  out.limit = ledger.limit
  out.peak = ledger.peak[ip] or 0
  local scripts = stdnse.output_table()
  local by_port = ledger.ports[ip] and ledger.ports[ip][number] or {}
  local names = {}
  for name in pairs(by_port) do
    names[#names + 1] = name
  end
  table.sort(names)
  for _, name in ipairs(names) do
    local e = by_port[name]
    local row = stdnse.output_table()
    row.connections = e.connections
    local kinds = {}
    for kind in pairs(e.trouble) do
      kinds[#kinds + 1] = kind
    end
    table.sort(kinds)
    if #kinds > 0 then
      local trouble = stdnse.output_table()
      for _, kind in ipairs(kinds) do
        trouble[kind] = e.trouble[kind]
      end
      row.trouble = trouble
      row.said = e.said
    end
    scripts[name] = row
  end
  out.scripts = scripts
  return out
end

---------------------------------------------------------------------------------------
-- Certificates: mailtls-session's, handed to ssl-cert

-- ip -> port number -> the certificate mailtls-session got (false: none; nil: not yet)
local certificates = {}
-- ip -> port number -> true where mailtls-session will run
local promised = {}

function M.certificate_promised(host, port)
  local ip = ip_of(host)
  promised[ip] = promised[ip] or {}
  promised[ip][port_of(port)] = true
end

function M.certificate_received(host, port, cert)
  local ip = ip_of(host)
  certificates[ip] = certificates[ip] or {}
  certificates[ip][port_of(port)] = cert
  nmap.condvar(certificates)("broadcast")
end

--- The certificate mailtls-session got on this port once it is done, false if it got
-- none, nil if mailtls-session does not run on the port.
function M.session_certificate(host, port)
  local ip, number = ip_of(host), port_of(port)
  if not (promised[ip] and promised[ip][number]) then
    return nil
  end
  while certificates[ip] == nil or certificates[ip][number] == nil do
    nmap.condvar(certificates)("wait")
  end
  return certificates[ip][number]
end

---------------------------------------------------------------------------------------
-- Conversations

local Conversation = {}
Conversation.__index = Conversation

--- Opens a connection: plaintext, or TLS from the first byte when implicit is true.
-- Returns a Conversation, or nil and the error.
function M.open(host, port, implicit, timeout)
  local socket = nmap.new_socket()
  socket:set_timeout(timeout or 10000)
  local status, err = socket:connect(host, port, implicit and "ssl" or "tcp")
  if not status then
    socket:close()
    return nil, err
  end
  return setmetatable({socket = socket, buffer = "", host = host, port = port}, Conversation)
end

function Conversation:close()
  self.socket:close()
end

function Conversation:send(text)
  local status, err = self.socket:send(text)
  if not status then
    return nil, err
  end
  return true
end

--- One line without its end, or nil and why not ("EOF", "TIMEOUT", "too long"...).
function Conversation:line()
  while true do
    local eol = self.buffer:find("\n", 1, true)
    if eol then
      local line = self.buffer:sub(1, eol - 1):gsub("\r$", "")
      self.buffer = self.buffer:sub(eol + 1)
      return line
    end
    if #self.buffer > M.MAX_LINE then
      return nil, ("a line longer than %d bytes"):format(M.MAX_LINE)
    end
    local status, data = self.socket:receive()
    if not status then
      return nil, data
    end
    self.buffer = self.buffer .. data
  end
end

--- Lines up to and including the first one for which last(line) is true.
-- Returns the lines, or nil, the error and the lines read before it.
function Conversation:lines(last)
  local seen = {}
  while #seen < M.MAX_LINES do
    local line, err = self:line()
    if not line then
      return nil, err, seen
    end
    seen[#seen + 1] = line
    if last(line) then
      return seen
    end
  end
  return nil, ("more than %d lines"):format(M.MAX_LINES), seen
end

---------------------------------------------------------------------------------------
-- The three protocols: how a reply ends, what the client says, what success looks like.

local function smtp_last(line)
  -- RFC 5321 4.2.1: "250-" continues a reply, "250 " (or a bare code) ends it.
  return not line:match("^%d%d%d%-")
end

--- Sends one SMTP command and reads its whole reply.
function M.smtp_command(c, command)
  local ok, err = c:send(command)
  if not ok then
    return nil, err
  end
  return c:lines(smtp_last)
end

M.PROTOCOLS = {
  smtp = {
    greeting = function(c) return c:lines(smtp_last) end,
    greeted = function(lines) return lines[#lines]:match("^220") ~= nil end,
    capabilities = function(c)
      local ok, err = c:send(("EHLO %s\r\n"):format("mailtls.invalid"))
      if not ok then return nil, err end
      return c:lines(smtp_last)
    end,
    capable = function(lines) return lines[#lines]:match("^250") ~= nil end,
    offers_starttls = function(lines)
      -- Keywords start at the second line (RFC 5321 4.1.1.1: the first is the domain and free text).
      for i = 2, #lines do
        if lines[i]:upper():match("^250[ %-]STARTTLS%s*$") then return true end
      end
      return false
    end,
    starttls = function(c)
      local ok, err = c:send("STARTTLS\r\n")
      if not ok then return nil, err end
      return c:lines(smtp_last)
    end,
    upgraded = function(lines) return lines[#lines]:match("^220") ~= nil end,
    quit = "QUIT\r\n",
  },
  imap = {
    greeting = function(c) return c:lines(function() return true end) end,
    greeted = function(lines) return lines[1]:match("^%* OK") ~= nil or lines[1]:match("^%* PREAUTH") ~= nil end,
    capabilities = function(c)
      local ok, err = c:send("M1 CAPABILITY\r\n")
      if not ok then return nil, err end
      return c:lines(function(l) return l:match("^M1 ") ~= nil end)
    end,
    capable = function(lines) return lines[#lines]:match("^M1 OK") ~= nil end,
    offers_starttls = function(lines)
      for _, l in ipairs(lines) do
        local caps = l:match("^%* CAPABILITY (.*)$")
        if caps and (" " .. caps:upper() .. " "):find(" STARTTLS ", 1, true) then return true end
      end
      return false
    end,
    starttls = function(c)
      local ok, err = c:send("M2 STARTTLS\r\n")
      if not ok then return nil, err end
      return c:lines(function(l) return l:match("^M2 ") ~= nil end)
    end,
    upgraded = function(lines) return lines[#lines]:match("^M2 OK") ~= nil end,
    quit = "M9 LOGOUT\r\n",
  },
  pop3 = {
    greeting = function(c) return c:lines(function() return true end) end,
    greeted = function(lines) return lines[1]:match("^%+OK") ~= nil end,
    capabilities = function(c)
      local ok, err = c:send("CAPA\r\n")
      if not ok then return nil, err end
      local first, err2 = c:line()
      if not first then return nil, err2, {} end
      if not first:match("^%+OK") then return {first} end -- no CAPA: an answer all the same
      local rest, err3, seen = c:lines(function(l) return l == "." end)
      if not rest then return nil, err3, {first, table.unpack(seen)} end
      return {first, table.unpack(rest)}
    end,
    capable = function(lines) return lines[1]:match("^%+OK") ~= nil end,
    offers_starttls = function(lines)
      for i = 2, #lines do
        if lines[i]:upper():match("^STLS%s*$") then return true end
      end
      return false
    end,
    starttls = function(c)
      local ok, err = c:send("STLS\r\n")
      if not ok then return nil, err end
      local line, err2 = c:line()
      if not line then return nil, err2 end
      return {line}
    end,
    upgraded = function(lines) return lines[1]:match("^%+OK") ~= nil end,
    quit = "QUIT\r\n",
  },
}

M.BY_SERVICE = {smtp = "smtp", submission = "smtp", smtps = "smtp", submissions = "smtp",
  imap = "imap", imaps = "imap", pop3 = "pop3", pop3s = "pop3"}
M.BY_PORT = {[25] = "smtp", [587] = "smtp", [465] = "smtp", [143] = "imap", [993] = "imap",
  [110] = "pop3", [995] = "pop3"}
M.IMPLICIT_PORTS = {[465] = true, [993] = true, [995] = true}
M.IMPLICIT_SERVICES = {smtps = true, submissions = true, imaps = true, pop3s = true}

function M.protocol_of(port)
  return M.BY_SERVICE[port.service] or M.BY_PORT[port.number]
end

--- TLS from the first byte on this port: a tunnel nmap saw, a TLS service name, or
-- 465/993/995 where nothing else names the service.
function M.implicit(port)
  if port.version and port.version.service_tunnel == "ssl" then
    return true
  end
  if M.IMPLICIT_SERVICES[port.service] then
    return true
  end
  return M.IMPLICIT_PORTS[port.number] == true and not M.BY_SERVICE[port.service]
end

--- The session up to the point of STARTTLS: greeting and capabilities read to their end.
-- Returns a table {greeting=lines, capabilities=lines, offered=bool} with the open
-- Conversation, or nil and {kind=..., said=...} saying why not.
function M.greet(host, port, name, timeout)
  local proto = M.PROTOCOLS[name]
  local c, err = M.open(host, port, false, timeout)
  if not c then
    return nil, {kind = "unreachable", said = err}
  end
  local greeting, gerr, partial = proto.greeting(c)
  if not greeting then
    c:close()
    local kind = (gerr == "EOF" and "closed") or (gerr == "TIMEOUT" and "timeout") or (is_reset(gerr) and "reset")
      or "broken"
    return nil, {kind = kind, said = (partial and partial[1]) or gerr}
  end
  if not proto.greeted(greeting) then
    c:close()
    return nil, {kind = M.refusal(greeting[#greeting]) or "unexpected", said = greeting[#greeting]}
  end
  local caps, cerr, seen = proto.capabilities(c)
  if not caps then
    c:close()
    return nil, {kind = "broken", said = ("capabilities: %s"):format(cerr), lines = seen}
  end
  return {greeting = greeting, capabilities = caps, offered = proto.capable(caps) and proto.offers_starttls(caps)}, c
end

--- STARTTLS on a greeted conversation, up to (not including) the TLS handshake.
-- Returns true, or nil and {kind, said}.
function M.starttls(c, name)
  local proto = M.PROTOCOLS[name]
  local reply, err = proto.starttls(c)
  if not reply then
    return nil, {kind = "broken", said = ("STARTTLS: %s"):format(err)}
  end
  if not proto.upgraded(reply) then
    return nil, {kind = "declined", said = reply[#reply]}
  end
  if #c.buffer > 0 then
    -- Plaintext after the go-ahead would be read as if it came inside TLS. A server whose
    -- TLS cannot start says so here (Dovecot: "* BYE [UNAVAILABLE] TLS initialization failed").
    local said = c.buffer:match("^[^\r\n]*")
    return nil, {kind = M.refusal(said) and "declined" or "broken",
      said = "the server sent more after its STARTTLS answer: " .. clip(said)}
  end
  return true
end

-- A refusal worth waiting out: the server turned the session away or hung up at once.
M.TRANSIENT = {refused = true, closed = true, reset = true, timeout = true, unreachable = true}
M.PAUSES = {1.0, 2.0}

--- Runs fn(...) with the connections it makes marked as managed: they note their own
-- outcome in the ledger (see M.note) instead of having every refusal noted for them.
function M.managed(fn, ...)
  local thread = coroutine.running()
  local before = ledger.managed[thread]
  ledger.managed[thread] = true
  local result = table.pack(pcall(fn, ...))
  ledger.managed[thread] = before
  if not result[1] then
    error(result[2], 0)
  end
  return table.unpack(result, 2, result.n)
end

--- sslcert's prepare-TLS contract (true and a socket ready for the TLS handshake, or
-- false and an error), done with mailtls's exchange, and with a pause and a new try when
-- the server turns the session away. What happened is noted in the ledger.
function M.prepare_tls(name)
  local function prepare(host, port)
    local script = M.caller()
    local ip, number = ip_of(host), port_of(port)
    local attempt = 0
    while true do
      attempt = attempt + 1
      local state, c = M.greet(host, port, name)
      local why
      if state then
        if not state.offered then
          c:close()
          return false, "STARTTLS is not offered"
        end
        local ok, trouble = M.starttls(c, name)
        if ok then
          if attempt > 1 then
            M.note(ip, number, script, "recovered", ("served after %d tries"):format(attempt))
          end
          return true, c.socket
        end
        c:close()
        why = trouble
      else
        why = c
      end
      local pause = M.TRANSIENT[why.kind] and M.PAUSES[attempt]
      if not pause then
        M.note(ip, number, script, why.kind, why.said)
        return false, ("%s: %s"):format(why.kind, clip(why.said))
      end
      stdnse.sleep(pause)
    end
  end
  return function(host, port)
    return M.managed(prepare, host, port)
  end
end

return M
