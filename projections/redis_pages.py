"""Pages of timelines assembled inside Redis: a warm read is one round trip.

One server-side script merges a timeline with the recents of the followed authors whose
tweets are pulled, drops deleted tweets, authors the viewer no longer follows and tweets the
viewer may not see (blocks either way, mutes on the home timeline, protected accounts the
viewer does not follow: docs/safety.md; a quote of such a tweet shows unavailable), and renders
each tweet with its author, counts and the viewer's flags as the API's JSON. It only reads
caches: whenever one misses (a tweet, a count, a user, a per-user set, a timeline being
built) or the page would go on past a PARTIAL timeline into the stores, it says so and the
caller takes the slow path (api/timelines.py), which loads what is missing; the next read is
fast again. Both paths give the same page: tests/integration/test_fast_pages.py compares them.

The script reads keys it derives from the timeline's members (tweets, users, recents), so it
runs on a standalone Redis or Valkey only. On a Redis or Valkey Cluster those keys live in
other slots, on other nodes: there every page is read by the slow path, whose pipelines go to
all the nodes they need at once (docs/read-models.md, "Redis Cluster").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from redis.asyncio import Redis

from infra.redis_clients import is_cluster
from projections.engagements import Counts
from projections.redis_cache import CachedTweet
from projections.redis_keys import ID_SLOT, RedisKeys
from projections.timeline_entries import Entry, decode, lower_bound, upper_bound

# Entries examined per page at most (deleted and no-longer-visible ones are skipped): past
# it, the page ends short with a cursor where the examination stopped.
EXAMINED_PER_ENTRY = 4
EXAMINED_EXTRA = 40

_PAGE = r"""
-- ARGV[1]: the build lock's suffix; ARGV[2..7]: the keys of recents, tweets and users, each
-- as the text before and after the id; ARGV[8]: the position keys' prefix.
local lock, position = ARGV[1], ARGV[8]
local function recent_key(id) return ARGV[2] .. id .. ARGV[3] end
local function tweet_key(id) return ARGV[4] .. id .. ARGV[5] end
local function user_key(id) return ARGV[6] .. id .. ARGV[7] end
local mode, before, limit, viewer = ARGV[9], ARGV[10], tonumber(ARGV[11]), ARGV[12]
local ttl, budget, check_writes = tonumber(ARGV[13]), tonumber(ARGV[14]), ARGV[15] == '1'
-- ARGV[16]: the ZREVRANGEBYLEX min: entries newer than a bound only (pull to refresh).
local lower, bounded = ARGV[16], ARGV[16] ~= '(\0'
-- ARGV[17]: '1': the picked entries' rows, not a rendered page (the ranked timeline's
-- candidates: what the caches hold, never past a PARTIAL source into the stores).
local rows_only = ARGV[17] == '1'
local timeline, following, pulled = KEYS[1], KEYS[2], KEYS[3]

-- Read-your-writes (api/consistency.py): has every partition the viewer wrote to been applied
-- as far as the viewer's last write there?
if check_writes then
  local writes = redis.call('HGETALL', KEYS[4])
  for j = 1, #writes, 2 do
    local applied = redis.call('GET', position .. writes[j])
    if tonumber(applied or '-1') < tonumber(writes[j + 1]) then return {'wait', 'own-writes'} end
  end
end
if redis.call('EXISTS', timeline) == 0 or redis.call('EXISTS', timeline .. lock) == 1 then
  return {'slow', 'timeline'}
end
local sources = {timeline}
if mode == 'home' then
  if redis.call('EXISTS', following) == 0 or redis.call('EXISTS', pulled) == 0 then
    return {'slow', 'graph'}
  end
  redis.call('EXPIRE', timeline, ttl)
  for _, author in ipairs(redis.call('SINTER', following, pulled)) do
    if author ~= '0' then
      local recent = recent_key(author)
      if redis.call('EXISTS', recent) == 0 or redis.call('EXISTS', recent .. lock) == 1 then
        return {'slow', 'recent'}
      end
      sources[#sources + 1] = recent
    end
  end
end

-- 8 big-endian bytes as a decimal string, exactly (Lua numbers hold only 53 bits): as
-- high * 2^32 + low = high * 42949 * 10^5 + (high * 67296 + low), each part exact.
local function decimal(bytes)
  local b1, b2, b3, b4, b5, b6, b7, b8 = string.byte(bytes, 1, 8)
  local high = ((b1 * 256 + b2) * 256 + b3) * 256 + b4
  local low = ((b5 * 256 + b6) * 256 + b7) * 256 + b8
  local upper, lower = high * 42949, high * 67296 + low
  upper = upper + math.floor(lower / 100000)
  lower = lower % 100000
  if upper > 0 then return string.format('%.0f%05d', upper, lower) end
  return string.format('%d', lower)
end

-- Sort keys are a member's first 8 bytes; compared bytewise (Lua's < on strings is strcoll).
local function newer(a, b)
  for k = 1, 8 do
    local x, y = string.byte(a, k), string.byte(b, k)
    if x ~= y then return x > y end
  end
  return false
end

local batch = limit + 10
local buffers, positions, ended, partial, complete = {}, {}, {}, {}, true
local function read(i, upper)
  local got = redis.call('ZREVRANGEBYLEX', sources[i], upper, lower, 'LIMIT', 0, batch)
  buffers[i], positions[i], ended[i] = got, 1, #got < batch
end
for i, key in ipairs(sources) do
  partial[i] = redis.call('ZRANGE', key, 0, 0)[1] ~= ''
  -- A PARTIAL source holding an entry at or below the bound holds all entries above it.
  if partial[i] and bounded then
    partial[i] = #redis.call('ZREVRANGEBYLEX', key, '[' .. string.sub(lower, 2), '(\0',
                             'LIMIT', 0, 1) == 0
  end
  if partial[i] then complete = false end
  read(i, before)
end
local function head(i)
  if positions[i] > #buffers[i] then
    if ended[i] then return nil end
    read(i, '(' .. buffers[i][#buffers[i]])
    if positions[i] > #buffers[i] then return nil end
  end
  return buffers[i][positions[i]]
end

-- Membership of a per-user id set: one SMEMBERS for a usual set, a SISMEMBER per id past that.
local function lookup(key)
  if redis.call('SCARD', key) <= 2000 then
    local set = {}
    for _, id in ipairs(redis.call('SMEMBERS', key)) do set[id] = true end
    return function(id) return set[id] == true end
  end
  return function(id) return redis.call('SISMEMBER', key, id) == 1 end
end
-- Whom the viewer follows: read at once for a home timeline, else when first needed.
local follows = nil
if mode == 'home' then follows = lookup(following) end
local function visible(who)
  if mode ~= 'home' or who == viewer then return true end
  return follows(who)
end
-- May the viewer see this user's tweets (docs/safety.md)? Not a user a block stands between
-- them and (either way), nor on a home timeline one the viewer mutes; a protected account
-- only as its follower. True or false, or nil and what the cache misses.
local hidden_key, muted_key, hides, protection = KEYS[7], KEYS[8], nil, {}
local function shows(who)
  if who == viewer then return true end
  if viewer ~= '' then
    if hides == nil then
      if redis.call('EXISTS', hidden_key) == 0 then return nil, 'safety' end
      local blocked = lookup(hidden_key)
      hides = blocked
      if mode == 'home' then
        if redis.call('EXISTS', muted_key) == 0 then return nil, 'safety' end
        local muted = lookup(muted_key)
        hides = function(id) return blocked(id) or muted(id) end
      end
    end
    if hides(who) then return false end
  end
  if follows == nil then
    if viewer == '' then
      follows = function() return false end
    elseif redis.call('EXISTS', following) == 0 then
      return nil, 'graph'
    else
      follows = lookup(following)
    end
  end
  if follows(who) then return true end
  if protection[who] == nil then
    protection[who] = redis.call('HGET', user_key(who), 'protected') or false
  end
  if not protection[who] then return nil, 'user' end
  return protection[who] == '0'
end

-- A tweet's hash (projections/redis_cache.py): author, json, deleted, the counts (4-7),
-- hashtags, mentioned, quote_of, media (the attachments as shown), created.
-- The rows mode reads only what the ranking's features need, at the same places: the content
-- check (2, 9) on 'created' (written with the content), the reply's parent at 8.
local function tweet_row(id)
  if rows_only then
    return redis.call('HMGET', tweet_key(id), 'author', 'created', 'deleted', 'likes',
                      'retweets', 'replies', 'quotes', 'reply_to', 'created', 'quote_of',
                      'media', 'created')
  end
  return redis.call('HMGET', tweet_key(id), 'author', 'json', 'deleted', 'likes',
                    'retweets', 'replies', 'quotes', 'hashtags', 'mentioned', 'quote_of',
                    'media', 'created')
end

local picked, seen, examined, last = {}, {}, 0, nil
while #picked < limit and examined < budget do
  local best, from, cut = nil, nil, false
  for i = 1, #sources do
    local member = head(i)
    -- A PARTIAL source used up: what the others hold from here on is older than its end,
    -- where it has entries only the stores hold (a pulled author's older tweets).
    if member == nil and partial[i] then
      if not rows_only then return {'slow', 'past-cache'} end
      cut = true
    end
    if member and (best == nil or newer(member, best)) then best, from = member, i end
  end
  if best == nil or cut then break end
  positions[from] = positions[from] + 1
  examined = examined + 1
  last = best
  local tweet_id = decimal(#best == 8 and best or string.sub(best, 9, 16))
  local by = #best == 24 and decimal(string.sub(best, 17, 24)) or nil
  if not seen[tweet_id] then
    local row = tweet_row(tweet_id)
    if row[3] ~= '1' then
      if not (row[2] and row[9]) then return {'slow', 'tweet'} end
      if visible(by or row[1]) then
        local author, miss = shows(row[1])
        if author == nil then return {'slow', miss} end
        local retweeter = true
        if by then retweeter, miss = shows(by) end
        if retweeter == nil then return {'slow', miss} end
        if author and retweeter then
          seen[tweet_id] = true
          picked[#picked + 1] = {best, tweet_id, by, row}
        end
      end
    end
  end
end

if rows_only then
  local rows, n = {'rows'}, 1
  for _, item in ipairs(picked) do
    local row = item[4]
    if not (row[4] and row[5] and row[6] and row[7]) then return {'slow', 'counts'} end
    if not row[11] then return {'slow', 'media'} end
    if not row[12] then return {'slow', 'tweet'} end
    -- What the ranking's features read (projections/ranking.py): the reply's parent (from
    -- the cached JSON for a tweet cached before the hash held it), attachments or none.
    local parent = row[8]
    if not parent then
      parent = string.match(redis.call('HGET', tweet_key(item[2]), 'json'), '"reply_to":"(%d+)"')
    end
    rows[n + 1], rows[n + 2], rows[n + 3] = item[1], row[1], row[12]
    rows[n + 4], rows[n + 5], rows[n + 6] = row[4], row[5], row[6]
    rows[n + 7] = parent or ''
    rows[n + 8], rows[n + 9] = row[10] or '', row[11] ~= '[]' and '1' or '0'
    n = n + 9
  end
  return rows
end

local cursor = ''
if #picked == limit then
  cursor = string.sub(picked[#picked][1], 1, 8)
elseif examined >= budget then
  cursor = string.sub(last, 1, 8)
elseif not complete then
  return {'slow', 'past-cache'}
end

local liked, retweeted = KEYS[5], KEYS[6]
if viewer ~= '' and (redis.call('EXISTS', liked) == 0 or redis.call('EXISTS', retweeted) == 0) then
  return {'slow', 'flags'}
end
local users = {}
local function user(id)
  if users[id] == nil then users[id] = redis.call('HGET', user_key(id), 'json') end
  return users[id]
end
-- The tweets the page's quote tweets quote, read once each; flagged with the page's tweets.
local ids, quoted, listed = {}, {}, {}
for n, item in ipairs(picked) do ids[n] = item[2]; listed[item[2]] = true end
for _, item in ipairs(picked) do
  local id = item[4][10]
  if id ~= '' and not quoted[id] then
    quoted[id] = tweet_row(id)
    if not listed[id] then ids[#ids + 1] = id; listed[id] = true end
  end
end
local function flags(key)  -- 'true'/'false' per listed tweet: is it in the viewer's set?
  local marks = {}
  local hits = (viewer ~= '' and #ids > 0) and redis.call('SMISMEMBER', key, unpack(ids)) or {}
  for n = 1, #ids do marks[ids[n]] = hits[n] == 1 and 'true' or 'false' end
  return marks
end
local liked_marks, retweeted_marks = flags(liked), flags(retweeted)
-- A tweet's object but its closing brace (the cached JSON's fields, its author, counts,
-- entities and the viewer's flags), or nil and what the cache misses.
local function body(id, row)
  if not (row[4] and row[5] and row[6] and row[7]) then return nil, 'counts' end
  if not row[11] then return nil, 'media' end
  local author = user(row[1])
  if not author then return nil, 'user' end
  local mentions = {}
  for mentioned in string.gmatch(row[9], '%d+') do
    local who = user(mentioned)
    if not who then return nil, 'user' end
    -- Usernames are [A-Za-z0-9_]: nothing in them needs escaping.
    mentions[#mentions + 1] = '{"username":"' .. string.match(who, '"username":"([^"]*)"')
                              .. '","user_id":"' .. mentioned .. '"}'
  end
  return string.sub(row[2], 1, -2) .. ',"user":' .. author
         .. ',"like_count":' .. row[4] .. ',"retweet_count":' .. row[5]
         .. ',"reply_count":' .. row[6] .. ',"quote_count":' .. row[7]
         .. ',"entities":{"hashtags":' .. row[8] .. ',"mentions":['
         .. table.concat(mentions, ',') .. ']}'
         .. ',"liked_by_me":' .. liked_marks[id]
         .. ',"retweeted_by_me":' .. retweeted_marks[id]
         .. ',"media":' .. row[11]
end
local function embedded(id)  -- a quoted tweet, one level deep
  if id == '' then return 'null' end
  local row = quoted[id]
  if row[3] == '1' then return '{"tweet_id":"' .. id .. '","unavailable":true}' end
  if not (row[2] and row[9]) then return nil, 'tweet' end
  local shown, hidden_miss = shows(row[1])
  if shown == nil then return nil, hidden_miss end
  if not shown then return '{"tweet_id":"' .. id .. '","unavailable":true}' end
  local text, miss = body(id, row)
  if not text then return nil, miss end
  return text .. '}'
end
local out = {}
for n, item in ipairs(picked) do
  local by, row = item[3], item[4]
  -- The tweet's immutable fields come rendered (projections/redis_cache.py): close them
  -- with the rest.
  local text, miss = body(item[2], row)
  if not text then return {'slow', miss} end
  local quote, quote_miss = embedded(row[10])
  if not quote then return {'slow', quote_miss} end
  local retweeter = by and user(by) or 'null'
  if not retweeter then return {'slow', 'user'} end
  out[n] = text .. ',"retweeted_by":' .. retweeter .. ',"quoted_tweet":' .. quote .. '}'
end
local first = #picked > 0 and string.sub(picked[1][1], 1, 8) or ''
return {'ok', table.concat(out, ','), cursor, first}
"""


@dataclass(frozen=True)
class FastPage:
    """The script's answer: `tweets_json` (the page's tweet objects, comma-separated) and the
    next cursor's sort key if it could serve the page; else why not (`wait` or a miss)."""

    tweets_json: bytes | None
    next_sort_key: int | None = None
    first_sort_key: int | None = None  # the page's newest entry's, for a newer-than cursor
    waiting: bool = False  # the viewer's own writes are not applied yet
    reason: str | None = None  # why not served

    @property
    def served(self) -> bool:
        return self.tweets_json is not None


class CandidateRow(NamedTuple):
    """What the ranked timeline's features read of a candidate (projections/ranking.py)."""

    entry: Entry
    author_id: int
    created_ms: int
    likes: int
    retweets: int
    replies: int
    reply_to: int | None
    quote_of: int | None
    has_media: bool

    @classmethod
    def of(cls, entry: Entry, tweet: CachedTweet) -> CandidateRow:
        counts = tweet.counts or Counts()
        return cls(
            entry,
            tweet.author_id,
            tweet.created_ms,
            counts.likes,
            counts.retweets,
            counts.replies,
            tweet.reply_to,
            tweet.quote_of,
            bool(tweet.media),
        )

    @classmethod
    def parse(cls, fields: list[bytes]) -> CandidateRow:
        """From the script's fields: member, author, created, likes, retweets, replies,
        reply_to, quote_of, media ('1': some)."""
        member, author, created, likes, retweets, replies, reply_to, quote_of, media = fields
        return cls(
            decode(member),
            int(author),
            int(created),
            int(likes),
            int(retweets),
            int(replies),
            int(reply_to) if reply_to else None,
            int(quote_of) if quote_of else None,
            media == b"1",
        )


_ROW = 9


@dataclass(frozen=True)
class FastCandidates:
    """The script's candidates (newest first) if it could read them all; else why not
    (`wait` or a miss)."""

    found: list[CandidateRow] | None
    waiting: bool = False
    reason: str | None = None


class PageAssembler:
    def __init__(
        self, redis: Redis, keys: RedisKeys, active_seconds: int, agent_group: str
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.active_seconds = active_seconds
        self._page = redis.register_script(_PAGE)
        self.cluster = is_cluster(redis)
        # The keys the script derives, all from RedisKeys: the text around the ids.
        self._prefixes = [
            keys.build_lock(""),
            *keys.recent(ID_SLOT).split(ID_SLOT),
            *keys.tweet(ID_SLOT).split(ID_SLOT),
            *keys.user(ID_SLOT).split(ID_SLOT),
            keys.position_prefix(agent_group),
        ]

    async def home(
        self,
        viewer: int,
        before: int | None,
        limit: int,
        check_writes: bool = True,
        after: int | None = None,
    ) -> FastPage:
        """`check_writes`: answer `wait` while the agents have not applied the viewer's own
        writes (read-your-writes)."""
        keys = self.keys
        return self._page_of(
            await self._call(
                "home", keys.home(viewer), viewer, before, limit, check_writes,
                keys.following(viewer), after,
            )
        )  # fmt: skip

    async def candidates(
        self, viewer: int, limit: int, after: int | None, check_writes: bool = True
    ) -> FastCandidates:
        """The newest `limit` entries newer than sort key `after` the viewer's home timeline
        shows from the caches, with their tweets (the ranked timeline's candidates), in one
        round trip if the caches hold all they need."""
        keys = self.keys
        result = await self._call(
            "home",
            keys.home(viewer),
            viewer,
            None,
            limit,
            check_writes,
            keys.following(viewer),
            after,
            rows=True,
        )
        if result is None:
            return FastCandidates(None, reason="cluster")
        if result[0] != b"rows":
            return FastCandidates(None, result[0] == b"wait", result[1].decode())
        fields = result[1:]
        return FastCandidates(
            [CandidateRow.parse(fields[n : n + _ROW]) for n in range(0, len(fields), _ROW)]
        )

    async def user(
        self,
        author: int,
        viewer: int | None,
        before: int | None,
        limit: int,
        check_writes: bool = True,
        after: int | None = None,
    ) -> FastPage:
        following = None if viewer is None else self.keys.following(viewer)
        return self._page_of(
            await self._call(
                "user", self.keys.recent(author), viewer, before, limit, check_writes,
                following, after,
            )
        )  # fmt: skip

    @staticmethod
    def _page_of(result: list | None) -> FastPage:
        if result is None:
            return FastPage(None, reason="cluster")
        if result[0] != b"ok":
            return FastPage(None, waiting=result[0] == b"wait", reason=result[1].decode())
        return FastPage(result[1], _sort_key(result[2]), _sort_key(result[3]))

    async def _call(
        self,
        mode: str,
        timeline: str,
        viewer: int | None,
        before: int | None,
        limit: int,
        check_writes: bool,
        following: str | None,
        after: int | None,
        rows: bool = False,
    ) -> list | None:
        """The script's answer; None on a cluster (where it cannot run)."""
        if self.cluster:
            return None
        keys = self.keys
        anyone = viewer if viewer is not None else 0
        return await self._page(
            keys=[
                timeline,
                following or timeline,
                keys.pulled_authors(),
                keys.last_write(anyone),
                keys.liked(anyone),
                keys.retweeted(anyone),
                keys.hidden(anyone),
                keys.muted(anyone),
            ],
            args=[
                *self._prefixes,
                mode,
                upper_bound(before),
                limit,
                "" if viewer is None else str(viewer),
                self.active_seconds,
                limit * EXAMINED_PER_ENTRY + EXAMINED_EXTRA,
                int(check_writes and viewer is not None),
                lower_bound(after),
                int(rows),
            ],
        )


def _sort_key(raw: bytes) -> int | None:
    return int.from_bytes(raw, "big") if raw else None
