// The room WebSocket (docs/protocol.md), as a client should hold it: same-origin URL, the token
// in the query (browsers cannot set headers on an upgrade), reconnecting by itself with
// backoff, resuming the chat from its (epoch, offset) so nothing is missed or shown twice, and
// buys whose request id survives a reconnect (the same id is sent again and answers once).

const BACKOFF_MS = [250, 500, 1000, 2000, 4000, 8000];
/** Silence this long and a ping is sent; twice as long and the socket is taken for dead. */
const QUIET_MS = 10000;

export class LiveRoom {
  /**
   * `handlers`: `welcome(frame)` (each connection's first frame; `frame.recovered` says whether
   * the missed chat follows), `chat(frame)` (each message once), `frame(frame)` (every other
   * server frame), `connection(online)`.
   */
  constructor(roomId, token, handlers) {
    this.roomId = roomId;
    this.token = token;
    this.handlers = handlers;
    this.socket = null;
    this.epoch = null;
    // The newest chat offset shown; a frame at or below it in the same epoch is a repeat.
    this.offset = null;
    this.attempt = 0;
    this.stopped = false;
    this.online = false;
    this.lastHeard = 0;
    /** request_id → {frame, resolve}: buys not answered yet, sent again after a reconnect. */
    this.pending = new Map();
    this.watchdog = null;
  }

  url() {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const query = new URLSearchParams({ token: this.token });
    if (this.epoch !== null && this.offset !== null) {
      query.set('epoch', String(this.epoch));
      query.set('offset', String(this.offset));
    }
    return `${scheme}//${location.host}/v1/rooms/${encodeURIComponent(this.roomId)}/ws?${query}`;
  }

  start() {
    this.stopped = false;
    this.connect();
    this.watchdog = setInterval(() => this.checkAlive(), QUIET_MS / 2);
    // A phone waking up or a network coming back: try at once rather than wait out the backoff.
    window.addEventListener('online', () => this.reconnectNow());
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible') this.reconnectNow();
    });
  }

  stop() {
    this.stopped = true;
    clearInterval(this.watchdog);
    clearTimeout(this.retry);
    if (this.socket) this.socket.close(1000);
  }

  connect() {
    clearTimeout(this.retry);
    const socket = new WebSocket(this.url());
    this.socket = socket;
    socket.addEventListener('message', (event) => {
      if (socket !== this.socket) return;
      this.lastHeard = Date.now();
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      this.receive(frame);
    });
    socket.addEventListener('close', () => {
      if (socket !== this.socket) return;
      this.socket = null;
      this.setOnline(false);
      if (!this.stopped) this.scheduleReconnect();
    });
  }

  scheduleReconnect() {
    const base = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
    this.attempt += 1;
    // Jitter, so a room's viewers do not all come back in the same millisecond after a restart.
    this.retry = setTimeout(() => this.connect(), base / 2 + Math.random() * base);
  }

  reconnectNow() {
    if (this.stopped || this.socket) return;
    this.attempt = 0;
    this.connect();
  }

  checkAlive() {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return;
    const quiet = Date.now() - this.lastHeard;
    if (quiet > 2 * QUIET_MS) this.socket.close();
    else if (quiet > QUIET_MS) this.send({ type: 'ping' });
  }

  setOnline(online) {
    if (this.online === online) return;
    this.online = online;
    this.handlers.connection?.(online);
  }

  receive(frame) {
    switch (frame.type) {
      case 'welcome':
        this.attempt = 0;
        if (frame.epoch !== this.epoch) this.offset = null;
        this.epoch = frame.epoch;
        // Not recovered: what was missed is gone; go on from the newest message. Recovered:
        // the missed messages follow, each above our offset.
        if (!frame.recovered || this.offset === null) this.offset = frame.offset;
        this.setOnline(true);
        this.handlers.welcome?.(frame);
        for (const { frame: buy } of this.pending.values()) this.send(buy);
        return;
      case 'chat':
        if (this.offset !== null && frame.offset <= this.offset) return;
        this.offset = frame.offset;
        this.handlers.chat?.(frame);
        return;
      case 'order': {
        const waiting = this.pending.get(frame.request_id);
        if (waiting) {
          this.pending.delete(frame.request_id);
          waiting.resolve(frame);
        }
        this.handlers.frame?.(frame);
        return;
      }
      default:
        this.handlers.frame?.(frame);
    }
  }

  /** Sends a frame if connected; false when it could not be sent now. */
  send(frame) {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return false;
    this.socket.send(JSON.stringify(frame));
    return true;
  }

  /** Places an order; resolves with the `order` frame (an order, or an error object). */
  buy(listingId, quantity = 1) {
    const requestId = uuid();
    const frame = { type: 'buy', request_id: requestId, listing_id: listingId, quantity };
    return new Promise((resolve) => {
      this.pending.set(requestId, { frame, resolve });
      this.send(frame);
    });
  }
}

/**
 * A random UUID. `crypto.randomUUID` exists only in secure contexts (https, localhost), and a
 * phone on the shop's LAN address over plain http is not one; getRandomValues works everywhere.
 */
export function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
