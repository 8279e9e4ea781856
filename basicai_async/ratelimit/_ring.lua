-- The shared ring of one API key: every decision of RedisLimiter, atomically, on Redis time.
--
-- KEYS[1]  the ring: admission number s lives in the 8-byte slot (s - 1) % size, as a
--          big-endian double holding whole microseconds (exact below 2^53)
-- KEYS[2]  the meta hash: config, seq (admissions so far), last (latest time used),
--          pause (no admission before it), undo (the slot the latest admission
--          overwrote), p1..pW (per window, the oldest admission still inside it)
-- ARGV     op ('a' acquire, 'p' peek, 'r' refund, 's' pause), config, size, ttl_ms,
--          op argument (refund: the seq to take back; pause: microseconds),
--          now override ('' in production: Redis TIME), then count, length_us per window
-- Reply    {status, now, value, pause_left, count_1, ..., count_W}: status 1 admitted
--          (value = its seq), 0 refused (value = the exact wait); -1 another config
--          holds the key ({-1, config}). Integers only: Lua 5.1 prints big floats as
--          1.7e+15, so every number that leaves this script is whole microseconds.
if redis.replicate_commands then
  redis.replicate_commands() -- Redis < 5 needs it to write after TIME; later ones ignore it
end
local op = ARGV[1]
local config = ARGV[2]
local size = tonumber(ARGV[3])
local ttl = tonumber(ARGV[4])
local arg = tonumber(ARGV[5])
local now
if ARGV[6] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
else
  now = tonumber(ARGV[6])
end
local nwin = (#ARGV - 6) / 2
local fields = {'config', 'seq', 'last', 'pause', 'undo'}
for i = 1, nwin do fields[5 + i] = 'p' .. i end
local m = redis.call('HMGET', KEYS[2], unpack(fields))
if m[1] and m[1] ~= config then
  return {-1, m[1]}
end
local seq = tonumber(m[2] or '0')
if seq > 0 and redis.call('EXISTS', KEYS[1]) == 0 then
  seq = 0 -- the ring was evicted (maxmemory-policy is not noeviction): start over
end
local last = tonumber(m[3] or '0')
local pause = tonumber(m[4] or '0')
-- Times never go back: a Redis clock stepped backwards (or a failover to a host
-- behind) counts as standing still, so no window can look emptier than it was.
if now < last then now = last end

local function fmt(x) return string.format('%.0f', x) end
local function at(s)
  local off = ((s - 1) % size) * 8
  return struct.unpack('>d', redis.call('GETRANGE', KEYS[1], off, off + 7))
end

local out = {}
local function counts_into(reply, extra)
  for i = 1, nwin do reply[#reply + 1] = out[i] + extra end
  return reply
end

if op == 'r' then
  -- Take back admission number arg if nothing came after it: a waiter that was
  -- cancelled before using it leaves the quota as it found it.
  if seq ~= arg or seq == 0 then return {0, now, 0, 0} end
  if seq > size then
    -- The slot held the oldest admission; put it back (once: undo is spent with it).
    if not m[5] or #m[5] ~= 8 then return {0, now, 0, 0} end
    redis.call('SETRANGE', KEYS[1], ((seq - 1) % size) * 8, m[5])
  end
  local w = {'seq', fmt(seq - 1), 'undo', ''}
  for i = 1, nwin do
    local p = tonumber(m[5 + i] or '1')
    if p > seq then w[#w + 1] = 'p' .. i; w[#w + 1] = fmt(seq) end
  end
  redis.call('HSET', KEYS[2], unpack(w))
  return {1, now, seq - 1, 0}
end

if op == 's' then
  local until_ = now + arg
  if until_ > pause then
    pause = until_
    redis.call('HSET', KEYS[2], 'config', config, 'pause', fmt(pause))
    local keep = math.ceil((pause - now) / 1000) + 1000
    if keep < ttl then keep = ttl end
    if redis.call('PTTL', KEYS[2]) < keep then redis.call('PEXPIRE', KEYS[2], keep) end
  end
  return {1, now, 0, pause - now}
end

-- 'a' and 'p': slide each window's pointer past the admissions that left it
-- (amortised O(1): each admission is passed once per window), count, and find the wait.
local wait = 0
if pause > now then wait = pause - now end
local moved = {}
for i = 1, nwin do
  local n = tonumber(ARGV[5 + 2 * i])
  local len = tonumber(ARGV[6 + 2 * i])
  local p = tonumber(m[5 + i] or '1')
  local lo = seq - n + 1 -- only the n most recent can be inside a full window
  if p < lo then p = lo end
  if p < 1 then p = 1 end
  if p > seq + 1 then p = seq + 1 end
  while p <= seq and at(p) + len <= now do p = p + 1 end
  if seq > 0 and tostring(p) ~= m[5 + i] then
    moved[#moved + 1] = 'p' .. i
    moved[#moved + 1] = fmt(p)
  end
  out[i] = seq - p + 1
  if out[i] >= n then
    -- p is the n-th most recent admission: the next may go when it leaves the window.
    local w = at(p) + len - now
    if w > wait then wait = w end
  end
end

local pause_left = 0
if pause > now then pause_left = pause - now end
if op ~= 'a' or wait > 0 then
  if #moved > 0 then redis.call('HSET', KEYS[2], unpack(moved)) end
  return counts_into({0, now, wait, pause_left}, 0)
end

seq = seq + 1
local off = ((seq - 1) % size) * 8
local w = {'config', config, 'seq', fmt(seq), 'last', fmt(now)}
if seq > size then
  w[#w + 1] = 'undo'
  w[#w + 1] = redis.call('GETRANGE', KEYS[1], off, off + 7)
elseif seq == 1 then
  -- Allocate the whole ring at once: one exact allocation instead of a string
  -- that doubles its way up (and overshoots) as it fills.
  redis.call('SETRANGE', KEYS[1], (size - 1) * 8, struct.pack('>d', 0))
end
redis.call('SETRANGE', KEYS[1], off, struct.pack('>d', now))
for i = 1, #moved do w[#w + 1] = moved[i] end
redis.call('HSET', KEYS[2], unpack(w))
redis.call('PEXPIRE', KEYS[1], ttl)
if redis.call('PTTL', KEYS[2]) < ttl then redis.call('PEXPIRE', KEYS[2], ttl) end
return counts_into({1, now, seq, pause_left}, 1)
