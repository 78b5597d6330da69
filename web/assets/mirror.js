// The employee's own mirror: one calm indicator of how their voice sounds
// now (smoothed over the last seconds), updated with every reading (one a
// second), and today's summary.
'use strict';
document.addEventListener('DOMContentLoaded', () => {
  const { t, json, el, pct, num, timeOnly, dayOnly } = App;
  const main = document.querySelector('main.mirror');
  const employee = main.dataset.employee;
  const indicator = document.getElementById('indicator');
  const mood = document.getElementById('mood');
  const tick = document.getElementById('tick');
  const recent = document.getElementById('recent');
  const sel = document.getElementById('choose-employee');
  if (sel) sel.addEventListener('change', () => sel.form.submit());
  if (!employee) { mood.textContent = '—'; return; }
  const last = [];
  let received = 0;

  // Exponential smoothing: the indicator moves calmly, not second by second.
  let ar = 0, va = 0, speaking = 0;
  function stateOf() {
    if (va < -0.2 && ar > 0.1) return 'tense';
    if (va < -0.2) return 'low';
    if (va > 0.2) return 'warm';
    return 'calm';
  }
  function state() {
    if (speaking < 0.15 && Date.now() - lastFace > 1500) return 'quiet';
    if (va < -0.2 && ar > 0.1) return 'tense';
    if (va < -0.2) return 'low';
    if (va > 0.2) return 'warm';
    return 'calm';
  }
  // A face look: the smile strip and, through the server's fusion, the indicator.
  let lastFace = 0, smileEl = null;
  function showFace(f, fusedState) {
    lastFace = Date.now();
    received++;
    indicator.dataset.received = String(received);
    if (fusedState && fusedState.face) {
      if (!smileEl) {
        smileEl = el('p', { class: 'smile', id: 'smile' });
        tick.after(smileEl);
      }
      smileEl.textContent = `${t('smile')}: ${pct(fusedState.smile)}`;
    }
    if (fusedState) paint(fusedState.valence, fusedState.arousal, f.face || speaking >= 0.15);
  }
  function paint(v, a, present) {
    va = v; ar = a;
    const st = present ? state() : 'quiet';
    indicator.className = 'indicator ' + st;
    indicator.dataset.state = st;
    indicator.style.setProperty('--va', va.toFixed(3));
    indicator.style.setProperty('--ar', ar.toFixed(3));
    mood.textContent = t('mirror_' + st);
  }
  function show(r, fusedState) {
    received++;
    const sp = Math.min(1, r.speech || 0);
    speaking = 0.8 * speaking + 0.2 * sp;
    if (sp > 0.2 && r.emotion) {
      const k = 0.25 * sp;
      ar = (1 - k) * ar + k * r.arousal;
      va = (1 - k) * va + k * r.valence;
    }
    if (fusedState) { ar = fusedState.arousal; va = fusedState.valence; }
    const faceRecent = Date.now() - lastFace < 1500;
    const st = speaking < 0.15 && !faceRecent ? 'quiet' : (speaking < 0.15 ? stateOf() : state());
    indicator.className = 'indicator ' + st;
    indicator.dataset.state = st;
    indicator.dataset.received = String(received);
    // The hue follows valence, the size arousal: calm teal, warm green, tense amber-red.
    indicator.style.setProperty('--va', va.toFixed(3));
    indicator.style.setProperty('--ar', ar.toFixed(3));
    mood.textContent = t('mirror_' + st);
    tick.textContent = timeOnly.format(new Date(r.start));
    last.push(r);
    if (last.length > 60) last.shift();
    // The last minute, oldest left; empty slots until a minute has passed.
    const cells = last.map((x) => el('span', { class: 'cell e-' + (x.speech > 0.2 && x.emotion ? x.emotion : 'none'), title: timeOnly.format(new Date(x.start)) }));
    while (cells.length < 60) cells.unshift(el('span', { class: 'cell empty' }));
    recent.replaceChildren(...cells);
  }

  function connect() {
    const es = new EventSource(`/api/v1/mirror/${encodeURIComponent(employee)}/stream`);
    es.addEventListener('reading', (ev) => {
      const m = JSON.parse(ev.data);
      if (m.face) showFace(m.face, m.fused);
      else if (m.reading) show(m.reading, m.fused);
    });
    es.onerror = () => { tick.textContent = t('mirror_waiting'); };
  }
  connect();

  async function today() {
    let d;
    try { d = await json(`/api/v1/mirror/${encodeURIComponent(employee)}/today`); } catch (e) { return; }
    const f = d.today;
    const dl = document.getElementById('today');
    dl.replaceChildren(
      el('dt', { text: t('speech_min') }), el('dd', { text: num(f.speech_seconds / 60, 1) }),
      el('dt', { text: t('positive_share') }), el('dd', { class: 'pos', text: pct(f.positive_share) }),
      el('dt', { text: t('negative_share') }), el('dd', { class: 'neg', text: pct(f.negative_share) }),
      ...(f.face_seconds > 0 ? [el('dt', { text: t('smile_share') }), el('dd', { class: 'pos', text: pct(f.smile_share) })] : []));
    document.getElementById('week').replaceChildren(Charts.sparkline([
      { values: d.last_7d.map((x) => (x.speech_seconds >= 60 ? x.positive_share : null)), cls: 'pos' },
      { values: d.last_7d.map((x) => (x.speech_seconds >= 60 ? x.negative_share : null)), cls: 'neg' },
    ], { width: 220, height: 48, labels: d.last_7d.map((x) => dayOnly.format(new Date(x.day + 'T12:00:00'))) }));
  }
  today();
  setInterval(today, 15000);
});
