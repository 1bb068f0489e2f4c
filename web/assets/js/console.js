// The merchant's console (/console): sign up or log in, the merchant's rooms, a new room; one
// room's live view is in console-room.js, opened at /console#room/{id}.

import { all, api, ApiError, el, identity } from './api.js';
import { languageSwitch, onLanguage, t } from './i18n.js';
import { RoomView } from './console-room.js';

const $ = (id) => document.getElementById(id);
let me = identity.load('merchant');
let view = null;
let rooms = [];

function fail(where, error) {
  $(where).textContent = t('error.generic', { m: error instanceof ApiError ? error.message : String(error) });
  $(where).hidden = false;
}

function section(name) {
  for (const id of ['auth', 'rooms', 'room']) $(id).hidden = id !== name;
}

async function route() {
  view?.close();
  view = null;
  $('page-error').hidden = true;
  if (!me) {
    section('auth');
    $('who').textContent = '';
    $('logout').hidden = true;
    return;
  }
  $('who').textContent = t('auth.signed_in', { name: me.name });
  $('logout').hidden = false;
  const match = /^#room\/([0-9a-f-]{36})$/i.exec(location.hash);
  if (match) {
    section('room');
    view = new RoomView(match[1], me);
    try {
      await view.open();
    } catch (error) {
      fail('page-error', error);
    }
    return;
  }
  section('rooms');
  try {
    rooms = await all('/v1/rooms?limit=200', me.token);
    renderRooms();
  } catch (error) {
    if (error.code === 'unauthorized') return signOut();
    fail('page-error', error);
  }
}

function renderRooms() {
  $('room-list').replaceChildren(
    ...rooms.map((room) =>
      el(
        'li',
        {},
        el('a', { href: `#room/${room.id}`, text: room.title }),
        ' ',
        el('span', { class: 'badge', dataset: { status: room.status }, text: t('status.' + room.status) }),
      ),
    ),
  );
}

async function authenticate(event) {
  event.preventDefault();
  $('auth-error').hidden = true;
  const signup = event.submitter?.value === 'signup';
  const username = $('username').value.trim();
  const body = { username, password: $('password').value };
  try {
    const answer = signup
      ? await api('POST', '/v1/auth/register', { body: { ...body, role: 'merchant' } })
      : await api('POST', '/v1/auth/login', { body });
    me = { token: answer.token, user_id: answer.user_id, name: username };
    identity.save('merchant', me);
    route();
  } catch (error) {
    fail('auth-error', error);
  }
}

async function createRoom(event) {
  event.preventDefault();
  try {
    const room = await api('POST', '/v1/rooms', { token: me.token, body: { title: $('room-title-input').value.trim() } });
    $('room-title-input').value = '';
    location.hash = `#room/${room.id}`;
  } catch (error) {
    fail('page-error', error);
  }
}

function signOut() {
  identity.clear('merchant');
  me = null;
  location.hash = '';
  route();
}

languageSwitch();
onLanguage(() => {
  if (me) $('who').textContent = t('auth.signed_in', { name: me.name });
  renderRooms();
  view?.render();
});
$('auth-form').addEventListener('submit', authenticate);
$('room-form').addEventListener('submit', createRoom);
$('logout').addEventListener('click', signOut);
$('back').addEventListener('click', (event) => {
  event.preventDefault();
  location.hash = '';
});
window.addEventListener('hashchange', route);
route();
