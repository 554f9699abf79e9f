// The home timeline: infinite scroll down, and an "N new posts" banner fed by the stream.

import { api } from "../api.js";
import { composeForm } from "../compose.js";
import { h, showError, showPage } from "../dom.js";
import { on } from "../stream.js";
import { feed, renderTweet } from "../tweets.js";

// A timeline entry: a tweet, or someone's retweet of it.
const entryKey = (tweetId, retweetedBy) => `${tweetId}:${retweetedBy || ""}`;
// The banner fetches everything newer, a page of this many at a time.
const NEWER_PAGE = 100;

// Route to the page again (the router aborts this page's listeners first).
const reload = () => window.dispatchEvent(new HashChangeEvent("hashchange"));

export function home(_params, _query, signal) {
  const shown = new Set();
  const pending = new Set();
  let top = null;
  const render = (tweet) => {
    shown.add(entryKey(tweet.tweet_id, tweet.retweeted_by?.id));
    return renderTweet(tweet);
  };
  const timeline = feed((cursor) => api("/timeline/home", { query: { cursor } }), {
    render,
    label: "Home timeline",
    empty: "Your timeline is empty: follow people (search finds them) or post something.",
  });
  timeline.element.addEventListener("chirp:loaded", (event) => {
    top = event.detail.prev_cursor;
  });
  const banner = h("button", { type: "button", class: "banner", hidden: true });
  const updateBanner = () => {
    banner.hidden = pending.size === 0;
    banner.textContent = pending.size === 1 ? "1 new post" : `${pending.size} new posts`;
  };

  // What is newer than the top of the screen, however many pages, shown above it.
  async function showNewer() {
    if (top === null) return reload();
    try {
      const newer = [];
      let cursor = null;
      let first = null;
      do {
        const page = await api("/timeline/home", { query: { since: top, cursor, limit: NEWER_PAGE } });
        first ??= page;
        newer.push(...page.tweets.filter((tweet) => !shown.has(entryKey(tweet.tweet_id, tweet.retweeted_by?.id))));
        cursor = page.next_cursor;
      } while (cursor);
      top = first.prev_cursor;
      timeline.list.prepend(...newer.map(render));
      timeline.element.querySelector(".empty").hidden = timeline.list.childElementCount > 0;
      pending.clear();
      updateBanner();
      const newest = timeline.list.firstElementChild;
      if (newest && newer.length) {
        newest.tabIndex = -1;
        newest.focus();
      }
    } catch (error) {
      showError(error);
    }
  }
  banner.addEventListener("click", showNewer);

  on("tweet", ({ tweet_id, retweeted_by }) => {
    const key = entryKey(tweet_id, retweeted_by);
    if (shown.has(key)) return;
    pending.add(key);
    updateBanner();
  }, signal);
  on("delete", ({ tweet_id, retweeted_by }) => {
    pending.delete(entryKey(tweet_id, retweeted_by));
    updateBanner();
  }, signal);
  on("reset", reload, signal);

  showPage(
    "Home",
    composeForm({ onPosted: showNewer }),
    h("div", { role: "status", class: "banner-region" }, banner),
    timeline.element,
  );
}
