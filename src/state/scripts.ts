/**
 * The Lua scripts the Redis store runs: one atomic decision per call, on the store's own
 * clock (`TIME`, so servers with skewed clocks agree), and a TTL on every key they write.
 * @module
 */

const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/**
 * The failure budget of one IP, a token bucket like `FailureBudget`.
 * KEYS[1] the bucket; ARGV burst, perMinute, cost, blocked channel, ip.
 * Returns the ms until a token is back (0: the IP may try again now). A bucket that empties
 * is announced on the channel, so every server refuses the IP without asking.
 */
export const SPEND = `${NOW}
local burst = tonumber(ARGV[1])
local rate = tonumber(ARGV[2]) / 60000
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(b[1]) or burst
local at = tonumber(b[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
tokens = math.max(0, tokens - tonumber(ARGV[3]))
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], math.max(1, math.ceil((burst - tokens) / rate)))
if tokens >= 1 then return 0 end
local wait = math.max(1, math.ceil((1 - tokens) / rate))
redis.call('PUBLISH', ARGV[4], ARGV[5] .. ' ' .. wait)
return wait
`;

/**
 * A session lease in the IP's and the identity's counts, all or none.
 * KEYS[1] the IP's leases, KEYS[2] the identity's, KEYS[3] the identity's extra n_bits;
 * ARGV member, ttl, ipLimit, identityLimit. Leases are sorted-set members scored by when
 * they lapse. Returns {0 ok | 1 max-per-ip | 2 max-per-identity, extra bits}.
 */
export const ACQUIRE = `${NOW}
local ttl = tonumber(ARGV[2])
local ipLimit = tonumber(ARGV[3])
local idLimit = tonumber(ARGV[4])
local function live(key)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  return redis.call('ZCARD', key)
end
if ipLimit > 0 and live(KEYS[1]) >= ipLimit then return {1, 0} end
if idLimit > 0 and live(KEYS[2]) >= idLimit then return {2, 0} end
if ipLimit > 0 then
  redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ttl)
end
if idLimit > 0 then
  redis.call('ZADD', KEYS[2], now + ttl, ARGV[1])
  redis.call('PEXPIRE', KEYS[2], ttl)
end
return {0, tonumber(redis.call('GET', KEYS[3]) or '0') or 0}
`;

/**
 * Renew leases; one that the store lost (it restarted) is put back.
 * KEYS the lease sets, ARGV[1] ttl, ARGV[i + 1] the member in KEYS[i].
 */
export const RENEW = `${NOW}
local ttl = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now + ttl, ARGV[i + 1])
  redis.call('PEXPIRE', key, ttl)
end
return #KEYS
`;

/** Give back a lease. KEYS the lease sets, ARGV[1] the member. */
export const RELEASE = `for _, key in ipairs(KEYS) do redis.call('ZREM', key, ARGV[1]) end
return #KEYS
`;

/**
 * One server's load report, answered with the fleet's.
 * KEYS[1] the servers' loads (hash), KEYS[2] refusal counts (hash), KEYS[3] active
 * identities (sorted set by last report), then per identity its load (hash by server) and
 * its extra n_bits: KEYS[2 + 2i], KEYS[3 + 2i] for the i-th (from 1);
 * ARGV server, window, inFlight, arrivals, nRefusals, (reason, delta)…,
 * nIdentities, (fp, inFlight, arrivals, extra)….
 * Returns {servers, inFlight, arrivals, activeIdentities, {reason, total…}, {fp, inFlight, arrivals…}}.
 */
export const REPORT = `${NOW}
local window = tonumber(ARGV[2])
local function sum(key, field, value)
  redis.call('HSET', key, field, now .. ' ' .. value)
  local n, f, a = 0, 0, 0
  local all = redis.call('HGETALL', key)
  for i = 1, #all, 2 do
    local at, fi, ar = string.match(all[i + 1], '^(%S+) (%S+) (%S+)$')
    if at and now - tonumber(at) <= window then
      n = n + 1
      f = f + tonumber(fi)
      a = a + tonumber(ar)
    else
      redis.call('HDEL', key, all[i])
    end
  end
  return n, f, a
end
local servers, inFlight, arrivals = sum(KEYS[1], ARGV[1], ARGV[3] .. ' ' .. ARGV[4])
redis.call('PEXPIRE', KEYS[1], window * 10)
local i = 5
local nRefusals = tonumber(ARGV[i])
for j = 1, nRefusals do
  redis.call('HINCRBY', KEYS[2], ARGV[i + 2 * j - 1], ARGV[i + 2 * j])
end
redis.call('PEXPIRE', KEYS[2], 86400000)
i = i + 2 * nRefusals + 1
local nIds = tonumber(ARGV[i])
local ids = {}
for j = 0, nIds - 1 do
  local k = i + 1 + 4 * j
  local fp = ARGV[k]
  local load = KEYS[4 + 2 * j]
  local _, f, a = sum(load, ARGV[1], ARGV[k + 1] .. ' ' .. ARGV[k + 2])
  redis.call('PEXPIRE', load, window * 2)
  -- Active while some server has figures for it (a server that no longer has an identity
  -- reports it once with zeros).
  if tonumber(ARGV[k + 1]) > 0 or tonumber(ARGV[k + 2]) > 0 then
    redis.call('ZADD', KEYS[3], now, fp)
  elseif f == 0 and a == 0 then
    redis.call('ZREM', KEYS[3], fp)
  end
  -- Bits another server asks stay until they lapse: a server that asks none does not clear them.
  if tonumber(ARGV[k + 3]) > 0 then
    redis.call('SET', KEYS[5 + 2 * j], ARGV[k + 3], 'PX', window * 3)
  end
  ids[#ids + 1] = fp
  ids[#ids + 1] = tostring(f)
  ids[#ids + 1] = tostring(a)
end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - window)
redis.call('PEXPIRE', KEYS[3], window * 10)
local active = redis.call('ZCARD', KEYS[3])
return {servers, tostring(inFlight), tostring(arrivals), active, redis.call('HGETALL', KEYS[2]), ids}
`;
