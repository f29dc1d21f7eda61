-- helpers: the functions every script shares, placed before each of them (scripts.py).
-- The key prefix and the layout version must be those of notifier/store/codec.py, and the
-- pending statuses those of notifier/models.py: scripts.py checks them when it loads this file.
local prefix, layout = 'notifier:', '5'
local function mkey(id) return prefix .. 'msg:' .. id end
local function body_of(id)
  local body = redis.call('HGET', mkey(id), 'body')
  return body and cjson.decode(body)
end
-- The subject index's field of a message: see subject_key in notifier/models.py.
local function subject_of(id)
  local body = body_of(id)
  return (body['tenant'] or '') .. '|' .. body['subject']
end
-- Ids listed in a field of a shared hash, comma-separated: a subject or a recipient has a
-- few messages, and a field costs far less than a set of its own.
local function ids_in(key, field)
  local out = {}
  local ids = redis.call('HGET', key, field)
  if ids then for id in string.gmatch(ids, '[^,]+') do table.insert(out, id) end end
  return out
end
local function add_id(key, field, id)
  local ids = redis.call('HGET', key, field)
  if not ids then
    redis.call('HSET', key, field, id)
  elseif not string.find(',' .. ids .. ',', ',' .. id .. ',', 1, true) then
    redis.call('HSET', key, field, ids .. ',' .. id)
  end
end
local function remove_id(key, field, id)
  local kept = {}
  for _, other in ipairs(ids_in(key, field)) do
    if other ~= id then table.insert(kept, other) end
  end
  if #kept == 0 then
    redis.call('HDEL', key, field)
  else
    redis.call('HSET', key, field, table.concat(kept, ','))
  end
end
local function history(id, now_ms, status, detail, channel)
  local entry = '[' .. now_ms .. ',' .. cjson.encode(status)
  local with_channel = channel ~= nil and channel ~= ''
  if with_channel or (detail ~= nil and detail ~= '') then
    entry = entry .. ',' .. cjson.encode(detail or '')
  end
  if with_channel then entry = entry .. ',' .. cjson.encode(channel) end
  local past = redis.call('HGET', mkey(id), 'history')
  redis.call('HSET', mkey(id), 'history', (past and past .. '\n' or '') .. entry .. ']')
end
-- A message's status is that of the last entry of its history: one source of truth.
local function status_in(history)
  return history and string.match(history, '%[%d+,"([%a-]+)"[^\n]*$')
end
local function status_of(id) return status_in(redis.call('HGET', mkey(id), 'history')) end
-- Out of the schedule and of its subject's index: nothing will send or cancel it any more.
local function unschedule(id, subject)
  redis.call('ZREM', prefix .. 'due', id)
  redis.call('ZREM', prefix .. 'inflight', id)
  remove_id(prefix .. 'subjects', subject, id)
end
local function finalize(id, subject, retention)
  unschedule(id, subject)
  redis.call('EXPIRE', mkey(id), retention)
end
-- Withheld during a pause: final, but kept in its subject's index, so that the subject's
-- cancellation ends it too and "send what I missed" never sends a cancelled reminder.
local function withhold(id, retention)
  redis.call('ZREM', prefix .. 'due', id)
  redis.call('ZREM', prefix .. 'inflight', id)
  redis.call('EXPIRE', mkey(id), retention)
end
-- Not sent yet, nor being sent: a cancellation still stops it.
local pending = {['scheduled'] = true, ['queued'] = true, ['temporary-failure'] = true}
-- What a subject's cancellation ends: the pending, and those withheld that a resume may send.
local cancellable = {['withheld'] = true}
for status in pairs(pending) do cancellable[status] = true end
local function server_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- Until the end of ``week``: keys of weekly indexes expire whole, no sweeper needed.
local function keep_until_week_end(key, seconds)
  if redis.call('TTL', key) < tonumber(seconds) then redis.call('EXPIRE', key, seconds) end
end
-- A new message from ARGV[i]: id, due ms, subject, rule, body, recipient key (tenant|id:
-- see recipient_key in notifier/models.py), recipient week, seconds until that week ends,
-- keyed hashes of the recipient's contacts (comma-separated, '' if none; see
-- PlanArguments.message in notifier/store/arguments.py).
-- The contact index is a sorted set of '{digest}:{tenant}|{id}', read by lexical range:
-- adding to it costs the same however many recipients share a contact (a list in a hash
-- field was copied whole on each add: quadratic for a shared phone or address).
-- The message keeps them too ('digests'): begin_send asks whether one is marked discreet.
local function schedule(i, now_ms, detail)
  local id, due, subject, week = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 6]
  local recipients = prefix .. 'recipients:' .. week
  redis.call('DEL', mkey(id))
  redis.call('HSET', mkey(id), 'body', ARGV[i + 4])
  redis.call('ZADD', prefix .. 'due', due, id)
  add_id(prefix .. 'subjects', subject, id)
  add_id(recipients, ARGV[i + 5], id)
  keep_until_week_end(recipients, ARGV[i + 7])
  if ARGV[i + 8] ~= '' then
    redis.call('HSET', mkey(id), 'digests', ARGV[i + 8])
    local contacts = prefix .. 'contacts:' .. week
    for digest in string.gmatch(ARGV[i + 8], '[^,]+') do
      redis.call('ZADD', contacts, 0, digest .. ':' .. ARGV[i + 5])
    end
    keep_until_week_end(contacts, ARGV[i + 7])
  end
  redis.call('SADD', prefix .. 'recipient-weeks', week)
  history(id, now_ms, 'scheduled', detail)
end
