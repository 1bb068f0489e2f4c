// The start page: open a room from its share link (or bare id), or go to the console.

import { languageSwitch, t } from './i18n.js';

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

languageSwitch();
document.getElementById('join-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const found = UUID.exec(document.getElementById('room-link').value);
  const error = document.getElementById('join-error');
  if (!found) {
    error.textContent = t('home.bad');
    error.hidden = false;
    return;
  }
  location.assign('/r/' + found[0].toLowerCase());
});
