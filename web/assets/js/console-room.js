// One room in the merchant's console: going live and ending, the OBS settings, listings (add,
// edit and delete before their first order, close, pin, unpin, restock), orders and the dashboard as they arrive, chat moderation and the buyer
// coupon campaign. Live numbers come over the room's WebSocket; orders are read from
// GET /v1/rooms/{id}/orders whenever stock moves, and every few seconds for payments.

import { all, api, ApiError, el, money, parseMoney, saleClosed, serverNow } from './api.js';
import { funnel, perListing, totals } from './dashboard.js';
import { t } from './i18n.js';
import { LiveRoom } from './live.js';

const $ = (id) => document.getElementById(id);
const ORDERS_EVERY_MS = 3000;

export class RoomView {
  constructor(roomId, me) {
    this.roomId = roomId;
    this.me = me;
    this.room = null;
    this.listings = new Map();
    this.orders = [];
    this.campaign = null;
    this.viewers = 0;
    this.likes = 0;
    this.pinned = null;
    this.peakPinnedViewers = 0;
    this.online = false;
    this.live = null;
    this.timer = null;
    this.clock = null;
    // Which listings' sales had closed at the last render of the list.
    this.closedSeen = '';
    this.refreshing = null;
    // The listing the form edits, or null when it adds one.
    this.editing = null;
  }

  call(method, path, body) {
    return api(method, path, { token: this.me.token, body });
  }

  async open() {
    const base = `/v1/rooms/${this.roomId}`;
    this.room = await this.call('GET', base);
    for (const listing of await this.call('GET', `${base}/listings`)) this.listings.set(listing.id, listing);
    this.pinned = this.room.pinned_listing_id;
    this.viewers = this.room.viewer_count;
    this.likes = this.room.like_count;
    await Promise.all([this.readCampaign(), this.readOrders()]);
    this.wire();
    $('messages').replaceChildren();
    this.render();
    this.live = new LiveRoom(this.roomId, this.me.token, {
      welcome: (frame) => {
        this.room = { ...this.room, status: frame.room.status };
        this.pinned = frame.room.pinned_listing_id;
        this.viewers = frame.room.viewer_count;
        this.likes = frame.room.like_count;
        for (const listing of frame.listings) this.listings.set(listing.id, listing);
        this.render();
      },
      chat: (frame) => this.addChat(frame),
      frame: (frame) => this.onFrame(frame),
      connection: (online) => {
        this.online = online;
        this.renderHead();
      },
    });
    this.live.start();
    this.timer = setInterval(() => this.readOrders().then(() => this.renderNumbers()), ORDERS_EVERY_MS);
    // A sale window closes by the clock, with no frame: the list follows it.
    this.clock = setInterval(() => {
      if (this.closedNow() !== this.closedSeen) this.renderListings();
    }, 1000);
  }

  close() {
    this.live?.stop();
    clearInterval(this.timer);
    clearInterval(this.clock);
  }

  /** The room's forms and buttons act on this view (assigned, not added: views come and go). */
  wire() {
    const base = `/v1/rooms/${this.roomId}`;
    $('go-live').onclick = () => this.act(() => this.call('POST', `${base}/start`), (a) => (this.room.status = a.status));
    $('end-live').onclick = () => this.act(() => this.call('POST', `${base}/end`), (a) => (this.room.status = a.status));
    $('listing-form').onsubmit = (event) => this.saveListing(event);
    $('l-cancel').onclick = () => this.editListing(null);
    $('coupon-form').onsubmit = (event) => this.startCampaign(event);
    $('coupon-stop').onclick = () =>
      this.act(() => this.call('DELETE', `${base}/coupon-campaign`), () => (this.campaign = null));
    $('chat-form').onsubmit = (event) => {
      event.preventDefault();
      const text = $('chat-input').value.trim();
      if (text && this.live.send({ type: 'chat', text })) $('chat-input').value = '';
    };
  }

  /** Runs an API call, applies its answer and re-renders; a refusal shows in the room's head. */
  async act(call, apply) {
    $('room-error').hidden = true;
    try {
      const answer = await call();
      apply?.(answer);
      this.render();
      return answer;
    } catch (error) {
      $('room-error').textContent = t('error.generic', { m: error instanceof ApiError ? error.message : String(error) });
      $('room-error').hidden = false;
      return null;
    }
  }

  async readCampaign() {
    try {
      this.campaign = await this.call('GET', `/v1/rooms/${this.roomId}/coupon-campaign`);
    } catch (error) {
      if (error.code !== 'not_found') throw error;
      this.campaign = null;
    }
  }

  /** Reads the room's orders; concurrent asks share one read. */
  readOrders() {
    if (!this.refreshing) {
      this.refreshing = all(`/v1/rooms/${this.roomId}/orders?limit=200`, this.me.token)
        .then((orders) => (this.orders = orders))
        .catch(() => {})
        .finally(() => (this.refreshing = null));
    }
    return this.refreshing;
  }

  onFrame(frame) {
    switch (frame.type) {
      case 'viewers':
        this.viewers = frame.count;
        break;
      case 'likes':
        this.likes = frame.total;
        break;
      case 'pinned':
        this.pinned = frame.listing_id;
        break;
      case 'stock': {
        const listing = this.listings.get(frame.listing_id);
        if (listing) listing.stock_left = frame.stock_left;
        // Stock moved: an order was placed, cancelled or expired.
        this.readOrders().then(() => this.renderNumbers());
        break;
      }
      case 'listing':
        this.listings.set(frame.listing.id, frame.listing);
        break;
      case 'live_status':
        this.room.status = frame.status;
        break;
      case 'chat_deleted':
        document.querySelector(`#messages [data-offset="${Number(frame.offset)}"]`)?.remove();
        return;
      default:
        return;
    }
    this.render();
  }

  /** Adds a listing, or saves the one being edited (PATCH: only before its first order). */
  async saveListing(event) {
    event.preventDefault();
    const price = parseMoney($('l-price').value);
    if (price === null) {
      $('l-price').setCustomValidity(t('console.l.price'));
      $('l-price').reportValidity();
      $('l-price').setCustomValidity('');
      return;
    }
    const body = {
      title: $('l-title').value.trim(),
      price_cents: price,
      stock: Number($('l-stock').value),
      per_user_limit: Number($('l-limit').value),
    };
    const editing = this.editing;
    const when = (input) => (input.value ? new Date(input.value).toISOString() : editing ? null : undefined);
    for (const [field, input] of [['starts_at', $('l-starts')], ['ends_at', $('l-ends')]]) {
      const value = when(input);
      if (value !== undefined) body[field] = value;
    }
    const base = `/v1/rooms/${this.roomId}/listings`;
    const saved = await this.act(
      () => (editing ? this.call('PATCH', `${base}/${editing}`, body) : this.call('POST', base, body)),
      (listing) => this.listings.set(listing.id, listing),
    );
    if (saved) this.editListing(null);
  }

  /** Fills the listing form with a listing to edit, or empties it to add a new one. */
  editListing(listing) {
    this.editing = listing?.id ?? null;
    $('listing-form').reset();
    // data-i18n too, so a change of language keeps the form's mode.
    for (const [id, key] of [
      ['new-listing-title', listing ? 'console.edit_listing' : 'console.new_listing'],
      ['l-submit', listing ? 'console.l.save' : 'console.l.add'],
    ]) {
      $(id).dataset.i18n = key;
      $(id).textContent = t(key);
    }
    $('l-cancel').hidden = !listing;
    if (!listing) return;
    $('l-title').value = listing.title;
    $('l-price').value = (listing.price_cents / 100).toFixed(2);
    $('l-stock').value = String(listing.stock);
    $('l-limit').value = String(listing.per_user_limit);
    $('l-starts').value = localInput(listing.starts_at);
    $('l-ends').value = localInput(listing.ends_at);
    $('l-title').focus();
  }

  async startCampaign(event) {
    event.preventDefault();
    const off = parseMoney($('c-off').value);
    const min = parseMoney($('c-min').value);
    if (off === null || min === null) return;
    const body = { amount_off_cents: off, min_spend_cents: min, valid_for_s: Number($('c-days').value) * 86400 };
    await this.act(
      () => this.call('POST', `/v1/rooms/${this.roomId}/coupon-campaign`, body),
      (campaign) => (this.campaign = campaign),
    );
  }

  addChat(frame) {
    const base = `/v1/rooms/${this.roomId}`;
    const item = el(
      'li',
      { dataset: { offset: String(frame.offset) } },
      el('span', { class: 'who', text: frame.nickname }),
      ' ',
      el('span', { class: 'text', text: frame.text }),
      ' ',
      el('button', {
        type: 'button',
        class: 'small',
        text: t('chat.delete'),
        'aria-label': `${t('chat.delete')}: ${frame.text}`,
        onclick: () => this.act(() => this.call('DELETE', `${base}/chat/${frame.offset}`)),
      }),
      frame.user_id === this.me.user_id
        ? null
        : el('button', {
            type: 'button',
            class: 'small',
            text: t('chat.mute'),
            'aria-label': `${t('chat.mute')}: ${frame.nickname}`,
            onclick: () =>
              this.act(
                () => this.call('POST', `${base}/mutes`, { user_id: frame.user_id }),
                () => ($('chat-note').textContent = t('console.muted', { name: frame.nickname })),
              ),
          }),
    );
    const list = $('messages');
    list.append(item);
    while (list.children.length > 200) list.firstElementChild.remove();
    list.scrollTop = list.scrollHeight;
  }

  render() {
    if (!this.room) return;
    this.renderHead();
    this.renderListings();
    this.renderNumbers();
    this.renderCampaign();
  }

  renderHead() {
    $('room-name').textContent = this.room.title;
    $('room-status').textContent = t('status.' + this.room.status);
    $('room-status').dataset.status = this.room.status;
    $('connection').textContent = this.live ? t(this.online ? 'conn.online' : 'conn.offline') : '';
    $('go-live').hidden = this.room.status !== 'scheduled';
    $('end-live').hidden = this.room.status !== 'live';
    $('share-link').value = `${location.origin}/r/${this.roomId}`;
    $('push-url').value = this.room.stream?.push_url ?? '';
    $('stream-key').value = this.room.stream?.stream_key ?? '';
  }

  /** The ids of the listings whose sale has closed, by the server's clock. */
  closedNow() {
    const now = serverNow();
    return [...this.listings.values()]
      .filter((listing) => saleClosed(listing, now))
      .map((listing) => listing.id)
      .join();
  }

  renderListings() {
    const base = `/v1/rooms/${this.roomId}`;
    this.closedSeen = this.closedNow();
    // Listings with an order: edit and delete are refused for them.
    const ordered = new Set(this.orders.map((order) => order.listing_id));
    const items = [...this.listings.values()].map((listing) => {
      const pinned = listing.id === this.pinned;
      const hasOrders = ordered.has(listing.id);
      const ended = saleClosed(listing);
      const action = (key, onclick, extra = '') =>
        el('button', { type: 'button', class: `small ${extra}`.trim(), text: t(key), 'aria-label': `${t(key)}: ${listing.title}`, onclick });
      const amount = el('input', { type: 'number', min: '1', max: '100000000', value: '10', 'aria-label': t('console.restock_n'), class: 'amount' });
      return el(
        'li',
        { dataset: { listingId: listing.id }, class: pinned ? 'pinned' : '' },
        el('strong', { text: listing.title }),
        ` ${money(listing.price_cents)} · `,
        el('span', { class: 'left', text: t('listing.left', { n: listing.stock_left }) }),
        ` / ${listing.stock} · ${t('listing.limit', { n: listing.per_user_limit })} `,
        ended ? el('span', { class: 'badge', text: t('listing.closed') }) : '',
        pinned
          ? el('button', { type: 'button', class: 'small', text: t('console.unpin'), onclick: () => this.act(() => this.call('DELETE', `${base}/pin`), () => (this.pinned = null)) })
          : el('button', {
              type: 'button',
              class: 'small pin',
              text: t('console.pin'),
              'aria-label': `${t('console.pin')}: ${listing.title}`,
              onclick: () => this.act(() => this.call('POST', `${base}/listings/${listing.id}/pin`), (a) => (this.pinned = a.pinned_listing_id)),
            }),
        amount,
        el('button', {
          type: 'button',
          class: 'small',
          text: t('console.restock'),
          'aria-label': `${t('console.restock')}: ${listing.title}`,
          onclick: () =>
            this.act(
              () => this.call('POST', `${base}/listings/${listing.id}/stock`, { add: Number(amount.value) }),
              (updated) => this.listings.set(updated.id, updated),
            ),
        }),
        // Edit and delete only before the first order (the server refuses them after, with
        // listing_has_orders); closing ends the sale at once and keeps its orders.
        hasOrders ? '' : action('console.edit', () => this.editListing(listing), 'edit'),
        ended
          ? ''
          : action('console.close', () =>
              this.act(
                () => this.call('POST', `${base}/listings/${listing.id}/close`),
                (updated) => this.listings.set(updated.id, updated),
              ),
            'close'),
        hasOrders
          ? ''
          : action('console.delete', () => {
              if (!confirm(t('console.delete_confirm', { title: listing.title }))) return;
              this.act(
                () => this.call('DELETE', `${base}/listings/${listing.id}`),
                () => {
                  this.listings.delete(listing.id);
                  if (this.pinned === listing.id) this.pinned = null;
                  if (this.editing === listing.id) this.editListing(null);
                },
              );
            }, 'delete'),
      );
    });
    $('listing-list').replaceChildren(...items);
  }

  renderNumbers() {
    if (this.pinned) this.peakPinnedViewers = Math.max(this.peakPinnedViewers, this.viewers);
    const sum = totals(this.orders);
    $('kpi-viewers').textContent = String(this.viewers);
    $('kpi-likes').textContent = String(this.likes);
    $('kpi-orders').textContent = String(sum.orders);
    $('kpi-revenue').textContent = money(sum.revenue);
    $('per-listing').replaceChildren(
      ...perListing([...this.listings.values()], this.orders).map((row) =>
        el(
          'tr',
          { dataset: { listingId: row.listing.id } },
          el('th', { scope: 'row', text: row.listing.title }),
          el('td', { text: row.listing.stock_left ?? '' }),
          el('td', { text: row.orders }),
          el('td', { text: row.units }),
          el('td', { class: 'revenue', text: money(row.revenue) }),
        ),
      ),
    );
    $('funnel').replaceChildren(
      ...funnel(this.peakPinnedViewers, this.orders).map((step) =>
        el('li', { text: `${t(step.key)}: ${step.n}${step.share === null ? '' : ` (${step.share}%)`}` }),
      ),
    );
    if (!this.orders.length) {
      $('order-list').replaceChildren(el('li', { class: 'muted', text: t('console.no_orders') }));
      return;
    }
    $('order-list').replaceChildren(
      ...this.orders.slice(0, 50).map((order) =>
        el('li', {
          dataset: { orderId: order.id, status: order.status },
          text: `${new Date(order.created_at).toLocaleTimeString()} · ${t('order.line', {
            title: this.listings.get(order.listing_id)?.title ?? order.listing_id.slice(0, 8),
            q: order.quantity,
            total: money(order.total_cents),
            status: t('order.status.' + order.status),
          })}`,
        }),
      ),
    );
  }

  renderCampaign() {
    const c = this.campaign;
    $('coupon-state').textContent = c
      ? t('console.coupon.running', { off: money(c.amount_off_cents), min: money(c.min_spend_cents), days: Math.round(c.valid_for_s / 86400) })
      : t('console.coupon.none');
    $('coupon-stop').hidden = !c;
  }
}

/** An RFC 3339 time as a datetime-local input's value (local time, minutes), or ''. */
function localInput(time) {
  if (!time) return '';
  const date = new Date(time);
  const pad = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}
