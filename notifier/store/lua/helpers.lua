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
-- Until the end of ``week``: keys of weekly indexes expire whole, no sweeper needed. Asked
-- once per key in a run of a script (the messages of an event share their weeks).
local kept_until = {}
local function keep_until_week_end(key, seconds)
  if kept_until[key] then return end
  kept_until[key] = true
  if redis.call('TTL', key) < tonumber(seconds) then redis.call('EXPIRE', key, seconds) end
end
-- Ids gathered for those comma-separated fields by schedule(), added by add_gathered(): one
-- read and one write per field (the messages of one event share subject and recipient), then
-- the weekly keys kept until their week ends.
local gathered, gathered_order, gathered_ttl = {}, {}, {}
local function gather_id(key, field, id, week_ends_in)
  if week_ends_in then gathered_ttl[key] = week_ends_in end
  local fields = gathered[key]
  if not fields then
    fields = {}
    gathered[key] = fields
  end
  if not fields[field] then
    fields[field] = {}
    table.insert(gathered_order, {key, field})
  end
  table.insert(fields[field], id)
end
local function add_gathered()
  for _, at in ipairs(gathered_order) do
    local key, field = at[1], at[2]
    local ids = redis.call('HGET', key, field)
    local listed, added = ',' .. (ids or '') .. ',', {}
    for _, id in ipairs(gathered[key][field]) do
      if not string.find(listed, ',' .. id .. ',', 1, true) then
        table.insert(added, id)
        listed = listed .. id .. ','
      end
    end
    if #added > 0 then
      local all = table.concat(added, ',')
      redis.call('HSET', key, field, ids and (ids .. ',' .. all) or all)
    end
  end
  for key, seconds in pairs(gathered_ttl) do keep_until_week_end(key, seconds) end
  gathered, gathered_order, gathered_ttl = {}, {}, {}
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
-- One line of a message's history: [epoch ms, status, detail, channel] (codec.decode_history).
local function history_entry(now_ms, status, detail, channel)
  local entry = '[' .. now_ms .. ',' .. cjson.encode(status)
  local with_channel = channel ~= nil and channel ~= ''
  if with_channel or (detail ~= nil and detail ~= '') then
    entry = entry .. ',' .. cjson.encode(detail or '')
  end
  if with_channel then entry = entry .. ',' .. cjson.encode(channel) end
  return entry .. ']'
end
local function history(id, now_ms, status, detail, channel)
  local entry = history_entry(now_ms, status, detail, channel)
  local past = redis.call('HGET', mkey(id), 'history')
  redis.call('HSET', mkey(id), 'history', (past and past .. '\n' or '') .. entry)
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
-- A new message from ARGV[i]: id, due ms, subject, rule, body, recipient key (tenant|id:
-- see recipient_key in notifier/models.py), recipient week, seconds until that week ends,
-- keyed hashes of the recipient's contacts (comma-separated, '' if none; see
-- PlanArguments.message in notifier/store/arguments.py).
-- The contact index is a sorted set of '{digest}:{tenant}|{id}', read by lexical range:
-- adding to it costs the same however many recipients share a contact (a list in a hash
-- field was copied whole on each add: quadratic for a shared phone or address).
-- The message keeps them too ('digests'): begin_send asks whether one is marked discreet.
-- Its subject's and recipient's indexes list it once the caller calls add_gathered().
local weeks_listed = {}  -- in this run of the script
local function schedule(i, now_ms, detail)
  local id, due, subject = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local recipient, week = ARGV[i + 5], ARGV[i + 6]
  local fields = {'body', ARGV[i + 4], 'history', history_entry(now_ms, 'scheduled', detail)}
  if ARGV[i + 8] ~= '' then
    table.insert(fields, 'digests')
    table.insert(fields, ARGV[i + 8])
    local contacts, members = prefix .. 'contacts:' .. week, {}
    for digest in string.gmatch(ARGV[i + 8], '[^,]+') do
      table.insert(members, 0)
      table.insert(members, digest .. ':' .. recipient)
    end
    redis.call('ZADD', contacts, unpack(members))
    keep_until_week_end(contacts, ARGV[i + 7])
  end
  redis.call('DEL', mkey(id))
  redis.call('HSET', mkey(id), unpack(fields))
  redis.call('ZADD', prefix .. 'due', due, id)
  gather_id(prefix .. 'subjects', subject, id)
  local recipients = prefix .. 'recipients:' .. week
  gather_id(recipients, recipient, id, ARGV[i + 7])
  if not weeks_listed[week] then
    weeks_listed[week] = true
    redis.call('SADD', prefix .. 'recipient-weeks', week)
  end
end
