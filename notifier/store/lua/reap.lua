-- reap: claims whose lease expired (their worker died) go back to the schedule, due now.
-- KEYS     none
-- ARGV[1]  now, epoch ms    ARGV[2]  at most this many
-- Returns  how many leases had expired
local ids = redis.call('ZRANGEBYSCORE', prefix .. 'inflight', '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, id in ipairs(ids) do
  redis.call('ZREM', prefix .. 'inflight', id)
  local status = status_of(id)
  if status == 'queued' or status == 'sending' then
    redis.call('HSET', mkey(id), 'due', ARGV[1])
    redis.call('ZADD', prefix .. 'due', ARGV[1], id)
    history(id, ARGV[1], 'scheduled', 'claim lease expired while ' .. status .. '; rescheduled')
  end
end
return #ids
