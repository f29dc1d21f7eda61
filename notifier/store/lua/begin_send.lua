-- begin_send: start a delivery attempt of a claimed message.
-- KEYS     none
-- ARGV[1]  message id   ARGV[2]  claim   ARGV[3]  now, epoch ms   ARGV[4]  send lease, ms
-- ARGV[5]  this attempt's token           ARGV[6]  call window, ms
-- Returns  {'missing'} | {'stale', status} | {'final', status} | {'busy', ms left} |
--          {'ok', body, attempts, interrupted call's channel or '', excluded channels,
--           the registered recipient's hash as a flat list, due ms or '', watched}
-- watched: '1' if a person of any tenant with discreet messages has one of the contacts
-- (the registered recipient's, else the message's: their keyed hashes are kept with each
-- as 'digests'; see notifier/store/safety_decisions.py), '0' if none has, '' if those
-- hashes were not kept (a record written before they were, or by a store without a key).
-- A provider call marked less than the call window ago may still be under way in another
-- attempt (Dramatiq redelivers the messages of a worker it believes dead, which after a
-- Redis outage may be alive): 'busy', and this attempt takes nothing over. The mark's age
-- is measured on the server's clock: it is stamped when it lands, which may be long after
-- the worker asked for it (a worker waits out an outage).
local id = ARGV[1]
local f = redis.call('HMGET', mkey(id), 'history', 'claim', 'body', 'attempts', 'provider_call',
                    'excluded', 'provider_call_at', 'due', 'digests')
local status = status_in(f[1])
if not status then return {'missing'} end
if f[2] ~= ARGV[2] then return {'stale', status} end
if status ~= 'queued' and status ~= 'sending' then return {'final', status} end
if f[5] then
  local left = tonumber(f[7] or 0) + tonumber(ARGV[6]) - server_ms()
  if left > 0 then return {'busy', left} end
end
local detail = nil
if status == 'sending' then detail = 'redelivered after an interrupted attempt' end
redis.call('HSET', mkey(id), 'attempt', ARGV[5])
redis.call('ZADD', prefix .. 'inflight', tonumber(ARGV[3]) + tonumber(ARGV[4]), id)
history(id, ARGV[3], 'sending', detail)
-- the recipient as registered by the message's own tenant (see recipient_key in models.py)
local body = cjson.decode(f[3])
local recipient = (body['tenant'] or '') .. '|' .. body['recipient']['id']
local registered = redis.call('HGETALL', prefix .. 'recipient:' .. recipient)
local kept = {}
for n = 1, #registered, 2 do kept[registered[n]] = registered[n + 1] end
local digests = f[9]
if kept['profile'] then digests = kept['digests'] end
local watched = ''
if digests then
  watched = '0'
  for digest in string.gmatch(digests, '[^,]+') do
    local marks = redis.call('ZRANGEBYLEX', prefix .. 'discreet-contacts', '[' .. digest .. ':',
                             '(' .. digest .. ';', 'LIMIT', 0, 1)
    if #marks > 0 then watched = '1' end
  end
end
return {'ok', f[3], f[4] or '0', f[5] or '', f[6] or '', registered, f[8] or '', watched}
