// The viewer's room page (/r/{room_id}): join as a guest or log in, then the live room over the
// WebSocket — player, chat, likes, the pinned listing with live stock, buying and paying.

import { api, ApiError, clock, el, identity, money, saleClosed, serverNow } from './api.js';
import { known, languageSwitch, onLanguage, t } from './i18n.js';
import { LiveRoom } from './live.js';
import { Player } from './player.js';

const $ = (id) => document.getElementById(id);
const roomId = decodeURIComponent(location.pathname.split('/')[2] || '');

const state = {
  me: null,
  room: null,
  status: 'scheduled',
  viewers: 0,
  likes: 0,
  pinned: null,
  listings: new Map(),
  online: false,
  /** The latest order placed from this page and what to say about it. */
  order: null,
  /** A buy is waiting for its `order` frame. */
  buying: false,
  outcome: null,
  live: null,
  player: null,
};

function show(id, visible) {
  $(id).hidden = !visible;
}

function fail(where, error) {
  const p = $(where);
  p.textContent = error instanceof ApiError && error.code === 'not_found' ? t('room.not_found') : t('error.generic', { m: error.message });
  p.hidden = false;
}

async function main() {
  languageSwitch();
  onLanguage(render);
  try {
    state.room = await api('GET', `/v1/rooms/${encodeURIComponent(roomId)}`);
  } catch (error) {
    fail('page-error', error);
    return;
  }
  state.status = state.room.status;
  render();
  state.me = identity.load('viewer');
  if (state.me) enter();
  else show('join', true);
  $('guest-form').addEventListener('submit', (e) => signIn(e, 'guest'));
  $('login-form').addEventListener('submit', (e) => signIn(e, 'login'));
}

async function signIn(event, how) {
  event.preventDefault();
  $('join-error').hidden = true;
  try {
    const body =
      how === 'guest'
        ? { nickname: $('nickname').value.trim() }
        : { username: $('login-username').value.trim(), password: $('login-password').value };
    const answer = await api('POST', how === 'guest' ? '/v1/auth/guest' : '/v1/auth/login', { body });
    state.me = { token: answer.token, user_id: answer.user_id, name: body.nickname ?? body.username };
    identity.save('viewer', state.me);
    enter();
  } catch (error) {
    fail('join-error', error);
  }
}

function enter() {
  show('join', false);
  show('live', true);
  state.player = new Player($('video'), (playing) => {
    $('player-state').hidden = playing;
  });
  state.live = new LiveRoom(roomId, state.me.token, {
    welcome: onWelcome,
    chat: addChat,
    frame: onFrame,
    connection: (online) => {
      state.online = online;
      render();
    },
  });
  state.live.start();
  $('chat-form').addEventListener('submit', sendChat);
  $('like').addEventListener('click', () => state.live.send({ type: 'like', count: 1 }));
  $('buy').addEventListener('click', buy);
  $('pay').addEventListener('click', pay);
  $('open-orders').addEventListener('click', showOrders);
  $('open-coupons').addEventListener('click', showCoupons);
  setInterval(renderTimers, 500);
}

function onWelcome(frame) {
  const room = frame.room;
  state.room = { ...state.room, ...room };
  state.status = room.status;
  state.viewers = room.viewer_count;
  state.likes = room.like_count;
  state.pinned = room.pinned_listing_id;
  state.listings = new Map(frame.listings.map((l) => [l.id, l]));
  render();
}

function onFrame(frame) {
  switch (frame.type) {
    case 'likes':
      state.likes = frame.total;
      break;
    case 'viewers':
      state.viewers = frame.count;
      break;
    case 'pinned':
      state.pinned = frame.listing_id;
      break;
    case 'stock': {
      const listing = state.listings.get(frame.listing_id);
      if (listing) listing.stock_left = frame.stock_left;
      break;
    }
    case 'listing':
      state.listings.set(frame.listing.id, frame.listing);
      break;
    case 'live_status':
      state.status = frame.status;
      break;
    case 'chat_deleted':
      document.querySelector(`#messages [data-offset="${Number(frame.offset)}"]`)?.remove();
      return;
    case 'error':
      $('chat-error').textContent = known('outcome.' + frame.error) ?? frame.message;
      $('chat-error').hidden = false;
      return;
    default:
      return;
  }
  render();
}

function addChat(frame) {
  const item = el(
    'li',
    { dataset: { offset: String(frame.offset) } },
    el('span', { class: 'who', text: frame.nickname }),
    ' ',
    el('span', { class: 'text', text: frame.text }),
  );
  const list = $('messages');
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  list.append(item);
  // Keep the page light through a long live: the ring holds 200, so do we.
  while (list.children.length > 200) list.firstElementChild.remove();
  if (atBottom) list.scrollTop = list.scrollHeight;
}

function sendChat(event) {
  event.preventDefault();
  const input = $('chat-input');
  const text = input.value.trim();
  if (!text) return;
  $('chat-error').hidden = true;
  if (state.live.send({ type: 'chat', text })) input.value = '';
}

async function buy() {
  const listing = state.listings.get(state.pinned);
  if (!listing || state.buying) return;
  // One buy in flight per page: a double tap must not become two orders.
  state.buying = true;
  state.outcome = { key: 'buying' };
  render();
  const answer = await state.live.buy(listing.id, 1);
  state.buying = false;
  render();
  if (answer.error) {
    state.outcome = { key: 'outcome.' + answer.error.error, fallback: answer.error.message };
  } else {
    state.order = answer.order;
    state.outcome = { key: 'outcome.reserved' };
  }
  renderOutcome();
}

async function pay() {
  const order = state.order;
  if (!order) return;
  state.outcome = { key: 'outcome.paying' };
  renderOutcome();
  try {
    await api('POST', `/v1/orders/${order.id}/pay`, { token: state.me.token });
    // The provider confirms through the webhook, not in this answer: watch the order.
    for (let i = 0; i < 120; i++) {
      const now = await api('GET', `/v1/orders/${order.id}`, { token: state.me.token });
      state.order = now;
      if (now.status !== 'reserved') break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    state.outcome = { key: state.order.status === 'paid' ? 'outcome.paid' : 'outcome.' + state.order.status };
  } catch (error) {
    state.outcome = { key: 'outcome.' + error.code, fallback: error.message };
  }
  renderOutcome();
}

async function showOrders() {
  const orders = await api('GET', '/v1/orders', { token: state.me.token });
  const items = (Array.isArray(orders) ? orders : orders.items).map((o) =>
    el('li', {
      text: t('order.line', {
        title: state.listings.get(o.listing_id)?.title ?? o.listing_id.slice(0, 8),
        q: o.quantity,
        total: money(o.total_cents),
        status: t('order.status.' + o.status),
      }),
    }),
  );
  openDialog(t('mine.orders'), items, t('mine.none_orders'));
}

async function showCoupons() {
  const coupons = await api('GET', '/v1/coupons', { token: state.me.token });
  const items = (Array.isArray(coupons) ? coupons : coupons.items)
    .filter((c) => c.status !== 'revoked')
    .map((c) =>
      el('li', {
        text: t('coupon.line', {
          off: money(c.amount_off_cents),
          min: money(c.min_spend_cents),
          until: new Date(c.expires_at).toLocaleDateString(),
        }),
      }),
    );
  openDialog(t('mine.coupons'), items, t('mine.none_coupons'));
}

function openDialog(title, items, empty) {
  $('mine-title').textContent = title;
  $('mine-list').replaceChildren(...(items.length ? items : [el('li', { text: empty })]));
  $('mine').showModal();
}

function render() {
  if (!state.room) return;
  document.title = `${state.room.title} · livecart`;
  $('room-title').textContent = state.room.title;
  const badge = $('live-status');
  badge.textContent = t('status.' + state.status);
  badge.dataset.status = state.status;
  if (state.live) {
    $('connection').textContent = t(state.online ? 'conn.online' : 'conn.offline');
    $('connection').dataset.online = String(state.online);
  }
  $('viewers').textContent = t('stat.viewers', { n: state.viewers });
  $('likes').textContent = t('stat.likes', { n: state.likes });
  const listing = state.listings.get(state.pinned);
  show('pinned-none', !listing);
  show('pinned-listing', !!listing);
  if (listing) {
    $('pinned-listing').dataset.listingId = listing.id;
    $('pinned-name').textContent = listing.title;
    $('pinned-price').textContent = money(listing.price_cents);
    $('pinned-left').textContent = t('listing.left', { n: listing.stock_left });
    $('pinned-left').dataset.stockLeft = String(listing.stock_left);
    $('pinned-limit').textContent = t('listing.limit', { n: listing.per_user_limit });
  }
  if (state.player) {
    const hls = state.status === 'live' ? state.room.play?.hls : null;
    state.player.play(hls);
    if (state.status === 'ended') $('player-state').textContent = t('room.ended');
    else $('player-state').textContent = t('room.waiting');
  }
  renderTimers();
  renderOutcome();
}

/** What ticks: the countdown to the pinned sale's opening and the time left to pay. */
function renderTimers() {
  const listing = state.listings.get(state.pinned);
  const countdown = $('pinned-countdown');
  const now = serverNow();
  if (listing?.starts_at && Date.parse(listing.starts_at) > now) {
    countdown.textContent = t('listing.opens_in', { t: clock(Date.parse(listing.starts_at) - now) });
  } else if (saleClosed(listing, now)) {
    countdown.textContent = t('listing.closed');
  } else {
    countdown.textContent = '';
  }
  if (listing) renderBuy(listing);
  if (state.outcome?.key === 'outcome.reserved') renderOutcome();
}

/** The Buy button: off while a buy is on its way, when sold out or the live ended, and once the
 * sale has closed, by the server's clock; so it is redrawn with the timers too. */
function renderBuy(listing) {
  const closed = saleClosed(listing);
  $('buy').textContent = closed ? t('listing.closed') : listing.stock_left > 0 ? t('buy') : t('outcome.sold_out');
  $('buy').disabled = closed || listing.stock_left <= 0 || state.status === 'ended' || state.buying;
}

function renderOutcome() {
  const outcome = state.outcome;
  const line = $('outcome');
  if (!outcome) {
    line.textContent = '';
    return;
  }
  const left = state.order ? clock(Date.parse(state.order.expires_at) - serverNow()) : '';
  line.textContent = known(outcome.key, { t: left }) ?? t('outcome.other', { m: outcome.fallback ?? outcome.key });
  line.dataset.outcome = outcome.key.replace('outcome.', '');
  show('pay', outcome.key === 'outcome.reserved' && state.order?.status === 'reserved');
}

main();
