// Composing a tweet: the live counter (as the API counts), images, reply and quote.

import { api, uploadMedia } from "./api.js";
import { announce, busy, h, showError } from "./dom.js";

export const MAX_LENGTH = 280;
export const MAX_IMAGES = 4;
const IMAGE_TYPES = "image/jpeg,image/png,image/gif,image/webp";

/** The length the API checks: code points after NFC normalisation (an emoji is one). */
export function tweetLength(text) {
  return [...text.normalize("NFC")].length;
}

/** A compose form; `onPosted(tweetId)` runs after the API accepted the tweet. */
export function composeForm({ replyTo = null, quoteOf = null, onPosted, label = "What's happening?" } = {}) {
  const text = h("textarea", { id: "compose-text", name: "content", rows: "3", required: true, "aria-describedby": "compose-counter" });
  const counter = h("p", { id: "compose-counter", class: "counter" });
  const files = h("input", { type: "file", id: "compose-media", accept: IMAGE_TYPES, multiple: true, class: "visually-hidden" });
  const attach = h("label", { for: "compose-media", class: "button secondary" }, "Add images");
  const previews = h("ul", { class: "attachments", "aria-label": "Attached images" });
  const submit = h("button", { type: "submit" }, replyTo ? "Reply" : "Post");
  const attached = [];
  // One key per tweet being written: a retry after a lost answer posts it once.
  let idempotencyKey = crypto.randomUUID();

  function refresh() {
    const left = MAX_LENGTH - tweetLength(text.value);
    const characters = (n) => `${n} character${n === 1 ? "" : "s"}`;
    counter.textContent = left >= 0 ? `${characters(left)} left` : `${characters(-left)} over the limit`;
    counter.classList.toggle("over", left < 0);
    counter.classList.toggle("near", left >= 0 && left <= 20);
    submit.disabled = left < 0 || text.value.trim() === "";
    attach.hidden = attached.length >= MAX_IMAGES;
  }

  function showAttachment(file, media) {
    const altId = `alt-${media.media_id}`;
    const alt = h("input", { id: altId, maxlength: "1000" });
    media.describe = () => alt.value;
    const item = h(
      "li",
      {},
      h("img", { src: URL.createObjectURL(file), alt: file.name, width: "80", height: "80" }),
      h("label", { for: altId }, `Alt text for ${file.name}`),
      alt,
      h("button", { type: "button", class: "secondary", "aria-label": `Remove ${file.name}` }, "Remove"),
    );
    item.querySelector("button").addEventListener("click", () => {
      attached.splice(attached.indexOf(media), 1);
      item.remove();
      refresh();
    });
    previews.append(item);
  }

  files.addEventListener("change", async () => {
    const chosen = [...files.files].slice(0, MAX_IMAGES - attached.length);
    if (files.files.length > chosen.length) announce(`At most ${MAX_IMAGES} images: the others were left out.`, { error: true });
    files.value = "";
    for (const file of chosen) {
      try {
        announce(`Uploading ${file.name}…`);
        const media = await uploadMedia(file);
        attached.push(media);
        showAttachment(file, media);
        announce(`${file.name} attached.`);
      } catch (error) {
        showError(error);
      }
    }
    refresh();
  });

  const form = h(
    "form",
    { class: "compose", "aria-label": replyTo ? "Reply" : "Compose a tweet" },
    h("label", { for: "compose-text" }, label),
    text,
    counter,
    previews,
    h("div", { class: "compose-row" }, files, attach, submit),
  );
  text.addEventListener("input", refresh);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(submit, async () => {
      const body = { content: text.value };
      if (replyTo) body.reply_to = replyTo;
      if (quoteOf) body.quote_of = quoteOf;
      for (const media of attached) {
        const altText = media.describe().trim();
        if (altText) await api(`/media/${media.media_id}`, { method: "PATCH", body: { alt_text: altText } });
      }
      if (attached.length) body.media_ids = attached.map((media) => media.media_id);
      const posted = await api("/tweets", { method: "POST", body, headers: { "Idempotency-Key": idempotencyKey } });
      idempotencyKey = crypto.randomUUID();
      text.value = "";
      attached.length = 0;
      previews.replaceChildren();
      announce(replyTo ? "Reply posted." : "Tweet posted.");
      onPosted?.(posted.tweet_id);
    }).then(refresh);
  });
  refresh();
  return form;
}
