// Building the page: elements from data (text only, never markup), messages, focus.

/** An element: `h("a", {href: "#/"}, "Home")`; `on*` attributes become listeners. */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "class") element.className = value;
    else if (name === "dataset") Object.assign(element.dataset, value);
    else element.setAttribute(name, value === true ? "" : value);
  }
  element.append(...children.flat().filter((child) => child !== null && child !== undefined));
  return element;
}

/** Say something in the live region: errors interrupt, news waits its turn. */
export function announce(message, { error = false } = {}) {
  const region = document.getElementById(error ? "alerts" : "status");
  const other = document.getElementById(error ? "status" : "alerts");
  other.replaceChildren();
  region.replaceChildren(h("p", { class: error ? "error" : "info" }, message));
}

export function clearMessages() {
  document.getElementById("alerts").replaceChildren();
  document.getElementById("status").replaceChildren();
}

/** Show an API error (or any error) as a readable message. */
export function showError(error) {
  announce(error.describe ? error.describe() : String(error.message || error), { error: true });
}

/** Run `action` with `button` disabled, showing any error; resolves to its result or null. */
export async function busy(button, action) {
  button.disabled = true;
  try {
    return await action();
  } catch (error) {
    showError(error);
    return null;
  } finally {
    button.disabled = false;
  }
}

const TIME = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

export function time(iso) {
  return h("time", { datetime: iso }, TIME.format(new Date(iso)));
}

/** The page's heading and content in <main>, with focus on the heading for screen readers. */
export function showPage(title, ...content) {
  const main = document.getElementById("main");
  const heading = h("h1", { tabindex: "-1" }, title);
  main.replaceChildren(heading, ...content.filter((part) => part !== null && part !== undefined));
  document.title = `${title} · Chirp`;
  heading.focus({ preventScroll: true });
  return main;
}

/** A labelled form field: label, input (or textarea) and its hint. */
export function field(label, attributes, { multiline = false, hint } = {}) {
  const id = attributes.id || `field-${attributes.name}`;
  const hintId = hint ? `${id}-hint` : undefined;
  const input = h(multiline ? "textarea" : "input", { ...attributes, id, "aria-describedby": hintId });
  return h(
    "p",
    { class: "field" },
    h("label", { for: id }, label),
    input,
    hint ? h("small", { id: hintId }, hint) : null,
  );
}
