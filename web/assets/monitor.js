// The supervisor's monitor: a tile per employee (on shift first), today
// against their own baseline, 14 days, warnings; rating indices; desks.
'use strict';
document.addEventListener('DOMContentLoaded', () => {
  const { t, json, el, pct, num, dayOnly, timeOnly } = App;
  const tiles = document.getElementById('tiles');
  const updated = document.getElementById('updated');
  const warningText = { ContactdEmotionalExhaustionRisk: 'warning_exhaustion', ContactdAcuteStrain: 'warning_acute' };

  function compare(today, base, worseIfHigher) {
    if (today === undefined || base === undefined) return null;
    const d = today - base;
    const worse = worseIfHigher ? d > 0.05 : d < -0.05;
    const better = worseIfHigher ? d < -0.05 : d > 0.05;
    return el('span', { class: 'delta ' + (worse ? 'worse' : better ? 'better' : 'same'), text: `${t('baseline')} ${pct(base)}` });
  }

  function tile(e) {
    const warn = e.warnings.length > 0;
    const figs = e.today;
    const spark = Charts.sparkline([
      { values: e.last_14d.map((d) => (d.speech_seconds >= 60 ? d.negative_share : null)), cls: 'neg' },
      { values: e.last_14d.map((d) => (d.speech_seconds >= 60 ? d.positive_share : null)), cls: 'pos' },
    ], { labels: e.last_14d.map((d) => dayOnly.format(new Date(d.day + 'T12:00:00'))) });
    return el('article', { class: 'tile' + (warn ? ' warn' : '') + (e.on_shift ? '' : ' off'), 'data-employee': e.employee },
      el('header', {}, el('h2', { text: e.employee }),
        el('span', { class: 'where' }, e.on_shift ? `${e.station} · ` : t('off_shift'),
          e.on_shift ? el('span', { class: e.live ? 'dot live' : 'dot', text: e.live ? t('live') : t('offline') }) : null)),
      figs ? el('div', { class: 'figures' },
        el('div', { class: 'fig neg' }, el('span', { class: 'k', text: t('negative_share') }), el('strong', { text: pct(figs.negative_share) }), compare(figs.negative_share, e.baseline_14d?.negative_share, true)),
        el('div', { class: 'fig pos' }, el('span', { class: 'k', text: t('positive_share') }), el('strong', { text: pct(figs.positive_share) }), compare(figs.positive_share, e.baseline_14d?.positive_share, false)),
        el('div', { class: 'fig' }, el('span', { class: 'k', text: t('speech_min') }), el('strong', { text: num(figs.speech_seconds / 60, 1) })),
        figs.face_seconds > 0 ? el('div', { class: 'fig smile' }, el('span', { class: 'k', text: t('smile_share') }), el('strong', { text: pct(figs.smile_share) })) : null)
        : el('p', { class: 'muted', text: t('no_speech_today') }),
      el('div', { class: 'spark-row' }, el('span', { class: 'k', text: t('last_14d') }), spark),
      ...e.warnings.map((w) => el('p', { class: 'warning', role: 'alert', 'data-warning': w, text: '⚠ ' + t(warningText[w] || w) })),
      el('p', { class: 'ratings muted', text: `CSI ${fmtIdx(e.ratings_today.csi)} · DSI ${fmtIdx(e.ratings_today.dsi)} · ${t('contacts')} ${e.ratings_today.contacts}` }));
  }
  const fmtIdx = (v) => (v === null || v === undefined ? '—' : num(v, 0));

  function indexRow(name, a, b) {
    return el('tr', {}, el('th', { text: name }), el('td', { text: a.contacts }), el('td', { text: fmtIdx(a.csi) }), el('td', { text: fmtIdx(a.dsi) }),
      el('td', { text: b.contacts }), el('td', { text: fmtIdx(b.csi) }), el('td', { text: fmtIdx(b.dsi) }));
  }

  async function refresh() {
    let m;
    try { m = await json('/api/v1/monitor'); } catch (e) { updated.textContent = t('error') + ': ' + e.message; return; }
    const rows = [...m.employees].sort((a, b) => (b.warnings.length - a.warnings.length) || (b.on_shift - a.on_shift) || a.employee.localeCompare(b.employee));
    tiles.replaceChildren(...rows.map(tile));
    document.querySelector('#indices tbody').replaceChildren(
      ...m.stations.map((s) => indexRow(`${t('station')} ${s.id}`, s.ratings_today, s.ratings_30d)),
      ...m.employees.map((e) => indexRow(e.employee, e.ratings_today, e.ratings_30d)));
    document.getElementById('health').replaceChildren(...m.stations.map((s) => el('div', { class: 'desk' + (s.live ? ' live' : '') },
      el('strong', { text: s.id }), el('span', { text: s.employee || '—' }),
      el('span', { class: s.live ? 'dot live' : 'dot', text: s.live ? t('live') : t('offline') }),
      el('span', { class: 'muted', text: `${t('last_reading')}: ${s.last_reading_seconds_ago == null ? t('never') : num(s.last_reading_seconds_ago, 0) + ' ' + t('seconds_ago')}` }))),
      el('p', { class: 'muted', text: `${t('prometheus')}: ${m.prometheus}` }));
    updated.textContent = `${t('updated')} ${timeOnly.format(new Date(m.at))}`;
  }
  refresh();
  setInterval(refresh, 5000);
});
