-- release: claims the broker may not have received go back to the schedule; the next
-- claim gets a new token, so a copy that did arrive is stale.
-- KEYS     none
-- ARGV[1]  now, epoch ms, then (message id, claim) pairs
-- Returns  1
for i = 2, #ARGV, 2 do
  local id = ARGV[i]
  local f = redis.call('HMGET', mkey(id), 'history', 'claim')
  if status_in(f[1]) == 'queued' and f[2] == ARGV[i + 1] then
    redis.call('ZREM', prefix .. 'inflight', id)
    redis.call('ZADD', prefix .. 'due', ARGV[1], id)
    history(id, ARGV[1], 'scheduled', 'enqueue failed; claimed again')
  end
end
return 1
