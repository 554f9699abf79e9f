// A tweet as the client shows it, its actions, and live changes to every copy on the page.

import { api, session } from "./api.js";
import { announce, busy, h, showError, time } from "./dom.js";

const WORD = "\\p{L}\\p{M}\\p{N}_";
// The API's own rules (schemas/entities.py): URLs first, then hashtags and mentions.
const TOKENS = new RegExp(
  `(https?://\\S+|www\\.\\S+)` +
    `|(?<![${WORD}&#＃])[#＃]([${WORD}]*[\\p{L}\\p{M}_][${WORD}]*)` +
    `|(?<![${WORD}@＠])[@＠]([A-Za-z0-9_]{1,15})(?![A-Za-z0-9_@])`,
  "gu",
);

/** The content as text nodes and links: URLs, its hashtags, the users it mentioned. */
function linkify(content, entities) {
  const tags = new Set(entities.hashtags);
  const mentioned = new Set(entities.mentions.map((mention) => mention.username.toLowerCase()));
  const parts = [];
  let last = 0;
  for (const match of content.matchAll(TOKENS)) {
    const [text, url, tag, name] = match;
    let link = null;
    if (url) {
      const href = url.startsWith("www.") ? `https://${url}` : url;
      link = h("a", { href, rel: "noopener nofollow ugc", target: "_blank" }, text);
    } else if (tag && tags.has(tag.normalize("NFC").toLowerCase())) {
      link = h("a", { href: `#/search?q=${encodeURIComponent(`#${tag}`)}` }, text);
    } else if (name && mentioned.has(name.toLowerCase())) {
      link = h("a", { href: `#/u/${name}` }, text);
    }
    if (!link) continue;
    parts.push(content.slice(last, match.index), link);
    last = match.index + text.length;
  }
  parts.push(content.slice(last));
  return parts;
}

function renderMedia(media, author) {
  if (!media || media.length === 0) return null;
  const items = media.map((item) => {
    const label = item.alt_text || `${item.type === "video" ? "Video" : "Image"} from @${author}`;
    const size = { width: item.width || undefined, height: item.height || undefined };
    if (item.processing || !item.url) {
      return h("div", { class: "media-pending", role: "img", "aria-label": `${label} (processing)` });
    }
    if (item.type === "video") {
      return h("video", { src: item.url, poster: item.preview_url, controls: true, preload: "none", "aria-label": label, ...size });
    }
    const image = h("img", { src: item.preview_url || item.url, alt: label, loading: "lazy", ...size });
    return h("a", { href: item.url, target: "_blank", rel: "noopener" }, image);
  });
  return h("div", { class: `media media-${Math.min(media.length, 4)}` }, items);
}

function count(kind, value) {
  return h("span", { class: "count", dataset: { count: kind } }, String(value));
}

// How many `counts` events each tweet has had on this page: a toggle moves its count only if
// none came while its request was under way (one that did already counts it, or will).
const countsSeen = new Map();

/** A toggle (like, retweet): pressed state from the API's answer, its count moved at once. */
function toggle(tweet, kind, label, pressed, value) {
  const button = h("button", { type: "button", class: `action ${kind}`, "aria-pressed": String(pressed) }, `${label} `, count(kind, value));
  button.addEventListener("click", () =>
    busy(button, async () => {
      const on = button.getAttribute("aria-pressed") !== "true";
      const seen = countsSeen.get(tweet.tweet_id);
      await api(`/tweets/${tweet.tweet_id}/${kind}`, { method: on ? "POST" : "DELETE" });
      const counted = countsSeen.get(tweet.tweet_id) !== seen;
      for (const copy of copiesOf(tweet.tweet_id)) {
        const other = copy.querySelector(`button.${kind}`);
        if (!other || other.getAttribute("aria-pressed") === String(on)) continue;
        other.setAttribute("aria-pressed", String(on));
        const shown = other.querySelector(".count");
        if (!counted) shown.textContent = String(Math.max(0, Number(shown.textContent) + (on ? 1 : -1)));
      }
    }),
  );
  return button;
}

function actions(tweet) {
  const mine = session()?.user_id === tweet.user.id;
  const remove = mine
    ? h("button", { type: "button", class: "action delete" }, "Delete")
    : null;
  remove?.addEventListener("click", () => {
    if (!confirm("Delete this tweet?")) return;
    busy(remove, async () => {
      await api(`/tweets/${tweet.tweet_id}`, { method: "DELETE" });
      removeTweet(tweet.tweet_id);
      announce("Tweet deleted.");
    });
  });
  return h(
    "div",
    { class: "actions", role: "group", "aria-label": "Tweet actions" },
    h("a", { class: "action", href: `#/compose?reply_to=${tweet.tweet_id}` }, "Reply ", count("replies", tweet.reply_count)),
    toggle(tweet, "retweet", "Retweet", tweet.retweeted_by_me, tweet.retweet_count),
    toggle(tweet, "like", "Like", tweet.liked_by_me, tweet.like_count),
    h("a", { class: "action", href: `#/compose?quote_of=${tweet.tweet_id}` }, "Quote ", count("quotes", tweet.quote_count)),
    remove,
  );
}

function byline(tweet) {
  const { user } = tweet;
  return h(
    "p",
    { class: "byline" },
    h("a", { class: "name", href: `#/u/${user.username}` }, user.display_name),
    " ",
    h("span", { class: "handle" }, `@${user.username}`),
    " · ",
    h("a", { class: "when", href: `#/t/${tweet.tweet_id}`, "aria-label": `Open tweet of ${new Date(tweet.created_at).toLocaleString()}` }, time(tweet.created_at)),
  );
}

/** A tweet (or a placeholder for an unavailable one); `quoted` renders it inside another. */
export function renderTweet(tweet, { quoted = false } = {}) {
  if (tweet.unavailable) {
    return h("article", { class: "tweet unavailable", dataset: { tweetId: tweet.tweet_id } }, h("p", {}, "This tweet is unavailable."));
  }
  const article = h(
    "article",
    { class: quoted ? "tweet quoted" : "tweet", dataset: { tweetId: tweet.tweet_id, retweetedBy: tweet.retweeted_by?.id }, "aria-label": `Tweet by ${tweet.user.display_name}` },
    tweet.retweeted_by ? h("p", { class: "context" }, `Retweeted by ${tweet.retweeted_by.display_name}`) : null,
    byline(tweet),
    tweet.reply_to && !quoted ? h("p", { class: "context" }, h("a", { href: `#/t/${tweet.reply_to}` }, "Replying to a tweet")) : null,
    h("p", { class: "content" }, linkify(tweet.content, tweet.entities)),
    renderMedia(tweet.media, tweet.user.username),
    tweet.quoted_tweet ? renderTweet(tweet.quoted_tweet, { quoted: true }) : null,
    quoted ? null : actions(tweet),
  );
  return article;
}

function copiesOf(tweetId) {
  return document.querySelectorAll(`article.tweet[data-tweet-id="${CSS.escape(tweetId)}"]`);
}

/** Apply a `counts` event (absolute counts) to every copy of the tweet on the page. */
export function updateCounts({ tweet_id, likes, retweets, replies, quotes }) {
  countsSeen.set(tweet_id, (countsSeen.get(tweet_id) || 0) + 1);
  const values = { like: likes, retweet: retweets, replies, quotes };
  for (const copy of copiesOf(tweet_id)) {
    for (const [kind, value] of Object.entries(values)) {
      const shown = copy.querySelector(`:scope > .actions [data-count="${kind}"]`);
      if (shown && value !== undefined) shown.textContent = String(value);
    }
  }
}

/** Take a deleted tweet off the page, or only one user's retweet of it. */
export function removeTweet(tweetId, retweetedBy = null) {
  for (const copy of copiesOf(tweetId)) {
    if (retweetedBy && copy.dataset.retweetedBy !== retweetedBy) continue;
    if (copy.classList.contains("quoted")) {
      copy.replaceWith(renderTweet({ tweet_id: tweetId, unavailable: true }));
    } else {
      copy.remove();
    }
  }
}

/**
 * A list of tweets paged by `next_cursor`: `load(cursor)` answers a page. Further pages load
 * when the "Load more" button scrolls into view, or when it is pressed (keyboard users).
 */
export function feed(load, { empty = "Nothing here yet.", label = "Tweets", render = renderTweet, key = "tweets" } = {}) {
  const list = h("div", { class: "feed", "aria-busy": "false" });
  const more = h("button", { type: "button", class: "more", hidden: true }, "Load more");
  const status = h("p", { class: "empty", hidden: true }, empty);
  let cursor = null;
  let loading = false;
  let started = false;
  async function next() {
    if (loading) return;
    loading = true;
    list.setAttribute("aria-busy", "true");
    try {
      const page = await load(cursor);
      const items = page[key];
      list.append(...items.map((item) => render(item)));
      cursor = page.next_cursor;
      more.hidden = !cursor;
      status.hidden = list.childElementCount > 0;
      if (!started) section.dispatchEvent(new CustomEvent("chirp:loaded", { detail: page }));
      started = true;
    } catch (error) {
      showError(error);
    } finally {
      loading = false;
      list.setAttribute("aria-busy", "false");
    }
  }
  more.addEventListener("click", next);
  const section = h("section", { class: "feed-section", "aria-label": label }, list, status, more);
  const observer = new IntersectionObserver((entries) => {
    if (entries.some((entry) => entry.isIntersecting) && cursor) next();
  });
  observer.observe(more);
  next();
  return { element: section, list, next };
}
