-- note: an entry in a message's history under its current status, which it keeps.
-- KEYS     none
-- ARGV[1]  message id   ARGV[2]  at, epoch ms   ARGV[3]  detail   ARGV[4]  channel
-- Returns  1
local status = status_of(ARGV[1])
if status then history(ARGV[1], ARGV[2], status, ARGV[3], ARGV[4]) end
return 1
