// The API client: the bearer token, JSON requests, problem+json errors as ApiError.

const BASE = "/api/v1";
const SESSION_KEY = "chirp.session";

/** The signed-in user ({token, user_id, username}) or null. */
export function session() {
  try {
    return JSON.parse(localStorage.getItem(SESSION_KEY));
  } catch {
    return null;
  }
}

export function signIn(token, userId, username) {
  localStorage.setItem(SESSION_KEY, JSON.stringify({ token, user_id: userId, username }));
}

export function signOut() {
  localStorage.removeItem(SESSION_KEY);
}

/** An error answer of the API, from its problem detail (RFC 9457). */
export class ApiError extends Error {
  constructor(status, problem, retryAfter) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
    this.retryAfter = retryAfter;
  }

  /** What a person should read: the title, the detail, each invalid field, when to retry. */
  describe() {
    const { title, detail, errors } = this.problem;
    const parts = [title || `Request failed (${this.status})`];
    if (detail) parts.push(detail);
    for (const error of errors || []) {
      const field = (error.loc || []).filter((part) => part !== "body").join(".");
      parts.push(field ? `${field}: ${error.msg}` : error.msg);
    }
    if (this.retryAfter !== null) parts.push(`Try again in ${retryPhrase(this.retryAfter)}.`);
    return parts.join(" — ");
  }
}

function retryPhrase(seconds) {
  const at = new Date(Date.now() + seconds * 1000).toLocaleTimeString();
  return seconds < 120 ? `${seconds} s (at ${at})` : `${Math.ceil(seconds / 60)} min (at ${at})`;
}

function retryAfterSeconds(response) {
  const value = response.headers.get("Retry-After");
  if (value === null) return null;
  const seconds = /^\d+$/.test(value) ? Number(value) : (Date.parse(value) - Date.now()) / 1000;
  return Number.isFinite(seconds) ? Math.max(0, Math.ceil(seconds)) : null;
}

/** Call the API: `path` under /api/v1, `query` an object, `body` sent as JSON. */
export async function api(path, { method = "GET", query, body, headers: extra } = {}) {
  const target = new URL(BASE + path, location.origin);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") target.searchParams.set(name, value);
  }
  const headers = { ...extra };
  const current = session();
  if (current) headers.Authorization = `Bearer ${current.token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(target, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, { title: "Network error", detail: "the API did not answer" }, null);
  }
  if (response.status === 401 && current) {
    signOut();
    window.dispatchEvent(new Event("chirp:signed-out"));
  }
  if (!response.ok) {
    let problem = { title: response.statusText || `HTTP ${response.status}` };
    try {
      problem = await response.json();
    } catch {
      // not a problem detail: the status line says what there is to say
    }
    throw new ApiError(response.status, problem, retryAfterSeconds(response));
  }
  return response.status === 204 ? null : response.json();
}

/** Upload one file: reserve, PUT the bytes to the presigned URL, complete (docs/media.md). */
export async function uploadMedia(file) {
  const ticket = await api("/media", {
    method: "POST",
    body: { content_type: file.type, byte_size: file.size },
  });
  const put = await fetch(ticket.upload_url, {
    method: ticket.upload_method,
    headers: ticket.upload_headers,
    body: file,
  });
  if (!put.ok) throw new ApiError(put.status, { title: "Upload failed" }, retryAfterSeconds(put));
  return api(`/media/${ticket.media_id}/complete`, { method: "POST" });
}

/** The live stream's URL: EventSource cannot send headers, so the token rides in the query. */
export function streamUrl() {
  const current = session();
  return `${BASE}/streaming/home?access_token=${encodeURIComponent(current.token)}`;
}
