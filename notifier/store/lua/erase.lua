-- erase: a person's right to erasure. Cancels what is pending and deletes every message
-- record naming them, found in the weekly recipient indexes, and takes them out of the
-- weekly contact indexes.
-- KEYS[1]  the recipient's hash (recipient:{tenant}|{id})
-- ARGV[1]  the recipient's key (tenant|id), then the keyed hashes of their contacts
-- Returns  how many message records were deleted
local count = 0
local weeks = prefix .. 'recipient-weeks'
for _, week in ipairs(redis.call('SMEMBERS', weeks)) do
  local index = prefix .. 'recipients:' .. week
  if redis.call('EXISTS', index) == 0 then
    redis.call('SREM', weeks, week)
  else
    for _, id in ipairs(ids_in(index, ARGV[1])) do
      local body = body_of(id)
      if body then
        unschedule(id, subject_of(id))
        count = count + redis.call('DEL', mkey(id))
      end
    end
    redis.call('HDEL', index, ARGV[1])
    for i = 2, #ARGV do
      redis.call('ZREM', prefix .. 'contacts:' .. week, ARGV[i] .. ':' .. ARGV[1])
    end
  end
end
redis.call('DEL', KEYS[1])
return count
