// Sign up and log in: a token from the API, kept in this browser until logging out.

import { api, signIn } from "../api.js";
import { busy, field, h, showPage } from "../dom.js";

function form(label, fields, submitLabel, action) {
  const submit = h("button", { type: "submit" }, submitLabel);
  const element = h("form", { class: "card", "aria-label": label }, ...fields, submit);
  element.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(submit, () => action(Object.fromEntries(new FormData(element))));
  });
  return element;
}

function welcome() {
  window.dispatchEvent(new Event("chirp:signed-in"));
  location.hash = "#/";
}

export function login() {
  showPage(
    "Log in",
    form(
      "Log in",
      [
        field("Username", { name: "username", autocomplete: "username", required: true }),
        field("Password", { name: "password", type: "password", autocomplete: "current-password", required: true }),
      ],
      "Log in",
      async ({ username, password }) => {
        const token = await api("/auth/token", { method: "POST", body: { username, password } });
        signIn(token.access_token, null, username);
        const me = await api("/users/me");
        signIn(token.access_token, me.user_id, me.username);
        welcome();
      },
    ),
    h("p", {}, "New here? ", h("a", { href: "#/signup" }, "Sign up")),
  );
}

export function signup() {
  showPage(
    "Sign up",
    form(
      "Sign up",
      [
        field("Username", { name: "username", autocomplete: "username", required: true, pattern: "[A-Za-z0-9_]{1,15}", maxlength: "15" }, { hint: "1 to 15 letters, digits or _" }),
        field("Display name", { name: "display_name", autocomplete: "name", required: true, maxlength: "50" }),
        field("Password", { name: "password", type: "password", autocomplete: "new-password", required: true, minlength: "8" }, { hint: "at least 8 characters" }),
      ],
      "Sign up",
      async (values) => {
        const created = await api("/users", { method: "POST", body: values });
        signIn(created.access_token, created.user_id, created.username);
        welcome();
      },
    ),
    h("p", {}, "Have an account? ", h("a", { href: "#/login" }, "Log in")),
  );
}
