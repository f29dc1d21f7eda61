-- claim: take due messages for delivery, each with a new claim (its fencing token).
-- KEYS     none (the schedule's keys are named by helpers.lua)
-- ARGV[1]  now, epoch ms    ARGV[2]  at most this many    ARGV[3]  lease, ms
-- Returns  a flat list: id, claim, id, claim…
local ids = redis.call('ZRANGEBYSCORE', prefix .. 'due', '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
local out = {}
local lease_until = tonumber(ARGV[1]) + tonumber(ARGV[3])
for _, id in ipairs(ids) do
  redis.call('ZREM', prefix .. 'due', id)
  if redis.call('EXISTS', mkey(id)) == 1 then
    local claim = redis.call('HINCRBY', mkey(id), 'claim', 1)
    redis.call('ZADD', prefix .. 'inflight', lease_until, id)
    history(id, ARGV[1], 'queued')
    table.insert(out, id)
    table.insert(out, claim)
  end
end
return out
