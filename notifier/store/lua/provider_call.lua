-- provider_call: mark a provider call about to start, and count the message in every cap
-- window (once: a message already counted passes again), if this attempt still owns it
-- (a later attempt of the same claim takes it over); count the call ('calls': the API's attempts).
-- KEYS     the cap counters (sliding windows, sorted sets)
-- ARGV[1]  message id   ARGV[2]  claim   ARGV[3]  attempt token   ARGV[4]  channel
-- ARGV[5]  now, epoch ms, then (max, period ms) for each key, in order
-- Returns  1 marked, 0 taken over, -i if window i is full (then nothing counted or marked)
local id, now = ARGV[1], tonumber(ARGV[5])
local f = redis.call('HMGET', mkey(id), 'claim', 'attempt')
if f[1] ~= ARGV[2] or f[2] ~= ARGV[3] then return 0 end
for i, key in ipairs(KEYS) do
  local max, period = tonumber(ARGV[4 + 2 * i]), tonumber(ARGV[5 + 2 * i])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - period)
  if redis.call('ZCARD', key) >= max and redis.call('ZSCORE', key, id) == false then
    return -i
  end
end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, id)
  redis.call('PEXPIRE', key, tonumber(ARGV[5 + 2 * i]))
end
redis.call('HSET', mkey(id), 'provider_call', ARGV[4], 'provider_call_at', server_ms())
redis.call('HINCRBY', mkey(id), 'calls', 1)
return 1
