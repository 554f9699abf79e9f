// The app: hash routes to pages, the navigation with its unread badge, the live stream.

import { api, session, signOut } from "./api.js";
import { clearMessages, h, showError, showPage } from "./dom.js";
import { login, signup } from "./pages/auth.js";
import { home } from "./pages/home.js";
import { mentions, notifications } from "./pages/notifications.js";
import { editProfile, profile } from "./pages/people.js";
import { search, trends } from "./pages/search.js";
import { compose, tweetPage } from "./pages/tweet.js";
import { connect, disconnect, on } from "./stream.js";
import { removeTweet, updateCounts } from "./tweets.js";

// [pattern, page, needs a signed-in user]; reads work signed out, as the API allows.
const ROUTES = [
  [/^\/$/, home, true],
  [/^\/login$/, login, false],
  [/^\/signup$/, signup, false],
  [/^\/compose$/, compose, true],
  [/^\/u\/([A-Za-z0-9_]{1,15})(?:\/(followers|following))?$/, profile, false],
  [/^\/t\/([0-9]{1,19})$/, tweetPage, false],
  [/^\/search$/, search, false],
  [/^\/trends$/, trends, false],
  [/^\/notifications$/, notifications, true],
  [/^\/mentions$/, mentions, true],
  [/^\/settings\/profile$/, editProfile, true],
];

let leaving = new AbortController();
const badge = h("span", { class: "badge", hidden: true });

function navigation() {
  const me = session();
  const link = (href, label, ...extra) => h("a", { href }, label, ...extra);
  const items = me
    ? [
        link("#/", "Home"),
        link("#/compose", "Compose"),
        link("#/search", "Search"),
        link("#/trends", "Trends"),
        link("#/notifications", "Notifications", badge),
        link("#/mentions", "Mentions"),
        link(`#/u/${me.username}`, "Profile"),
        h("button", { type: "button", class: "link", onclick: logOut }, "Log out"),
      ]
    : [link("#/login", "Log in"), link("#/signup", "Sign up"), link("#/search", "Search"), link("#/trends", "Trends")];
  document.getElementById("nav").replaceChildren(h("ul", {}, items.map((item) => h("li", {}, item))));
}

function markCurrent(path) {
  for (const anchor of document.querySelectorAll("#nav a")) {
    const current = anchor.getAttribute("href") === `#${path}`;
    if (current) anchor.setAttribute("aria-current", "page");
    else anchor.removeAttribute("aria-current");
  }
}

async function refreshBadge() {
  if (!session()) return;
  try {
    const { unread_count } = await api("/notifications/unread_count");
    badge.hidden = unread_count === 0;
    badge.replaceChildren(String(unread_count), h("span", { class: "visually-hidden" }, " unread"));
  } catch {
    // the badge waits for the next notification; the page shows the error if it persists
  }
}

function logOut() {
  signOut();
  started();
  location.hash = "#/login";
}

/** Connect what a signed-in user gets on every page, or tear it down when signed out. */
function started() {
  navigation();
  if (!session()) {
    disconnect();
    badge.hidden = true;
    return;
  }
  connect();
  refreshBadge();
}

async function route() {
  leaving.abort();
  leaving = new AbortController();
  clearMessages();
  const [path, search = ""] = (location.hash.slice(1) || "/").split("?");
  markCurrent(path);
  const found = ROUTES.find(([pattern]) => pattern.test(path));
  if (!found) {
    showPage("Page not found", h("p", {}, h("a", { href: "#/" }, "Go home")));
    return;
  }
  const [pattern, page, needsUser] = found;
  if (needsUser && !session()) {
    location.hash = "#/login";
    return;
  }
  try {
    await page(path.match(pattern).slice(1), new URLSearchParams(search), leaving.signal);
  } catch (error) {
    showPage(error.status === 404 ? "Not found" : "Something went wrong", h("p", {}, h("a", { href: "#/" }, "Go home")));
    showError(error);
  }
}

// Live changes apply to every page: counts and deletions to each copy of a tweet shown.
on("counts", updateCounts);
on("delete", ({ tweet_id, author_id, retweeted_by }) => removeTweet(tweet_id, author_id ? null : retweeted_by));
on("notification", refreshBadge);
// Whether the stream is open, for anyone (a test, a user agent) waiting on live updates.
const streamState = (state) => () => {
  document.documentElement.dataset.stream = state;
};
on("ready", streamState("ready"));
on("reset", streamState("ready"));
on("dropped", streamState("dropped"));
window.addEventListener("chirp:notifications-read", refreshBadge);
window.addEventListener("chirp:signed-in", started);
window.addEventListener("chirp:signed-out", () => {
  started();
  location.hash = "#/login";
});
window.addEventListener("hashchange", route);
document.querySelector(".skip").addEventListener("click", (event) => {
  event.preventDefault();
  document.getElementById("main").focus();
});
started();
route();
