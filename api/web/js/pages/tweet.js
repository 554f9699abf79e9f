// A tweet's page (its conversation: what it replies to, then the replies below it), and the
// compose page (a new tweet, a reply or a quote).

import { api } from "../api.js";
import { composeForm } from "../compose.js";
import { h, showPage } from "../dom.js";
import { feed, renderTweet } from "../tweets.js";

// Replies are indented by depth below the tweet, up to this many levels.
const MAX_INDENT = 4;

export async function tweetPage([tweetId]) {
  const context = await api(`/tweets/${tweetId}/context`);
  let first = context;
  const depth = new Map([[context.tweet.tweet_id, 0]]);
  const indented = (tweet) => {
    const level = (depth.get(tweet.reply_to) ?? 0) + 1;
    depth.set(tweet.tweet_id, level);
    const article = renderTweet(tweet);
    article.classList.add(`depth-${Math.min(level, MAX_INDENT)}`);
    return article;
  };
  const replies = feed(
    (cursor) => {
      if (first) {
        const page = first;
        first = null;
        return Promise.resolve(page);
      }
      return api(`/tweets/${tweetId}/context`, { query: { cursor } });
    },
    { key: "descendants", render: indented, label: "Replies", empty: "No replies yet." },
  );
  const main = renderTweet(context.tweet);
  main.classList.add("focus-tweet");
  const reload = () => window.dispatchEvent(new HashChangeEvent("hashchange"));
  showPage(
    `Tweet by ${context.tweet.user.display_name}`,
    context.ancestors.length ? h("section", { "aria-label": "Earlier in the conversation", class: "ancestors" }, context.ancestors.map((tweet) => renderTweet(tweet))) : null,
    main,
    composeForm({ replyTo: context.tweet.tweet_id, onPosted: reload, label: `Reply to @${context.tweet.user.username}` }),
    h("h2", {}, "Replies"),
    replies.element,
  );
}

export async function compose(_params, query) {
  const replyTo = query.get("reply_to");
  const quoteOf = query.get("quote_of");
  const target = replyTo || quoteOf;
  const shown = target ? renderTweet(await api(`/tweets/${target}`), { quoted: true }) : null;
  const title = replyTo ? "Reply" : quoteOf ? "Quote tweet" : "Compose";
  showPage(
    title,
    shown,
    composeForm({
      replyTo,
      quoteOf,
      label: replyTo ? "Your reply" : quoteOf ? "Your comment" : "What's happening?",
      onPosted: (tweetId) => {
        location.hash = replyTo ? `#/t/${replyTo}` : `#/t/${tweetId}`;
      },
    }),
  );
}
