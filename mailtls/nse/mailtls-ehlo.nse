local shortport = require "shortport"
local smtp = require "smtp"
local stdnse = require "stdnse"
local string = require "string"
local table = require "table"

description = [[
Sends EHLO to an SMTP server and prints its reply line by line: the connection
greeting, the free text of EHLO's first line, then each extension keyword line.

nmap's smtp-commands joins the EHLO lines with ", ", so a first line of
"250-mx.example Hello, STARTTLS" cannot be told from a STARTTLS keyword in its
output. RFC 5321 4.1.1.1: the first line of the EHLO reply is the server's domain
and free text; keywords start at the second line. This script keeps the lines
apart. It sends only EHLO and QUIT (no HELP, no mail transaction).

Written for mailtls (https://nmap.org/book/nse.html); mailtls reads the structured
output, and keeps smtp-commands for the HELP text.
]]

---
-- @usage
-- nmap -p 25,465,587 --script /path/to/mailtls/nse/mailtls-ehlo.nse <host>
--
-- @output
-- 25/tcp open  smtp
-- | mailtls-ehlo:
-- |   banner: 220 mx.example ESMTP
-- |   greeting: mx.example Hello, STARTTLS
-- |   keywords:
-- |     PIPELINING
-- |_    8BITMIME
--
-- When the exchange fails (a refused greeting or EHLO, no answer), the output
-- has an "error" instead of "greeting" and "keywords":
-- | mailtls-ehlo:
-- |   banner: 421 4.3.2 try later
-- |_  error: greeting 421 4.3.2 try later
--
-- @xmloutput
-- <elem key="banner">220 mx.example ESMTP</elem>
-- <elem key="greeting">mx.example Hello, STARTTLS</elem>
-- <table key="keywords">
--   <elem>PIPELINING</elem>
--   <elem>8BITMIME</elem>
-- </table>

author = "mailtls"
license = "Same as Nmap--See https://nmap.org/book/man-legal.html"
categories = {"discovery", "safe"}

portrule = shortport.port_or_service({25, 465, 587}, {"smtp", "smtps", "submission"})

-- RFC 5321 4.5.3.1.5: a reply line is at most 512 octets. A hostile server may send
-- more, or never stop: both are cut off here.
local MAX_LINE = 512
local MAX_LINES = 100
local MAX_BYTES = 64 * 1024

local function clip(line)
  if #line > MAX_LINE then
    return line:sub(1, MAX_LINE) .. "..."
  end
  return line
end

-- Reads one (possibly multi-line) SMTP reply, starting with what was already received.
-- Returns true and its lines, or false and why not.
local function read_reply(socket, pending)
  local buffer = pending or ""
  local lines = {}
  while true do
    while true do
      local eol = buffer:find("\n", 1, true)
      if not eol then break end
      local line = buffer:sub(1, eol - 1):gsub("\r$", "")
      buffer = buffer:sub(eol + 1)
      lines[#lines + 1] = clip(line)
      -- "250-" continues the reply; anything else ends it (RFC 5321 4.2.1).
      if not line:match("^%d%d%d%-") then
        return true, lines
      end
      if #lines >= MAX_LINES then
        return false, ("more than %d reply lines"):format(MAX_LINES)
      end
    end
    if #buffer > MAX_BYTES then
      return false, ("a reply line longer than %d bytes"):format(MAX_BYTES)
    end
    local status, data = socket:receive()
    if not status then
      if #lines > 0 or #buffer > 0 then
        return false, ("the reply stopped before its last line (%s)"):format(data)
      end
      return false, ("no reply (%s)"):format(data)
    end
    buffer = buffer .. data
  end
end

-- The text after the reply code and its separator ("250-", "250 " or "250").
local function text_of(line)
  return (line:gsub("^%d%d%d[- ]?", ""))
end

action = function(host, port)
  local out = stdnse.output_table()
  local socket, received = smtp.connect(host, port, {timeout = 10000, recv_before = true, ssl = true})
  if not socket then
    out.error = ("no connection (%s)"):format(received or "unknown error")
    return out
  end

  local ok, banner = read_reply(socket, received)
  if not ok then
    out.error = ("greeting: %s"):format(banner)
    socket:close()
    return out
  end
  out.banner = banner[1]
  if not banner[#banner]:match("^2%d%d") then
    out.error = ("greeting %s"):format(banner[#banner])
    smtp.quit(socket)
    return out
  end

  local sent = socket:send(("EHLO %s\r\n"):format(smtp.get_domain(host)))
  if not sent then
    out.error = "EHLO could not be sent"
    socket:close()
    return out
  end
  local reply
  ok, reply = read_reply(socket)
  if not ok then
    out.error = ("EHLO: %s"):format(reply)
    socket:close()
    return out
  end
  if not reply[#reply]:match("^250") then
    out.error = ("EHLO %s"):format(reply[#reply])
    smtp.quit(socket)
    return out
  end

  out.greeting = text_of(reply[1])
  local keywords = {}
  for i = 2, #reply do
    keywords[#keywords + 1] = text_of(reply[i])
  end
  out.keywords = keywords
  smtp.quit(socket)
  return out
end
