-- support: a support agent's action on one message. Cancel: a pending message ends
-- cancelled. Resend: one that ended without reaching the person (failure, expired) is
-- scheduled again, due now, on all its channels. Unhold: one withheld while the person had
-- paused contact is scheduled again in the same way (they resumed and asked for what they
-- missed). Nothing changes when it does not apply.
-- KEYS     none
-- ARGV[1]  message id   ARGV[2]  'cancel', 'resend' or 'unhold'   ARGV[3]  now, epoch ms
-- ARGV[4]  reason   ARGV[5]  retention of a final record, s
-- Returns  {'missing'}, or {the status it had, 1 if it acted else 0}
local id, action, now_ms, reason = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local status = status_of(id)
if not status then return {'missing'} end
if action == 'cancel' and pending[status] then
  history(id, now_ms, 'cancelled', reason)
  finalize(id, subject_of(id), tonumber(ARGV[5]))
elseif (action == 'resend' and (status == 'permanent-failure' or status == 'technical-failure'
                                or status == 'expired'))
       or (action == 'unhold' and status == 'withheld') then
  redis.call('PERSIST', mkey(id))
  redis.call('HDEL', mkey(id), 'excluded', 'attempts', 'provider_call', 'provider_call_at')
  redis.call('HSET', mkey(id), 'due', now_ms)
  redis.call('ZADD', prefix .. 'due', now_ms, id)
  add_id(prefix .. 'subjects', subject_of(id), id)
  history(id, now_ms, 'scheduled', reason)
else
  return {status, 0}
end
return {status, 1}
