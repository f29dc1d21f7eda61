-- accept: store an event's plan and remember its answer, in one atomic step.
-- KEYS[1]  the event's idempotency key (idem:{client}:{event id})
-- ARGV[1]  idempotency ttl, seconds        ARGV[2]  now, epoch ms
-- ARGV[3]  retention of final records, s   ARGV[4]  the answer (codec.encode_answer)
-- ARGV[5]  n, the subjects to cancel on, then n × (subject key, rule or '', reason)
-- then     m, the messages to schedule, then m × the 9 values of schedule() (helpers.lua)
-- Returns  {1, answer .. '\n' .. cancelled ids} when fresh; for a known key {0, stored
--          answer, the body of each message it planned ('' if gone since)}.
local existing = redis.call('GET', KEYS[1])
if existing then
  local reply = {0, existing}
  for id in string.gmatch(string.match(existing, '^[^\n]*'), '[^,]+') do
    table.insert(reply, redis.call('HGET', mkey(id), 'body') or '')
  end
  return reply
end
-- a schedule is written in this layout (see Store.check_layout)
redis.call('SET', prefix .. 'layout', layout, 'NX')
local now_ms, retention = ARGV[2], tonumber(ARGV[3])
-- a rule this event schedules again on its subject loses its stop mark below: none is set
local renewed, first = {}, 7 + 3 * tonumber(ARGV[5])
for j = 1, tonumber(ARGV[first - 1]) do
  local at = first + 9 * (j - 1)
  renewed[ARGV[at + 2] .. ':' .. ARGV[at + 3]] = true
end
local i = 6
local cancelled = {}
for _ = 1, tonumber(ARGV[5]) do
  local subject, rule, reason = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  i = i + 3
  if rule ~= '' and not renewed[subject .. ':' .. rule] then
    redis.call('SET', prefix .. 'stopped:' .. subject .. ':' .. rule, 1, 'EX', tonumber(ARGV[1]))
  end
  for _, id in ipairs(ids_in(prefix .. 'subjects', subject)) do
    local status = status_of(id)
    if not status then
      remove_id(prefix .. 'subjects', subject, id)
    elseif cancellable[status] and (rule == '' or body_of(id)['rule'] == rule) then
      history(id, now_ms, 'cancelled', reason)
      finalize(id, subject, retention)
      table.insert(cancelled, id)
    end
  end
end
local count = tonumber(ARGV[i])
i = i + 1
for _ = 1, count do
  redis.call('DEL', prefix .. 'stopped:' .. ARGV[i + 2] .. ':' .. ARGV[i + 3])
  schedule(i, now_ms)
  i = i + 9
end
add_gathered()
local answer = ARGV[4] .. '\n' .. table.concat(cancelled, ',')
redis.call('SET', KEYS[1], answer, 'EX', tonumber(ARGV[1]))
return {1, answer}
