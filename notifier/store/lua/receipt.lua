-- receipt: a provider's delivery receipt. A failure re-opens a sent message for its
-- next channel, due now.
-- KEYS     none
-- ARGV[1]  message id   ARGV[2]  'delivered' or 'failed'   ARGV[3]  channel
-- ARGV[4]  now, epoch ms   ARGV[5]  detail   ARGV[6]  provider reference ('' if unknown)
-- Returns  'missing' | 'other-attempt' | 'ignored' | 'delivered' | 'fallback'
local id, outcome, channel = ARGV[1], ARGV[2], ARGV[3]
local f = redis.call('HMGET', mkey(id), 'history', 'excluded', 'reference')
local status = status_in(f[1])
if not status then return 'missing' end
if f[3] and ARGV[6] ~= '' and f[3] ~= ARGV[6] then return 'other-attempt' end
if outcome == 'delivered' then
  if status ~= 'sent' then return 'ignored' end
  history(id, ARGV[4], 'delivered', ARGV[5], channel)
  return 'delivered'
end
if status ~= 'sent' and status ~= 'delivered' then return 'ignored' end
local excluded = f[2] and (f[2] .. ',' .. channel) or channel
redis.call('HSET', mkey(id), 'excluded', excluded, 'due', ARGV[4])
redis.call('HDEL', mkey(id), 'reference')
redis.call('PERSIST', mkey(id))
redis.call('ZADD', prefix .. 'due', ARGV[4], id)
add_id(prefix .. 'subjects', subject_of(id), id)
history(id, ARGV[4], 'scheduled', 'not delivered on ' .. channel .. ': ' .. ARGV[5] ..
        '; trying the next channel', channel)
return 'fallback'
