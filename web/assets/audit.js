'use strict';
document.addEventListener('DOMContentLoaded', async () => {
  const { t, json, el, dateTime } = App;
  const d = await json('/api/v1/audit');
  const chain = document.getElementById('chain');
  chain.textContent = d.chain === 'intact' ? '✓' : d.chain;
  chain.className = d.chain === 'intact' ? 'ok' : 'error';
  document.querySelector('#audit tbody').replaceChildren(...d.entries.map((e) => el('tr', {},
    el('td', { text: dateTime.format(new Date(e.at)) }), el('td', { text: `${e.user} (${e.role})` }),
    el('td', { text: t('action_' + e.action) }), el('td', { text: e.contact }),
    el('td', { text: e.remote || '' }))));
});
