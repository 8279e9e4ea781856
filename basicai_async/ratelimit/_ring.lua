-- The shared ring of one API key: every decision of RedisLimiter, atomically, on Redis time.
--
-- KEYS[1]  the ring: stamp number s lives in the 8-byte slot (s - 1) % size, as a
--          big-endian double holding whole microseconds (exact below 2^53). A stamp is
--          the time a call left (or, for 'A', was admitted); stamps are written in time
--          order, so the ring is sorted.
-- KEYS[2]  the meta hash: config, seq (stamps so far), last (latest time used),
--          pause (no admission before it), undo (the slot the latest 'A' admission
--          overwrote), p1..pW (per window, the oldest stamp still inside it), and
--          h:<holder> = '<pending>:<lease end>' per process holding reservations: calls
--          admitted and not sent yet, counted as taking their places now in every window.
--          A holder whose lease ended (a process gone) stops counting.
--          c:<holder> = the time a queueing holder was told to come back (its claim on
--          a slot to free). A claim is live until that time plus the grace; a holder's
--          admission (or a take-back) ends it. Claims only decide what waits are told:
--          each refused queueing holder is told the (k+1)-th slot to free, k the other
--          holders' live claims, so k processes waiting on a full window wake one per
--          freed slot instead of all at the first. Admissions never look at claims.
-- ARGV     op, config, size, ttl_ms, op argument, now override ('' in production:
--          Redis TIME), holder, lease_us, grace_us (a claim's life past its time), stamps
--          (this holder's reservations sent since its last call: stamped now, before the
--          op), nwin, then count, length_us per window, then (op 'b') the ages in
--          microseconds of calls to stamp in the past, oldest first.
-- ops      'a' admit as a reservation (pending), 'A' admit stamped now (for both, arg says
--          how the holder's process queues: 0 not at all (try_acquire: never claims), 1 one
--          waiter (claims when refused), 2 + h more waiters behind (also claims its next
--          slot after an admission, no sooner than h microseconds from now: its pace)),
--          'p' peek, 'r' take back stamped admission number arg if it is still the latest,
--          'u' take back arg reservations of this holder ('r' and 'u' end its claim),
--          's' pause arg microseconds, 't' only the stamps, 'b' the stamps and the past calls.
-- Reply    {status, now, value, pause_left, next_wait, count_1, ..., count_W}: status 1
--          admitted (value = the stamp's seq for 'A', 0 for 'a'), 0 refused (value = the
--          exact wait, or for a claim the wait until its slot); next_wait is the wait for
--          the next admission as things stand after this call (a lower bound while
--          reservations are pending; the wait until its next claim's slot when one was
--          made); -1 another config holds the key ({-1, config}). Integers only: Lua 5.1
--          prints big floats as 1.7e+15, so every number that leaves this script is whole
--          microseconds.
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
local holder = 'h:' .. ARGV[7]
local claim = 'c:' .. ARGV[7]
local lease = tonumber(ARGV[8])
local grace = tonumber(ARGV[9])
local sent = tonumber(ARGV[10])
local nwin = tonumber(ARGV[11])
local first_age = 12 + 2 * nwin

local raw = redis.call('HGETALL', KEYS[2])
local m = {}
for i = 1, #raw, 2 do m[raw[i]] = raw[i + 1] end
if m['config'] and m['config'] ~= config then
  return {-1, m['config']}
end
local seq = tonumber(m['seq'] or '0')
if seq > 0 and redis.call('EXISTS', KEYS[1]) == 0 then
  seq = 0 -- the ring was evicted (maxmemory-policy is not noeviction): start over
end
local last = tonumber(m['last'] or '0')
local pause = tonumber(m['pause'] or '0')
-- Times never go back: a Redis clock stepped backwards (or a failover to a host
-- behind) counts as standing still, so no window can look emptier than it was.
if now < last then now = last end

local function fmt(x) return string.format('%.0f', x) end
local function at(s)
  local off = ((s - 1) % size) * 8
  return struct.unpack('>d', redis.call('GETRANGE', KEYS[1], off, off + 7))
end

-- The reservations pending, of every live holder and of this one; the other holders'
-- live claims; dead leases and claims go.
local pending, mine, claims, claimed = 0, 0, 0, false
local dead = {}
for field, value in pairs(m) do
  local kind = string.sub(field, 1, 2)
  if kind == 'h:' then
    local colon = string.find(value, ':', 1, true)
    local count, ends = tonumber(string.sub(value, 1, colon - 1)), tonumber(string.sub(value, colon + 1))
    if ends <= now then
      dead[#dead + 1] = field
    else
      pending = pending + count
      if field == holder then mine = count end
    end
  elseif kind == 'c:' then
    if tonumber(value) + grace <= now then
      dead[#dead + 1] = field
    elseif field == claim then
      claimed = true
    else
      claims = claims + 1
    end
  end
end
if #dead > 0 then redis.call('HDEL', KEYS[2], unpack(dead)) end
local function unclaim()
  if claimed then
    redis.call('HDEL', KEYS[2], claim)
    claimed = false
  end
end

local w = {} -- the meta fields to write
local stamped = false
local function stamp(t)
  -- Append stamp t (>= every stamp before it) to the ring.
  seq = seq + 1
  if seq == 1 then
    -- Allocate the whole ring at once: one exact allocation instead of a string
    -- that doubles its way up (and overshoots) as it fills.
    redis.call('SETRANGE', KEYS[1], (size - 1) * 8, struct.pack('>d', 0))
  end
  redis.call('SETRANGE', KEYS[1], ((seq - 1) % size) * 8, struct.pack('>d', t))
  if t > last then last = t end
  stamped = true
end

-- This holder's reservations sent since its last call: stamped now (all of them, even
-- past a lease that ended: they did leave).
for _ = 1, sent do stamp(now) end
if sent > mine then sent = mine end
mine = mine - sent
pending = pending - sent
if op == 'b' then
  -- Calls made while Redis was away, by age: each at its own time, or at the latest
  -- stamp if that is later (the ring stays sorted; later is never unsafe).
  local latest = 0
  if seq > 0 then latest = at(seq) end
  for i = first_age, #ARGV do
    local t = now - tonumber(ARGV[i])
    if t < latest then t = latest end
    stamp(t)
    latest = t
  end
end
if op == 'u' or op == 'r' then unclaim() end
if op == 'u' then
  if arg > mine then arg = mine end
  mine = mine - arg
  pending = pending - arg
end
if stamped then
  w[#w + 1] = 'seq'; w[#w + 1] = fmt(seq)
  w[#w + 1] = 'last'; w[#w + 1] = fmt(last)
  w[#w + 1] = 'undo'; w[#w + 1] = '' -- a stamp came after the latest 'A' admission
end

local function finish(reply)
  if mine > 0 then
    w[#w + 1] = holder; w[#w + 1] = mine .. ':' .. fmt(now + lease)
  elseif m[holder] then
    redis.call('HDEL', KEYS[2], holder)
  end
  if #w > 0 then
    w[#w + 1] = 'config'; w[#w + 1] = config
    redis.call('HSET', KEYS[2], unpack(w))
    local keep = ttl
    if mine > 0 and lease > keep then keep = lease end
    if pause - now + 1000 > keep then keep = pause - now + 1000 end
    if seq > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
    if redis.call('PTTL', KEYS[2]) < keep then redis.call('PEXPIRE', KEYS[2], keep) end
  end
  return reply
end

local pause_left = 0
if pause > now then pause_left = pause - now end

if op == 'r' then
  -- Take back admission number arg if nothing came after it: a waiter that was
  -- cancelled before using it leaves the quota as it found it.
  if seq ~= arg or seq == 0 or stamped then return finish({0, now, 0, 0, 0}) end
  if seq > size then
    -- The slot held the oldest stamp; put it back (once: undo is spent with it).
    if not m['undo'] or #m['undo'] ~= 8 then return finish({0, now, 0, 0, 0}) end
    redis.call('SETRANGE', KEYS[1], ((seq - 1) % size) * 8, m['undo'])
  end
  w[#w + 1] = 'seq'; w[#w + 1] = fmt(seq - 1)
  w[#w + 1] = 'undo'; w[#w + 1] = ''
  for i = 1, nwin do
    local p = tonumber(m['p' .. i] or '1')
    if p > seq then w[#w + 1] = 'p' .. i; w[#w + 1] = fmt(seq) end
  end
  return finish({1, now, seq - 1, 0, 0})
end

if op == 's' then
  local until_ = now + arg
  if until_ > pause then
    pause = until_
    w[#w + 1] = 'pause'; w[#w + 1] = fmt(pause)
  end
  return finish({1, now, 0, pause - now, 0})
end

-- Slide each window's pointer past the stamps that left it (amortised O(1): each
-- stamp is passed once per window) and count: the stamps inside, plus the pending.
local inside = {}
local function slide()
  for i = 1, nwin do
    local n = tonumber(ARGV[10 + 2 * i])
    local len = tonumber(ARGV[11 + 2 * i])
    local p = tonumber(m['p' .. i] or '1')
    local lo = seq - n + 1 -- only the n most recent can be inside a full window
    if p < lo then p = lo end
    if p < 1 then p = 1 end
    if p > seq + 1 then p = seq + 1 end
    while p <= seq and at(p) + len <= now do p = p + 1 end
    if seq > 0 and tostring(p) ~= m['p' .. i] then
      w[#w + 1] = 'p' .. i; w[#w + 1] = fmt(p)
      m['p' .. i] = tostring(p)
    end
    inside[i] = seq - p + 1
  end
end

-- The wait until one more call could be admitted after k others (claims, each to
-- take a slot before it; 0: the next admission): in each window that the pending and
-- the k fill, until the (n - pending - k)-th most recent stamp leaves it; past the
-- stamps, a whole window at least (the pending and the claims can only be stamped now
-- or later).
local function wait_now(k)
  local wait = pause_left
  for i = 1, nwin do
    local n = tonumber(ARGV[10 + 2 * i])
    local len = tonumber(ARGV[11 + 2 * i])
    local ahead = pending + k
    if inside[i] + ahead >= n then
      local x = len
      if ahead < n then x = at(seq - (n - ahead) + 1) + len - now end
      if x > wait then wait = x end
    end
  end
  return wait
end

-- This holder's claim on the slot it is told to wait for (after the others' claims),
-- no sooner than hold microseconds from now. A claim of room free now (a wait of 0)
-- counts too: the others' next claims leave it to this holder, instead of all racing for it.
local function claim_next(hold)
  local wait = wait_now(claims)
  if wait < hold then wait = hold end
  w[#w + 1] = claim; w[#w + 1] = fmt(now + wait)
  claimed = false -- replaced, not to be deleted
  return wait
end

local function counts_into(reply)
  for i = 1, nwin do reply[#reply + 1] = inside[i] + pending end
  return reply
end

slide()
local wait = wait_now(0)
local admitting = op == 'a' or op == 'A'
if not admitting or wait > 0 then
  if admitting and arg >= 1 then wait = claim_next(0) end
  return finish(counts_into({0, now, wait, pause_left, wait}))
end

local value = 0
if op == 'A' then
  local off
  if seq >= size then
    off = (seq % size) * 8
    local undo = redis.call('GETRANGE', KEYS[1], off, off + 7)
    stamp(now)
    w[#w + 1] = 'seq'; w[#w + 1] = fmt(seq)
    w[#w + 1] = 'last'; w[#w + 1] = fmt(last)
    w[#w + 1] = 'undo'; w[#w + 1] = undo
  else
    stamp(now)
    w[#w + 1] = 'seq'; w[#w + 1] = fmt(seq)
    w[#w + 1] = 'last'; w[#w + 1] = fmt(last)
  end
  for i = 1, nwin do inside[i] = inside[i] + 1 end
  value = seq
else
  mine = mine + 1
  pending = pending + 1
end
local next_wait
if arg >= 2 then
  next_wait = claim_next(arg - 2) -- more wait in this process: its next slot, after the others' claims
else
  unclaim()
  next_wait = wait_now(0)
end
return finish(counts_into({1, now, value, pause_left, next_wait}))
