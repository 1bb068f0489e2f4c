// The HTTP API (docs/api.md) as the pages use it: JSON in and out, the bearer token, errors in
// the contract's shape, and the server's clock read from each answer's Date header.

/** A refusal or failure, with the contract's error code (`sold_out`, `unauthorized`, …). */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code);
    this.status = status;
    this.code = code;
  }
}

// Server time minus local time, in ms. Sale windows and reservation deadlines are the server's
// times, and a phone's clock may be minutes off: countdowns use this. The Date header has whole
// seconds, so the estimate keeps the smallest offset seen (the answer can only be late).
let skew = null;

function noteServerTime(response) {
  const date = response.headers.get('Date');
  if (!date) return;
  const server = Date.parse(date);
  if (Number.isNaN(server)) return;
  const offset = server + 500 - Date.now();
  skew = skew === null ? offset : Math.min(skew, offset);
}

/** Now, by the server's clock (ms since the epoch). */
export function serverNow() {
  return Date.now() + (skew ?? 0);
}

/** Whether a listing's sale has closed (its window ended, or the merchant closed it), by the
 * server's clock. */
export function saleClosed(listing, now = serverNow()) {
  return Boolean(listing?.ends_at) && Date.parse(listing.ends_at) <= now;
}

/**
 * Calls the API. Resolves with the parsed body (null for 204); rejects with ApiError carrying
 * the contract's code, or code `network` when the server could not be reached.
 */
export async function api(method, path, { token, body, headers = {} } = {}) {
  const init = { method, headers: { ...headers } };
  if (token) init.headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, 'network', String(e));
  }
  noteServerTime(response);
  if (response.status === 204) return null;
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    throw new ApiError(response.status, data?.error ?? 'http_' + response.status, data?.message);
  }
  return data;
}

/** Every item of a paged list (`{items, next}`), or a plain array as it is. */
export async function all(path, token) {
  const items = [];
  let url = path;
  for (let page = 0; page < 50; page++) {
    const data = await api('GET', url, { token });
    if (Array.isArray(data)) return data;
    items.push(...data.items);
    if (!data.next) break;
    url = path + (path.includes('?') ? '&' : '?') + 'cursor=' + encodeURIComponent(data.next);
  }
  return items;
}

/** A signed-in identity kept in localStorage under `slot` (`viewer` or `merchant`). */
export const identity = {
  load(slot) {
    try {
      const saved = JSON.parse(localStorage.getItem('livecart.' + slot) || 'null');
      if (!saved?.token) return null;
      // An expired token is dropped here rather than failing every call later.
      const claims = JSON.parse(atob(saved.token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
      if (claims.exp * 1000 < Date.now()) return null;
      return saved;
    } catch {
      return null;
    }
  },
  save(slot, value) {
    localStorage.setItem('livecart.' + slot, JSON.stringify(value));
  },
  clear(slot) {
    localStorage.removeItem('livecart.' + slot);
  },
};

/** Minor units as money: 3900 → "¥39.00". */
export function money(cents) {
  const value = Number(cents) / 100;
  return '¥' + value.toFixed(2);
}

/** "39.00" or "39" → 3900; null when it is not an amount. */
export function parseMoney(text) {
  const match = /^\s*(\d{1,9})(?:[.,](\d{1,2}))?\s*$/.exec(text);
  if (!match) return null;
  return Number(match[1]) * 100 + Number((match[2] || '0').padEnd(2, '0'));
}

/** A duration in ms as "mm:ss" (or "h:mm:ss"). */
export function clock(ms) {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const mm = String(m).padStart(h ? 2 : 1, '0');
  return (h ? h + ':' : '') + mm + ':' + String(s).padStart(2, '0');
}

/** Shorthand for building elements without HTML strings (user text never becomes markup). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'class') node.className = value;
    else if (name === 'text') node.textContent = value;
    else if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else if (name === 'dataset') Object.assign(node.dataset, value);
    else node.setAttribute(name, value === true ? '' : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}
