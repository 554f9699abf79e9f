// Search: tweets (from:, #tag, "phrases") and people; and the trending hashtags.

import { api } from "../api.js";
import { h, showPage } from "../dom.js";
import { feed } from "../tweets.js";
import { userRow } from "./people.js";

function trendList(found) {
  if (found.trends.length === 0) return h("p", { class: "empty" }, "Nothing is trending right now.");
  return h(
    "ol",
    { class: "trends" },
    found.trends.map((trend) =>
      h("li", {}, h("a", { href: `#/search?q=${encodeURIComponent(`#${trend.hashtag}`)}` }, `#${trend.hashtag}`), " ", h("span", { class: "handle" }, `${trend.count} tweets`)),
    ),
  );
}

export async function trends() {
  showPage("Trends", trendList(await api("/trends", { query: { limit: 20 } })));
}

export async function search(_params, query) {
  const q = query.get("q") || "";
  const people = query.get("type") === "people";
  const input = h("input", { type: "search", id: "search-q", name: "q", value: q, required: true, "aria-describedby": "search-hint" });
  const kind = (value, label, checked) =>
    h("label", { class: "choice" }, h("input", { type: "radio", name: "type", value, checked }), ` ${label}`);
  const form = h(
    "form",
    { role: "search", class: "search" },
    h("label", { for: "search-q" }, "Search"),
    h("div", { class: "compose-row" }, input, h("button", { type: "submit" }, "Search")),
    h("small", { id: "search-hint" }, 'Words, "exact phrases", #hashtag, from:username, since:YYYY-MM-DD'),
    h("fieldset", {}, h("legend", {}, "Look for"), kind("tweets", "Tweets", !people), kind("people", "People", people)),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const values = new FormData(form);
    const next = `#/search?${new URLSearchParams({ q: values.get("q"), type: values.get("type") })}`;
    // The same search again (waiting for a new tweet to be indexed) routes again too.
    if (location.hash === next) window.dispatchEvent(new HashChangeEvent("hashchange"));
    else location.hash = next;
  });
  if (!q) {
    showPage("Search", form, h("h2", {}, "Trending"), trendList(await api("/trends")));
    return;
  }
  const results = people
    ? feed((cursor) => api("/users/search", { query: { q, cursor } }), { key: "users", render: userRow, label: "People found", empty: "Nobody found." })
    : feed((cursor) => api("/search", { query: { q, cursor } }), { label: "Tweets found", empty: "No tweets found." });
  showPage(`Search: ${q}`, form, results.element);
}
