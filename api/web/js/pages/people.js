// Profiles: tweets, followers, following, the follow button, and editing your own.

import { api, session, signIn } from "../api.js";
import { announce, busy, field, h, showPage } from "../dom.js";
import { feed } from "../tweets.js";

// Whom the signed-in user follows, read once per page load of the app from their following
// list (the API has no per-user "followed by me" flag); kept up to date by the buttons.
const FOLLOWING_PAGES = 10;
let following = null;

async function followingSet() {
  const me = session();
  if (!me) return new Set();
  following ??= (async () => {
    const ids = new Set();
    let cursor = null;
    for (let page = 0; page < FOLLOWING_PAGES; page++) {
      const found = await api(`/users/${me.user_id}/following`, { query: { cursor, limit: 100 } });
      for (const user of found.users) ids.add(user.id);
      cursor = found.next_cursor;
      if (!cursor) break;
    }
    return ids;
  })();
  return following;
}

window.addEventListener("chirp:signed-out", () => {
  following = null;
});

/** A follow/unfollow button for `user` (nothing for yourself or when signed out). */
export function followButton(user, onChange) {
  const me = session();
  if (!me || me.user_id === user.id) return null;
  const button = h("button", { type: "button", class: "follow", "aria-pressed": "false" }, "Follow");
  const show = (on) => {
    button.setAttribute("aria-pressed", String(on));
    button.textContent = on ? "Following" : "Follow";
    button.setAttribute("aria-label", `${on ? "Unfollow" : "Follow"} @${user.username}`);
  };
  show(false);
  followingSet().then((ids) => show(ids.has(user.id)), () => {});
  button.addEventListener("click", () =>
    busy(button, async () => {
      const on = button.getAttribute("aria-pressed") !== "true";
      const state = await api(`/users/${user.id}/follow`, { method: on ? "POST" : "DELETE" });
      const ids = await followingSet();
      if (state.following) ids.add(user.id);
      else ids.delete(user.id);
      show(state.following);
      announce(`${state.following ? "Following" : "No longer following"} @${user.username}.`);
      onChange?.(state.following);
    }),
  );
  return button;
}

/** A user in a list: name, handle, and the follow button. */
export function userRow(user) {
  return h(
    "div",
    { class: "user" },
    h("p", {}, h("a", { class: "name", href: `#/u/${user.username}` }, user.display_name), " ", h("span", { class: "handle" }, `@${user.username}`)),
    followButton(user),
  );
}

function stat(value, label, href) {
  const text = [h("strong", {}, String(value)), ` ${label}`];
  return h("li", {}, href ? h("a", { href }, ...text) : text);
}

function card(profile) {
  const base = `#/u/${profile.username}`;
  const user = { id: profile.user_id, username: profile.username };
  const followers = stat(profile.followers_count, "Followers", `${base}/followers`);
  const mine = session()?.user_id === profile.user_id;
  return h(
    "section",
    { class: "profile", "aria-label": "Profile" },
    h("p", { class: "handle" }, `@${profile.username}`),
    profile.bio ? h("p", { class: "bio" }, profile.bio) : null,
    h(
      "p",
      { class: "meta" },
      profile.location ? `${profile.location} · ` : null,
      profile.website ? [h("a", { href: profile.website, rel: "noopener nofollow ugc" }, profile.website), " · "] : null,
      `Joined ${new Date(profile.created_at).toLocaleDateString()}`,
    ),
    h("ul", { class: "stats" }, stat(profile.tweet_count, "Tweets"), followers, stat(profile.following_count, "Following", `${base}/following`)),
    mine
      ? h("a", { class: "button secondary", href: "#/settings/profile" }, "Edit profile")
      : followButton(user, (on) => {
          const shown = followers.querySelector("strong");
          shown.textContent = String(Number(shown.textContent) + (on ? 1 : -1));
        }),
  );
}

function tabs(username, current) {
  const tab = (label, suffix) =>
    h("a", { href: `#/u/${username}${suffix}`, "aria-current": current === suffix ? "page" : null }, label);
  return h("nav", { class: "tabs", "aria-label": "Profile sections" }, tab("Tweets", ""), tab("Followers", "/followers"), tab("Following", "/following"));
}

export async function profile([username, section]) {
  const found = await api(`/users/by/username/${username}`);
  const suffix = section ? `/${section}` : "";
  const list = section
    ? feed((cursor) => api(`/users/${found.user_id}/${section}`, { query: { cursor } }), { key: "users", render: userRow, label: section === "followers" ? "Followers" : "Following", empty: "Nobody yet." })
    : feed((cursor) => api(`/users/${found.user_id}/tweets`, { query: { cursor } }), { label: `Tweets by @${found.username}`, empty: "No tweets yet." });
  showPage(found.display_name, card(found), tabs(found.username, suffix), list.element);
}

export async function editProfile() {
  const me = await api("/users/me");
  const fields = [
    field("Display name", { name: "display_name", value: me.display_name, required: true, maxlength: "50" }),
    field("Bio", { name: "bio", maxlength: "160" }, { multiline: true, hint: "up to 160 characters" }),
    field("Location", { name: "location", value: me.location, maxlength: "30" }),
    field("Website", { name: "website", value: me.website, type: "url", maxlength: "100" }, { hint: "an http:// or https:// address" }),
  ];
  const submit = h("button", { type: "submit" }, "Save");
  const form = h("form", { class: "card", "aria-label": "Edit profile" }, ...fields, submit);
  form.querySelector("textarea").value = me.bio;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(submit, async () => {
      const values = Object.fromEntries(new FormData(form));
      const changed = Object.fromEntries(Object.entries(values).filter(([name, value]) => value !== me[name]));
      const saved = await api("/users/me", { method: "PATCH", body: changed });
      signIn(session().token, saved.user_id, saved.username);
      announce("Profile saved.");
      location.hash = `#/u/${saved.username}`;
    });
  });
  showPage("Edit profile", form);
}
