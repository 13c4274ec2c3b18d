"""The job store's atomic changes, as Lua. Each script opens with its KEYS and ARGV.

Which writes are fenced (checked against the leader lease inside the script) and why:

- fenced: everything that moves a job's *control state* — admission, planning a round, closing a
  round (also when the merge task does it, with the fence of the leader that planned the round),
  the stall counter, the final status. A deposed leader (paused, partitioned) must not change
  what the new leader decides.
- fenced too: the elite pool (the tours island rounds merge with): it is not needed for
  correctness, but a deposed leader's merge must not change what its successor's rounds see.
- not fenced: the best-tour compare-and-set (monotone: only a strictly shorter tour wins, so a
  late writer can only help and a committed tour is never lost), unit results (first write wins,
  keyed by unit id, so a redelivered unit cannot overwrite), client submit and cancel requests
  (clients are never leaders; cancel of a running job only raises a flag the leader acts on).
"""

from __future__ import annotations

from tsp_celery.cluster.events import SCRIPT_EVENT_LUA
from tsp_celery.cluster.lease import FENCE_CHECK_LUA

# Statuses after which a job record is frozen.
_FINAL = "local final = {done=true, failed=true, cancelled=true}\n"
# The elements of a list from index i on (unpack has a stack limit; a job can have more keys).
_TAIL_FN = """
local function tail(list, i)
  local out = {}
  for j = i, #list do out[#out + 1] = list[j] end
  return out
end
"""

# KEYS: instance, job, jobs (zset), queued (zset), active (set), limits (hash).
# ARGV: instance blob ('' = already stored), instance ttl s, job id, created_at, queue score,
#       instance bytes decompressed (as the client measured them), the client's own max_nodes,
#       max_instance_bytes, max_job_seconds, max_active_jobs (used where the limits hash, which
#       coordinators publish, has no value), then field/value pairs of the new job record.
# Checks everything first and writes only if all pass: returns 1, or an error reply (nothing
# written): 'EXISTS job', 'NOINSTANCE', or 'LIMIT <reason>' for a job over a limit or with
# malformed parameters (the leader re-checks all of it at admission, see admission.py).
SUBMIT = """
local function limit(name, i) return tonumber(redis.call('HGET', KEYS[6], name) or ARGV[i]) end
local function refuse(text) return redis.error_reply('LIMIT ' .. text) end
local function finite(x) return type(x) == 'number' and x == x and x > -math.huge
                                and x < math.huge end
if redis.call('EXISTS', KEYS[2]) == 1 then return redis.error_reply('EXISTS job') end
local rec = {}
for i = 11, #ARGV, 2 do rec[ARGV[i]] = ARGV[i + 1] end
local max_nodes, max_bytes = limit('max_nodes', 7), limit('max_instance_bytes', 8)
local max_s, max_jobs = limit('max_job_seconds', 9), limit('max_active_jobs', 10)
local n = tonumber(rec['n'])
if not finite(n) or n ~= math.floor(n) or n < 1 then return refuse('job record has no valid n') end
if n > max_nodes then
  return refuse(string.format('instance has %d nodes, the limit is %d (max_nodes)', n, max_nodes))
end
local size = math.max(#ARGV[1], tonumber(ARGV[6]) or math.huge)
if size > max_bytes then
  return refuse(string.format('instance is %.0f bytes decompressed, the limit is %d ' ..
                              '(max_instance_bytes)', size, max_bytes))
end
local ok, p = pcall(cjson.decode, rec['params'] or '')
if not ok or type(p) ~= 'table' then return refuse('job parameters are not a JSON object') end
local t = p['time_s']
if not finite(t) or t <= 0 then return refuse('time budget must be a finite number > 0') end
if t > max_s then
  return refuse(string.format('time budget %g s exceeds the limit of %g s (max_job_seconds)',
                              t, max_s))
end
local stall, target = p['stall_rounds'], p['target']
if stall ~= nil and stall ~= cjson.null and (not finite(stall) or stall < 1
                                             or stall ~= math.floor(stall)) then
  return refuse('stall_rounds must be an integer >= 1')
end
if target ~= nil and target ~= cjson.null and (not finite(target) or target <= 0) then
  return refuse('target must be a finite number > 0')
end
local open = redis.call('ZCARD', KEYS[4]) + redis.call('SCARD', KEYS[5])
if open >= max_jobs then
  return refuse(string.format('the cluster holds %d unfinished jobs, the limit is %d ' ..
                              '(max_active_jobs)', open, max_jobs))
end
if not tonumber(ARGV[5]) or not tonumber(ARGV[4]) then return refuse('bad queue score') end
if ARGV[1] ~= '' then redis.call('SET', KEYS[1], ARGV[1], 'NX') end
if redis.call('EXISTS', KEYS[1]) == 0 then return redis.error_reply('NOINSTANCE') end
redis.call('EXPIRE', KEYS[1], ARGV[2])
for i = 11, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[3])
redis.call('ZADD', KEYS[4], ARGV[5], ARGV[3])
return 1
"""

# KEYS: lease, job, queued (zset), active (set), then the event's keys (script_event_keys).
# ARGV: fence, job id, now, leader node id, then the event's arguments (ScriptEvent.args: the
#       admitted event, appended only when the job is admitted).
# Returns {status after the call, the record}: 'running' and the admitted job's record when
# admitted now, else {what it was} (a cancelled or unknown job just leaves the queue).
ADMIT = FENCE_CHECK_LUA + SCRIPT_EVENT_LUA + """
local status = redis.call('HGET', KEYS[2], 'status')
redis.call('ZREM', KEYS[3], ARGV[2])
if status ~= 'queued' then return {status or 'missing'} end
redis.call('HSET', KEYS[2], 'status', 'running', 'admitted_at', ARGV[3], 'leader', ARGV[4])
redis.call('SADD', KEYS[4], ARGV[2])
script_event(KEYS[2], 5, 5)
return {'running', redis.call('HGETALL', KEYS[2])}
"""

# KEYS: lease, job, rounds (hash), best tour, round base tour, then the event's keys.
# ARGV: fence, round no, round record JSON, now, base ttl s, then the event's arguments (the
#       round_planned event, appended with the plan).
# Records the round plan, makes it the job's current round and snapshots the best tour as the
# round's base (segments are cut from it). Returns {'ok', the event's stream id ('' without
# one)}, or {the status} if the job is not running.
PLAN_ROUND = FENCE_CHECK_LUA + SCRIPT_EVENT_LUA + """
local status = redis.call('HGET', KEYS[2], 'status')
if status ~= 'running' then return {status or 'missing'} end
redis.call('HSET', KEYS[3], ARGV[2], ARGV[3])
redis.call('HSET', KEYS[2], 'round', ARGV[2], 'round_started_at', ARGV[4])
local best = redis.call('GET', KEYS[4])
if best then redis.call('SET', KEYS[5], best, 'EX', ARGV[5]) end
return {'ok', script_event(KEYS[2], 6, 6)}
"""

# KEYS: units (hash), unit tour, epoch.
# ARGV: unit id, summary JSON, tour bytes ('' = none, e.g. a failed unit), ttl s, the epoch of
#       the fence the unit was sent with ('' = unchecked).
# First write wins: returns 1 if stored, 0 if this unit already had a result, -1 if the unit
# belongs to an older epoch of the store (Redis lost its data since: the job is gone).
RECORD_UNIT = """
if ARGV[5] ~= '' and redis.call('GET', KEYS[3]) ~= ARGV[5] then return -1 end
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('EXPIRE', KEYS[1], ARGV[4])
if ARGV[3] ~= '' then redis.call('SET', KEYS[2], ARGV[3], 'EX', ARGV[4]) end
return 1
"""

# Compare-and-set of the best tour: a strictly shorter tour replaces it; an equal one may only
# add the proof of optimality. Returns 1 if committed, 0 if not shorter, 'final' if the job is
# frozen, 'missing' if it has no record.
_COMMIT_FN = """
local function commit_best(job, best, length, tour, round_no, at, proven, engine, lamport)
  local status = redis.call('HGET', job, 'status')
  if not status then return 'missing' end
  if final[status] then return 'final' end
  local old = redis.call('HGET', job, 'best_length')
  if old and tonumber(length) >= tonumber(old) then
    if proven == '1' and tonumber(length) == tonumber(old) then
      redis.call('HSET', job, 'proven_optimal', '1')
    end
    return 0
  end
  redis.call('SET', best, tour)
  redis.call('HSET', job, 'best_length', length, 'best_round', round_no, 'best_at', at,
             'proven_optimal', proven, 'engine', engine, 'best_lamport', lamport)
  return 1
end
"""

# KEYS: job, best tour.
# ARGV: length, tour bytes, round no, elapsed s since admission, proven (0/1), engine, Lamport
#       stamp of the commit (readers stamp their next event after it).
# Returns what commit_best returns.
COMMIT_BEST = _FINAL + _COMMIT_FN + """
return commit_best(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6],
                   ARGV[7])
"""

# KEYS: lease, job, elite pool (zset).
# ARGV: fence, pool size, then length/tour-bytes pairs (valid tours, exact lengths).
# Adds each tour whose length is not in the pool yet (equal lengths count as one tour) and keeps
# the ``size`` shortest, so offering the same tours twice changes nothing. Only while the job
# runs: a finished job's pool is expiring with its other keys. Returns the pool's size.
OFFER_ELITE = FENCE_CHECK_LUA + """
if redis.call('HGET', KEYS[2], 'status') ~= 'running' then return 0 end
for i = 3, #ARGV, 2 do
  if redis.call('ZCOUNT', KEYS[3], ARGV[i], ARGV[i]) == 0 then
    redis.call('ZADD', KEYS[3], ARGV[i], ARGV[i + 1])
  end
end
redis.call('ZREMRANGEBYRANK', KEYS[3], tonumber(ARGV[2]), -1)
return redis.call('ZCARD', KEYS[3])
"""

# Closes a round once (HSETNX '<round>:merged'): counts rounds done and rounds without
# improvement. Returns 1 if this call closed it, 0 if it was already closed.
_CLOSE_FN = """
local function close_round(job, rounds, round_no, outcome, improved, now)
  if redis.call('HSETNX', rounds, round_no .. ':merged', outcome) == 0 then return 0 end
  local stall = tonumber(redis.call('HGET', job, 'stall') or '0')
  if improved == '1' then stall = 0 else stall = stall + 1 end
  redis.call('HSET', job, 'rounds_done', round_no, 'stall', stall, 'merged_at', now)
  return 1
end
"""

# KEYS: lease, job, rounds (hash).
# ARGV: fence, round no, outcome JSON, improved (0/1), now.
# Returns what close_round returns.
CLOSE_ROUND = FENCE_CHECK_LUA + _CLOSE_FN + """
return close_round(KEYS[2], KEYS[3], ARGV[2], ARGV[3], ARGV[4], ARGV[5])
"""

# Moves a job to a final status once and starts its retention clock (on the record and the
# ``expire`` keys). Returns the status the job ends with (the earlier one if it was already
# final), or 'missing'.
_FINISH_FN = """
local function finish_job(job, active, queued, job_id, status, now, error, retention, expire)
  local old = redis.call('HGET', job, 'status')
  if not old then return 'missing' end
  if final[old] then return old end
  redis.call('HSET', job, 'status', status, 'finished_at', now, 'error', error)
  redis.call('SREM', active, job_id)
  redis.call('ZREM', queued, job_id)
  redis.call('EXPIRE', job, retention)
  for _, key in ipairs(expire) do redis.call('EXPIRE', key, retention) end
  return status
end
"""

# KEYS: lease, job, active (set), queued (zset), the event's keys, then every other key of the
#       job to expire.
# ARGV: fence, job id, final status, now, error text, retention s, then the event's arguments
#       (the job's done, failed or cancelled event, appended whatever the call returns).
# Returns what finish_job returns.
FINISH = FENCE_CHECK_LUA + _FINAL + _TAIL_FN + SCRIPT_EVENT_LUA + _FINISH_FN + """
local ended = finish_job(KEYS[2], KEYS[3], KEYS[4], ARGV[2], ARGV[3], ARGV[4], ARGV[5],
                         ARGV[6], tail(KEYS, 8))
script_event(KEYS[2], 5, 7)
return ended
"""

# KEYS: lease, job, active (set), queued (zset), best tour, rounds (hash), the events' keys
#       (script_event_keys), then every key of the job to expire but its record.
# ARGV: fence (the one the unit was sent with), job id, round no, length, tour bytes, elapsed s
#       since admission, proven (0/1), engine, now, retention s, the round outcome JSON, then
#       the arguments of three events (ScriptEvent.args): improved (appended only when the tour
#       is the new best; the commit carries its stamp), round_merged and done. The script adds
#       the fields it decides: best_before, best_after and improved to the outcome, length to
#       improved, best_after and improved to round_merged, best_length to done.
# A unit whose whole tour ends its job (it meets the job's target, or it is proven optimal)
# commits it, closes its round and finishes the job, with their events, at once: the leader
# only sees the job done. Only for the job's current, open round of a running job without a
# cancel request, under the lease the round was planned with; else it changes nothing and
# returns {why} ({'not final'} when the tour does not end the job), and the leader closes the
# round as usual. Returns {'done', then the three events' stream ids ('' if not appended)} when
# it finished the job.
UNIT_FINISH = FENCE_CHECK_LUA + _FINAL + _TAIL_FN + SCRIPT_EVENT_LUA + _COMMIT_FN + _CLOSE_FN + \
    _FINISH_FN + """
local improved_event, merged_event, done_event = 12, 19, 26
local status = redis.call('HGET', KEYS[2], 'status')
if status ~= 'running' then return {status or 'missing'} end
if redis.call('HGET', KEYS[2], 'cancel_requested') == '1' then return {'cancel requested'} end
if redis.call('HGET', KEYS[2], 'round') ~= ARGV[3] then return {'not the current round'} end
if redis.call('HEXISTS', KEYS[6], ARGV[3] .. ':merged') == 1 then return {'round closed'} end
local ok, params = pcall(cjson.decode, redis.call('HGET', KEYS[2], 'params') or '')
local target = ok and type(params) == 'table' and tonumber(params['target'])
if ARGV[7] ~= '1' and not (target and tonumber(ARGV[4]) <= target) then return {'not final'} end
local before = redis.call('HGET', KEYS[2], 'best_length') or 'null'
local improved = commit_best(KEYS[2], KEYS[5], ARGV[4], ARGV[5], ARGV[3], ARGV[6], ARGV[7],
                             ARGV[8], ARGV[improved_event + 3]) == 1
local best = redis.call('HGET', KEYS[2], 'best_length')
local gained = '"best_after":' .. best .. ',"improved":' .. tostring(improved)
close_round(KEYS[2], KEYS[6], ARGV[3], with_fields(ARGV[11], '"best_before":' .. before .. ','
            .. gained), improved and '1' or '0', ARGV[9])
finish_job(KEYS[2], KEYS[3], KEYS[4], ARGV[2], 'done', ARGV[9], '', ARGV[10], tail(KEYS, 10))
local ids = {'done', '', '', ''}
if improved then ids[2] = script_event(KEYS[2], 7, improved_event, '"length":' .. best) end
ids[3] = script_event(KEYS[2], 7, merged_event, gained)
ids[4] = script_event(KEYS[2], 7, done_event, '"best_length":' .. best)
return ids
"""

# KEYS: job, queued (zset), then every other key of the job to expire.
# ARGV: job id, now, retention s.
# A queued job is cancelled at once; a running one gets a flag its leader acts on within a round
# (with the round in flight at the request, so "stopped within one round" can be checked).
# Returns the status after the call ('cancelled', 'running', a final status) or 'missing'.
CANCEL = _FINAL + """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 'missing' end
if final[status] then return status end
if status == 'queued' then
  redis.call('HSET', KEYS[1], 'status', 'cancelled', 'finished_at', ARGV[2])
  redis.call('ZREM', KEYS[2], ARGV[1])
  for i = 1, #KEYS do
    if i ~= 2 then redis.call('EXPIRE', KEYS[i], ARGV[3]) end
  end
  return 'cancelled'
end
redis.call('HSET', KEYS[1], 'cancel_requested', '1', 'cancel_at', ARGV[2],
           'cancel_round', redis.call('HGET', KEYS[1], 'round') or '0')
return status
"""
