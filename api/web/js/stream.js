// The live stream (docs/streaming.md): one EventSource per signed-in tab, its events
// re-dispatched to whichever page listens. EventSource reconnects by itself, sending
// Last-Event-ID, so a dropped or ended stream resumes where it left off.

import { streamUrl } from "./api.js";

const KINDS = ["ready", "reset", "tweet", "delete", "counts", "notification", "dropped"];
export const live = new EventTarget();
let source = null;

export function connect() {
  if (source) return;
  source = new EventSource(streamUrl());
  for (const kind of KINDS) {
    source.addEventListener(kind, (event) => {
      live.dispatchEvent(new CustomEvent(kind, { detail: JSON.parse(event.data) }));
    });
  }
}

export function disconnect() {
  source?.close();
  source = null;
}

/** Listen to `kind` until `signal` aborts (the page is left). */
export function on(kind, listener, signal) {
  live.addEventListener(kind, (event) => listener(event.detail), { signal });
}
