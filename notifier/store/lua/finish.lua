-- finish: record how an attempt ended; final, or back to the schedule for a retry.
-- KEYS     none
-- ARGV[1]  message id   ARGV[2]  claim   ARGV[3]  status   ARGV[4]  now, epoch ms
-- ARGV[5]  detail   ARGV[6]  channel   ARGV[7]  retention of a final record, s
-- ARGV[8]  retry at, epoch ms ('' if final)   ARGV[9]  provider reference ('' if none)
-- ARGV[10] channel to exclude from now on ('' if none: its retries ran out, the next try
--          starts afresh on the next channel)
-- ARGV[11] '1' if the message went in its discreet wording, '0' if not, '' if not known
--          (kept with a send)
-- ARGV[12…20] optionally, the next occurrence of a series: the 9 values of schedule();
--          a series whose rule was cancelled on its subject meanwhile gets none
-- Returns  1, or 0 when the claim is not the current one (nothing changes)
local id = ARGV[1]
local f = redis.call('HMGET', mkey(id), 'claim', 'history')
if f[1] ~= ARGV[2] then return 0 end
-- two attempts of one claim may both finish (see begin_send.lua): a send, once recorded, stays
if status_in(f[2]) == 'sent' and ARGV[3] ~= 'sent' then return 0 end
redis.call('HDEL', mkey(id), 'provider_call', 'provider_call_at')
if ARGV[9] ~= '' then redis.call('HSET', mkey(id), 'reference', ARGV[9]) end
if ARGV[3] == 'sent' and ARGV[11] ~= '' then redis.call('HSET', mkey(id), 'discreet', ARGV[11])
elseif ARGV[3] == 'sent' then redis.call('HDEL', mkey(id), 'discreet') end
history(id, ARGV[4], ARGV[3], ARGV[5], ARGV[6])
if ARGV[3] == 'permanent-failure' or ARGV[3] == 'technical-failure' or ARGV[3] == 'expired' then
  -- the support console's "failures of the last 24 h": a day of ids, trimmed as it goes
  redis.call('ZADD', prefix .. 'failures', ARGV[4], id)
  redis.call('ZREMRANGEBYSCORE', prefix .. 'failures', '-inf', tonumber(ARGV[4]) - 86400000)
end
if ARGV[12] and redis.call('EXISTS', prefix .. 'stopped:' .. ARGV[14] .. ':' .. ARGV[15]) == 0 then
  schedule(12, ARGV[4], 'next in series after ' .. id)
  add_gathered()
end
if ARGV[10] ~= '' then
  local excluded = redis.call('HGET', mkey(id), 'excluded')
  redis.call('HSET', mkey(id), 'excluded', excluded and (excluded .. ',' .. ARGV[10]) or ARGV[10])
  redis.call('HDEL', mkey(id), 'attempts')
elseif ARGV[8] ~= '' and ARGV[3] == 'temporary-failure' then
  redis.call('HINCRBY', mkey(id), 'attempts', 1)
end
if ARGV[8] ~= '' then
  redis.call('ZREM', prefix .. 'inflight', id)
  redis.call('ZADD', prefix .. 'due', ARGV[8], id)
  redis.call('HSET', mkey(id), 'due', ARGV[8])
elseif ARGV[3] == 'withheld' then
  withhold(id, tonumber(ARGV[7]))
else
  finalize(id, subject_of(id), tonumber(ARGV[7]))
end
return 1
