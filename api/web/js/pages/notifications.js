// Notifications (grouped likes, retweets and follows; each mention, reply and quote) and the
// mentions timeline. Opening the page marks what it shows read.

import { api } from "../api.js";
import { h, showError, showPage, time } from "../dom.js";
import { feed, renderTweet } from "../tweets.js";

const VERBS = {
  like: "liked your tweet",
  retweet: "retweeted your tweet",
  follow: "followed you",
  follow_request: "asked to follow you",
  mention: "mentioned you",
  reply: "replied to you",
  quote: "quoted your tweet",
};

function who(notification) {
  const [first] = notification.actors;
  const others = notification.actor_count - 1;
  const name = first ? first.display_name : "Someone";
  if (others <= 0) return name;
  return `${name} and ${others} ${others === 1 ? "other" : "others"}`;
}

function notificationRow(notification) {
  const [first] = notification.actors;
  return h(
    "article",
    { class: notification.read ? "notification" : "notification unread", "aria-label": `${who(notification)} ${VERBS[notification.type]}` },
    h(
      "p",
      {},
      notification.read ? null : h("span", { class: "dot" }, h("span", { class: "visually-hidden" }, "Unread: ")),
      first ? h("a", { href: `#/u/${first.username}` }, who(notification)) : who(notification),
      ` ${VERBS[notification.type]} · `,
      time(notification.created_at),
    ),
    notification.tweet ? renderTweet(notification.tweet, { quoted: notification.type === "like" || notification.type === "retweet" }) : null,
  );
}

export function notifications() {
  const list = feed((cursor) => api("/notifications", { query: { cursor } }), {
    key: "notifications",
    render: notificationRow,
    label: "Notifications",
    empty: "No notifications yet.",
  });
  list.element.addEventListener("chirp:loaded", async (event) => {
    const [newest] = event.detail.notifications;
    if (!newest || newest.read) return;
    try {
      await api("/notifications/read", { method: "POST", body: { up_to: newest.latest_id } });
      window.dispatchEvent(new Event("chirp:notifications-read"));
    } catch (error) {
      showError(error);
    }
  });
  showPage("Notifications", h("p", {}, h("a", { href: "#/mentions" }, "Only mentions and replies")), list.element);
}

export function mentions() {
  const list = feed((cursor) => api("/timeline/mentions", { query: { cursor } }), {
    label: "Mentions",
    empty: "Nobody has mentioned you yet.",
  });
  showPage("Mentions", list.element);
}
