// Shared by the pages: words, dates and numbers in the user's language,
// API calls with the session's CSRF token, the header's buttons.
'use strict';
const App = (() => {
  const body = document.body;
  const dict = JSON.parse(body.dataset.i18n || '{}');
  const lang = body.dataset.lang || 'ru';
  const locale = lang === 'ru' ? 'ru-RU' : 'en-GB';
  const t = (k) => dict[k] ?? k;
  const dateTime = new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short' });
  const timeOnly = new Intl.DateTimeFormat(locale, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  const dayOnly = new Intl.DateTimeFormat(locale, { day: 'numeric', month: 'short' });
  const num = (v, digits = 0) => new Intl.NumberFormat(locale, { maximumFractionDigits: digits, minimumFractionDigits: digits }).format(v);
  const pct = (v, digits = 0) => new Intl.NumberFormat(locale, { style: 'percent', maximumFractionDigits: digits }).format(v);

  async function api(method, url, body) {
    const opts = { method, headers: {}, credentials: 'same-origin' };
    if (method !== 'GET') opts.headers['X-CSRF-Token'] = document.body.dataset.csrf || '';
    if (body !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    const resp = await fetch(url, opts);
    if (resp.status === 401) {
      location.href = '/login?next=' + encodeURIComponent(location.pathname + location.search);
      throw new Error('log in first');
    }
    if (!resp.ok) throw new Error((await resp.text()).trim() || resp.statusText);
    return resp;
  }
  const json = async (url) => (await api('GET', url)).json();

  function el(tag, attrs = {}, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? '' : v);
    }
    for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c);
    return e;
  }

  function duration(sec) {
    sec = Math.round(sec);
    const m = Math.floor(sec / 60), s = sec % 60;
    return m > 0 ? `${m} ${t('min')} ${s} ${t('s')}` : `${s} ${t('s')}`;
  }

  document.addEventListener('DOMContentLoaded', () => {
    const out = document.getElementById('logout');
    if (out) out.addEventListener('click', async () => {
      try { await api('POST', '/api/v1/logout'); } catch (e) { /* the session is gone either way */ }
      location.href = '/login';
    });
    const sw = document.getElementById('lang-switch');
    if (sw) sw.addEventListener('click', async () => {
      await api('POST', '/api/v1/me/lang', { lang: sw.dataset.to });
      location.reload();
    });
  });
  return { t, lang, locale, api, json, el, num, pct, duration, dateTime, timeOnly, dayOnly };
})();
