// Chinese and English. The language is the browser's unless the user chose one with the switch
// (remembered in localStorage). Static text is marked in the HTML with data-i18n (text),
// data-i18n-placeholder and data-i18n-label (aria-label); scripts call t() for what they render.

const STRINGS = {
  en: {
    'app.name': 'livecart',
    'lang.switch': '中文',
    'lang.switch.label': 'Switch to Chinese',
    'home.title': 'Live shopping, in your browser',
    'home.join': 'Join a room',
    'home.room': 'Room link or id',
    'home.go': 'Open the room',
    'home.console': 'Merchant console',
    'home.console.text': 'Stream, sell and watch your orders arrive.',
    'home.bad': 'That is not a room link.',
    'auth.nickname': 'Nickname',
    'auth.guest': 'Join as a guest',
    'auth.username': 'Username',
    'auth.password': 'Password',
    'auth.login': 'Log in',
    'auth.signup': 'Sign up',
    'auth.logout': 'Log out',
    'auth.or': 'or log in',
    'auth.signed_in': 'Signed in as {name}',
    'room.waiting': 'Waiting for the stream…',
    'room.ended': 'The live has ended.',
    'room.not_found': 'There is no such room.',
    'status.scheduled': 'Not live yet',
    'status.live': 'LIVE',
    'status.ended': 'Ended',
    'conn.online': 'Connected',
    'conn.offline': 'Reconnecting…',
    'stat.viewers': '{n} watching',
    'stat.likes': '{n} likes',
    'like': 'Like',
    'chat.title': 'Chat',
    'chat.input': 'Say something',
    'chat.send': 'Send',
    'chat.delete': 'Delete',
    'chat.mute': 'Mute',
    'pinned.title': 'Now selling',
    'pinned.none': 'Nothing is pinned yet.',
    'listing.price': 'Price',
    'listing.left': '{n} left',
    'listing.limit': 'Limit {n} per person',
    'listing.opens_in': 'Sale opens in {t}',
    'listing.closed': 'Sale closed',
    'buy': 'Buy',
    'buying': 'Placing your order…',
    'outcome.reserved': 'Reserved! Pay within {t}.',
    'outcome.paid': 'Paid. Thank you!',
    'outcome.paying': 'Paying…',
    'outcome.sold_out': 'Sold out.',
    'outcome.limit_exceeded': 'You have reached the limit for this item.',
    'outcome.sale_not_open': 'The sale is not open yet.',
    'outcome.sale_ended': 'The sale has ended.',
    'outcome.live_not_started': 'The live has not started yet.',
    'outcome.live_ended': 'The live has ended.',
    'outcome.rate_limited': 'Too fast: try again in a moment.',
    'outcome.muted': 'You are muted in this room.',
    'outcome.expired': 'The reservation expired.',
    'outcome.other': 'The order failed: {m}',
    'pay': 'Pay',
    'cancel': 'Cancel',
    'mine.orders': 'My orders',
    'mine.coupons': 'My coupons',
    'mine.none_orders': 'No orders yet.',
    'mine.none_coupons': 'No coupons yet.',
    'mine.close': 'Close',
    'coupon.line': '{off} off over {min}, until {until}',
    'order.status.reserved': 'reserved',
    'order.status.paid': 'paid',
    'order.status.cancelled': 'cancelled',
    'order.status.expired': 'expired',
    'order.status.refunded': 'refunded',
    'order.line': '{title} × {q} · {total} · {status}',
    'console.title': 'Merchant console',
    'console.rooms': 'My rooms',
    'console.new_room': 'New room',
    'console.room_title': 'Room title',
    'console.create': 'Create room',
    'console.open': 'Open',
    'console.share': 'Share link',
    'console.stream': 'OBS settings',
    'console.push_url': 'Push URL (server)',
    'console.stream_key': 'Stream key',
    'console.go_live': 'Go live',
    'console.end': 'End the live',
    'console.listings': 'Listings',
    'console.new_listing': 'Add a listing',
    'console.l.title': 'Title',
    'console.l.price': 'Price (e.g. 39.00)',
    'console.l.stock': 'Stock',
    'console.l.limit': 'Limit per person',
    'console.l.starts': 'Sale opens (optional)',
    'console.l.ends': 'Sale closes (optional)',
    'console.l.add': 'Add listing',
    'console.pin': 'Pin',
    'console.pinned': 'Pinned',
    'console.unpin': 'Unpin',
    'console.restock': 'Restock',
    'console.restock_n': 'Units to add',
    'console.orders': 'Orders',
    'console.no_orders': 'No orders yet.',
    'console.dashboard': 'Dashboard',
    'console.revenue': 'Revenue (paid)',
    'console.orders_n': 'Orders',
    'console.likes': 'Likes',
    'console.per_listing': 'Per listing',
    'console.funnel': 'Funnel',
    'console.funnel.viewers': 'Viewers (peak)',
    'console.funnel.pinned': 'Saw a pin',
    'console.funnel.ordered': 'Ordered',
    'console.funnel.paid': 'Paid',
    'console.col.listing': 'Listing',
    'console.col.left': 'Left',
    'console.col.orders': 'Orders',
    'console.col.units': 'Units',
    'console.col.revenue': 'Revenue',
    'console.coupon': 'Buyer coupons',
    'console.coupon.off': 'Amount off (e.g. 5.00)',
    'console.coupon.min': 'Minimum spend',
    'console.coupon.days': 'Valid for (days)',
    'console.coupon.start': 'Start campaign',
    'console.coupon.stop': 'Stop campaign',
    'console.coupon.none': 'No campaign runs.',
    'console.coupon.running': 'Running: {off} off over {min}, coupons valid {days} days',
    'console.muted': 'Muted {name}',
    'console.back': 'All rooms',
    'error.generic': 'Something went wrong: {m}',
  },
  zh: {
    'app.name': 'livecart',
    'lang.switch': 'English',
    'lang.switch.label': '切换到英文',
    'home.title': '在浏览器里逛直播',
    'home.join': '进入直播间',
    'home.room': '直播间链接或编号',
    'home.go': '打开直播间',
    'home.console': '商家后台',
    'home.console.text': '开播、卖货、实时看订单。',
    'home.bad': '这不是直播间链接。',
    'auth.nickname': '昵称',
    'auth.guest': '以游客身份进入',
    'auth.username': '用户名',
    'auth.password': '密码',
    'auth.login': '登录',
    'auth.signup': '注册',
    'auth.logout': '退出',
    'auth.or': '或登录',
    'auth.signed_in': '已登录：{name}',
    'room.waiting': '等待直播画面…',
    'room.ended': '直播已结束。',
    'room.not_found': '没有这个直播间。',
    'status.scheduled': '尚未开播',
    'status.live': '直播中',
    'status.ended': '已结束',
    'conn.online': '已连接',
    'conn.offline': '正在重新连接…',
    'stat.viewers': '{n} 人在看',
    'stat.likes': '{n} 个赞',
    'like': '点赞',
    'chat.title': '聊天',
    'chat.input': '说点什么',
    'chat.send': '发送',
    'chat.delete': '删除',
    'chat.mute': '禁言',
    'pinned.title': '正在抢购',
    'pinned.none': '还没有置顶商品。',
    'listing.price': '价格',
    'listing.left': '剩余 {n} 件',
    'listing.limit': '每人限购 {n} 件',
    'listing.opens_in': '距开抢 {t}',
    'listing.closed': '抢购已结束',
    'buy': '立即抢购',
    'buying': '正在下单…',
    'outcome.reserved': '抢到了！请在 {t} 内付款。',
    'outcome.paid': '已付款，谢谢！',
    'outcome.paying': '正在付款…',
    'outcome.sold_out': '已售罄。',
    'outcome.limit_exceeded': '已达到本商品的限购数量。',
    'outcome.sale_not_open': '还没开抢。',
    'outcome.sale_ended': '抢购已结束。',
    'outcome.live_not_started': '直播还没开始。',
    'outcome.live_ended': '直播已结束。',
    'outcome.rate_limited': '太快了，请稍后再试。',
    'outcome.muted': '你已被禁言。',
    'outcome.expired': '预留已过期。',
    'outcome.other': '下单失败：{m}',
    'pay': '付款',
    'cancel': '取消',
    'mine.orders': '我的订单',
    'mine.coupons': '我的优惠券',
    'mine.none_orders': '还没有订单。',
    'mine.none_coupons': '还没有优惠券。',
    'mine.close': '关闭',
    'coupon.line': '满 {min} 减 {off}，{until} 前有效',
    'order.status.reserved': '待付款',
    'order.status.paid': '已付款',
    'order.status.cancelled': '已取消',
    'order.status.expired': '已过期',
    'order.status.refunded': '已退款',
    'order.line': '{title} × {q} · {total} · {status}',
    'console.title': '商家后台',
    'console.rooms': '我的直播间',
    'console.new_room': '新建直播间',
    'console.room_title': '直播间标题',
    'console.create': '创建',
    'console.open': '打开',
    'console.share': '分享链接',
    'console.stream': 'OBS 推流设置',
    'console.push_url': '推流地址（服务器）',
    'console.stream_key': '推流码',
    'console.go_live': '开播',
    'console.end': '结束直播',
    'console.listings': '商品',
    'console.new_listing': '上架商品',
    'console.l.title': '标题',
    'console.l.price': '价格（如 39.00）',
    'console.l.stock': '库存',
    'console.l.limit': '每人限购',
    'console.l.starts': '开抢时间（可选）',
    'console.l.ends': '结束时间（可选）',
    'console.l.add': '上架',
    'console.pin': '置顶',
    'console.pinned': '已置顶',
    'console.unpin': '取消置顶',
    'console.restock': '补货',
    'console.restock_n': '补货数量',
    'console.orders': '订单',
    'console.no_orders': '还没有订单。',
    'console.dashboard': '数据看板',
    'console.revenue': '成交额（已付款）',
    'console.orders_n': '订单数',
    'console.likes': '点赞数',
    'console.per_listing': '按商品',
    'console.funnel': '转化漏斗',
    'console.funnel.viewers': '观看人数（峰值）',
    'console.funnel.pinned': '看到置顶',
    'console.funnel.ordered': '下单',
    'console.funnel.paid': '付款',
    'console.col.listing': '商品',
    'console.col.left': '剩余',
    'console.col.orders': '订单',
    'console.col.units': '件数',
    'console.col.revenue': '成交额',
    'console.coupon': '买家优惠券',
    'console.coupon.off': '减免金额（如 5.00）',
    'console.coupon.min': '最低消费',
    'console.coupon.days': '有效天数',
    'console.coupon.start': '开始发券',
    'console.coupon.stop': '停止发券',
    'console.coupon.none': '没有进行中的发券活动。',
    'console.coupon.running': '进行中：满 {min} 减 {off}，券有效 {days} 天',
    'console.muted': '已禁言 {name}',
    'console.back': '全部直播间',
    'error.generic': '出错了：{m}',
  },
};

const KEY = 'livecart.lang';
const listeners = [];

function initial() {
  const chosen = localStorage.getItem(KEY);
  if (chosen === 'zh' || chosen === 'en') return chosen;
  const wanted = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || 'en'];
  for (const tag of wanted) {
    const base = String(tag).toLowerCase().split('-')[0];
    if (base === 'zh' || base === 'en') return base;
  }
  return 'en';
}

let lang = initial();

export function language() {
  return lang;
}

/** The text for `key` in the current language, with {name} placeholders filled from `vars`. */
export function t(key, vars = {}) {
  const text = STRINGS[lang][key] ?? STRINGS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in vars ? String(vars[name]) : `{${name}}`));
}

/** The text for `key`, or null when no language has one (a server code this page does not name). */
export function known(key, vars = {}) {
  return key in STRINGS.en ? t(key, vars) : null;
}

/** Fills every marked element under `root` with the current language's text. */
export function translate(root = document) {
  document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-placeholder]')) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll('[data-i18n-label]')) el.setAttribute('aria-label', t(el.dataset.i18nLabel));
}

/** Runs `render` now and after every language change (scripts re-render what they built). */
export function onLanguage(render) {
  listeners.push(render);
}

export function setLanguage(next) {
  lang = next === 'zh' ? 'zh' : 'en';
  localStorage.setItem(KEY, lang);
  translate();
  for (const render of listeners) render();
}

/** Wires the page's language switch (a button with id "lang"). */
export function languageSwitch() {
  const button = document.getElementById('lang');
  if (button) button.addEventListener('click', () => setLanguage(lang === 'zh' ? 'en' : 'zh'));
  translate();
}
