"""The Lua scripts of the Redis bus.

Each script runs atomically inside Redis, which is what makes a publish
all-or-nothing for readers: the stream entries, the sticky values and the top
change together. Lua does not roll back a half-run script, so every check that
can refuse a batch runs before the first write.

Numbers travel as decimal strings and are formatted with ``%d`` because Lua's
default number formatting switches to exponent notation for large values.
"""

from __future__ import annotations

_READ_TOP = r"""
-- The top key holds '<seq>:<epoch>'; absent means nothing was published.
local function read_top(key)
  local top = redis.call('GET', key)
  if not top then
    return 0, 0
  end
  local s, e = string.match(top, '^(%d+):(%d+)$')
  return tonumber(s), tonumber(e)
end
"""

PUBLISH = (
    _READ_TOP
    + r"""
-- KEYS: 1 pubs stream, 2 meta hash, 3 top, 4 sticky seq hash, 5 log trimmed-through hash,
--       5+i the room key of publication i (its template's sticky hash, or its log stream)
-- ARGV: 1 pubs keep (publications), 2 replay window, 3 run id for a new meta hash,
--       then five per publication: kind ('s' or 'l'), seq, epoch, room, envelope
local PER = 5
local n = (#ARGV - 3) / PER
local function arg(i, k) return ARGV[3 + (i - 1) * PER + k] end

local top_seq, top_epoch = read_top(KEYS[3])
local first_seq, first_epoch = tonumber(arg(1, 2)), tonumber(arg(1, 3))
local last_seq = tonumber(arg(n, 2))

if first_seq <= top_seq then
  -- A retry of a batch that was applied but whose reply was lost is
  -- recognised by its last entry, byte for byte, and is not applied twice.
  if last_seq <= top_seq then
    local id = arg(n, 2) .. '-0'
    local held = redis.call('XRANGE', KEYS[1], id, id)
    if #held == 1 and held[1][2][2] == arg(n, 5) then
      return 0
    end
  end
  return redis.error_reply('STALE publication seq ' .. arg(1, 2) ..
    ' is not after the bus top seq ' .. string.format('%d', top_seq))
end
if first_epoch < top_epoch then
  return redis.error_reply('FENCED publication epoch ' .. arg(1, 3) ..
    ' is older than the bus top epoch ' .. string.format('%d', top_epoch))
end
-- The stream's last ID can only exceed the top if keys were changed behind
-- the bus's back; refuse before writing anything rather than half-apply.
local probe = redis.pcall('XADD', KEYS[1], arg(1, 2) .. '-0', 'e', arg(1, 5))
if type(probe) == 'table' and probe.err then
  return redis.error_reply('STALE ' .. probe.err)
end

local window = tonumber(ARGV[2])
for i = 1, n do
  local seq, room, env = arg(i, 2), arg(i, 4), arg(i, 5)
  if i > 1 then
    redis.call('XADD', KEYS[1], seq .. '-0', 'e', env)
  end
  if arg(i, 1) == 's' then
    local held = redis.call('HGET', KEYS[4], room)
    if (not held) or tonumber(held) < tonumber(seq) then
      redis.call('HSET', KEYS[4], room, seq)
      redis.call('HSET', KEYS[5 + i], room, env)
    end
  else
    if redis.call('EXISTS', KEYS[5 + i]) == 0 then
      -- A new stream (or one retired before): it holds nothing up to the last retired seq.
      local retired = redis.call('HGET', KEYS[2], 'retired')
      if retired then
        redis.call('HSET', KEYS[5], room, retired)
      end
    end
    redis.call('XADD', KEYS[5 + i], seq .. '-0', 'e', env)
    local excess = redis.call('XLEN', KEYS[5 + i]) - window
    if excess > 0 then
      -- Exact trimming, remembering the last seq dropped, so history() knows
      -- precisely which resume points are lost (seqs are sparse per room).
      local gone = redis.call('XRANGE', KEYS[5 + i], '-', '+', 'COUNT', excess)
      redis.call('XTRIM', KEYS[5 + i], 'MAXLEN', window)
      redis.call('HSET', KEYS[5], room, string.match(gone[#gone][1], '^(%d+)'))
    end
  end
end

-- The global stream is trimmed by seq (IDs are seqs), approximately for
-- speed; 'trimmed' is an upper bound of what may be gone, so a tailing reader
-- that is behind it resyncs rather than skipping silently.
local keep = tonumber(ARGV[1])
if last_seq > keep then
  local cut = last_seq - keep
  redis.call('XTRIM', KEYS[1], 'MINID', '~', string.format('%d', cut + 1) .. '-0')
  redis.call('HSET', KEYS[2], 'trimmed', string.format('%d', cut))
end
local created = redis.call('HSETNX', KEYS[2], 'run', ARGV[3])
if created == 1 then
  -- Redis lost (or never had) this deployment's keys: the bus holds nothing
  -- before this batch.
  local floor = string.format('%d', first_seq - 1)
  redis.call('HSET', KEYS[2], 'floor', floor, 'origin', floor)
end
redis.call('SET', KEYS[3], arg(n, 2) .. ':' .. arg(n, 3))
return {n, created}
"""
)

RESTORE_STICKY = r"""
-- KEYS: 1 sticky seq hash, 1+i the sticky hash of the template of publication i
-- ARGV: three per publication: seq, room, envelope
-- Writes only values newer than what Redis holds, so restoring an older
-- database snapshot never moves a room backwards.
local n = #ARGV / 3
local restored = 0
for i = 1, n do
  local seq, room = ARGV[3 * i - 2], ARGV[3 * i - 1]
  local held = redis.call('HGET', KEYS[1], room)
  if (not held) or tonumber(held) < tonumber(seq) then
    redis.call('HSET', KEYS[1], room, seq)
    redis.call('HSET', KEYS[1 + i], room, ARGV[3 * i])
    restored = restored + 1
  end
end
return restored
"""

RESTORE_TOP = (
    _READ_TOP
    + r"""
-- KEYS: 1 pubs stream, 2 meta hash, 3 top
-- ARGV: 1 top seq, 2 top epoch, 3 run id for a new meta hash
local seq, epoch = tonumber(ARGV[1]), tonumber(ARGV[2])
local cur_seq, cur_epoch = read_top(KEYS[3])
if redis.call('EXISTS', KEYS[2]) == 0 then
  -- A new run: the bus holds no history before the hub's position.
  redis.call('HSET', KEYS[2], 'run', ARGV[3], 'floor', ARGV[1], 'origin', ARGV[1])
elseif cur_seq < seq then
  -- The hub committed publications that never reached the bus (it stopped
  -- between commit and publish): resuming across them is impossible, and a
  -- gap entry tells tailing readers exactly where, in stream order.
  redis.call('HSET', KEYS[2], 'floor', ARGV[1])
  redis.call('XADD', KEYS[1], ARGV[1] .. '-0', 'gap', string.format('%d', cur_seq))
end
-- Never rewinds: a newer leadership term at the same seq is still news.
if seq > cur_seq or (seq == cur_seq and epoch > cur_epoch) then
  redis.call('SET', KEYS[3], ARGV[1] .. ':' .. ARGV[2])
end
return 1
"""
)

HISTORY = r"""
-- KEYS: 1 the room's log stream, 2 meta hash, 3 log trimmed-through hash
-- ARGV: 1 since, 2 room
-- Returns {floor or -1 when the bus has no meta, trimmed-through, entries}:
-- read together so no trim can slip between the check and the read. A room
-- without a stream may have been retired: anything up to the last seq ever
-- retired counts as trimmed.
local floor = redis.call('HGET', KEYS[2], 'floor')
if not floor then
  return {-1, 0, {}}
end
local trimmed = redis.call('HGET', KEYS[3], ARGV[2]) or '0'
if redis.call('EXISTS', KEYS[1]) == 0 then
  trimmed = redis.call('HGET', KEYS[2], 'retired') or '0'
end
local entries = redis.call('XRANGE', KEYS[1], '(' .. ARGV[1] .. '-0', '+')
return {tonumber(floor), tonumber(trimmed), entries}
"""

RETIRE = r"""
-- KEYS: 1 sticky seq hash, 2 log trimmed-through hash, 3 meta hash,
--       3+i the key of room i (its template's sticky hash, or its log stream)
-- ARGV: three per room: kind ('s' or 'l'), room, through (its last seq that may go)
-- A room published after its 'through' stays. A log room's last seq raises
-- meta's 'retired', which history() of a room without a stream respects.
local n = #ARGV / 3
local retired = tonumber(redis.call('HGET', KEYS[3], 'retired') or '0')
local raised = false
for i = 1, n do
  local kind, room, through = ARGV[3 * i - 2], ARGV[3 * i - 1], tonumber(ARGV[3 * i])
  if kind == 's' then
    local held = redis.call('HGET', KEYS[1], room)
    if held and tonumber(held) <= through then
      redis.call('HDEL', KEYS[1], room)
      redis.call('HDEL', KEYS[3 + i], room)
    end
  else
    local last = redis.call('XREVRANGE', KEYS[3 + i], '+', '-', 'COUNT', 1)
    if #last == 1 then
      local seq = tonumber(string.match(last[1][1], '^(%d+)'))
      if seq <= through then
        redis.call('DEL', KEYS[3 + i])
        redis.call('HDEL', KEYS[2], room)
        if seq > retired then
          retired, raised = seq, true
        end
      end
    end
  end
end
-- Only a bus that has a run keeps its marks: meta without one would pass for
-- a run that never began.
if raised and redis.call('HEXISTS', KEYS[3], 'run') == 1 then
  redis.call('HSET', KEYS[3], 'retired', string.format('%d', retired))
end
return 1
"""
