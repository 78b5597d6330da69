// The quality officer's review: negatives first, filters, a clip with its
// emotion timeline and rating, causes, labels, reviewed; Pareto; export.
'use strict';
document.addEventListener('DOMContentLoaded', () => {
  const { t, api, json, el, dateTime, timeOnly, duration, pct, num } = App;
  const num1 = { format: (v) => num(v, 1) };
  const main = document.querySelector('main.review');
  const canPlay = main.dataset.canPlay === 'true';
  const causes = JSON.parse(main.dataset.causes || '[]');
  const causeName = (id) => (causes.find((c) => c.id === id || c.ID === id) || {}).Name || id;
  const filters = document.getElementById('filters');
  const tbody = document.querySelector('#contacts tbody');
  const count = document.getElementById('count');
  const detail = document.getElementById('detail');
  const exportBtn = document.getElementById('export');
  const selected = new Set();
  let current = null;

  // Filters live in the URL, so a view can be bookmarked and shared.
  const params = new URLSearchParams(location.search);
  for (const [k, v] of params) if (filters.elements[k]) filters.elements[k].value = v;

  function query() {
    const q = new URLSearchParams();
    for (const e of filters.elements) if (e.name && e.value) q.set(e.name, e.value);
    return q;
  }

  const faces = ['😠', '🙁', '😐', '🙂', '😀'];
  function ratingBadge(c) {
    const cls = 'badge set-' + c.set;
    if (!c.rating) return el('span', { class: cls, text: t('set_unrated') });
    const r = c.rating;
    return el('span', { class: cls, title: t('set_' + c.set) }, `${r.value} · ${t('set_' + c.set)}`);
  }

  // The likely-negative score (0–100) with its top reasons as the tooltip.
  function likelyBadge(c) {
    const l = c.likely_negative;
    if (!l) return el('span', { class: 'muted', text: '—' });
    // The top reason beside the score, all of them in the tooltip; a sign
    // that took points off (a pleased patient) is marked with a minus.
    const why = (l.reasons || []).map((r) => (r.points < 0 ? '− ' : '') + t('reason_' + r.code));
    return el('span', { class: 'likely' + (l.score >= 0.5 ? ' high' : ''), title: why.join(', '), text: String(Math.round(l.score * 100)) },
      why.length ? el('span', { class: 'why', text: ' · ' + why[0] }) : null);
  }

  async function load() {
    const q = query();
    history.replaceState(null, '', '?' + q.toString());
    count.textContent = t('loading');
    let data;
    try { data = await json('/api/v1/contacts?' + q.toString()); } catch (e) { count.textContent = t('error') + ': ' + e.message; return; }
    fillSelect(filters.elements.station, data.stations);
    fillSelect(filters.elements.employee, data.employees);
    count.textContent = `${t('contacts_found')}: ${data.total}`;
    tbody.replaceChildren(...data.contacts.map(row));
    loadPareto(q);
  }

  function fillSelect(sel, values) {
    const keep = sel.value;
    const have = new Set([...sel.options].map((o) => o.value));
    for (const v of values) if (!have.has(v)) sel.append(el('option', { value: v, text: v }));
    sel.value = keep;
  }

  function row(c) {
    const rv = c.review;
    const tr = el('tr', { 'data-id': c.id, 'data-set': c.set, class: (rv && rv.reviewed ? 'done ' : '') + (current === c.id ? 'current' : ''), tabindex: 0 },
      canPlay ? el('td', {}, el('input', { type: 'checkbox', 'aria-label': c.id, checked: selected.has(c.id), onclick: (ev) => {
        ev.stopPropagation();
        if (ev.target.checked) selected.add(c.id); else selected.delete(c.id);
        exportBtn.disabled = selected.size === 0;
      } })) : null,
      el('td', { text: dateTime.format(new Date(c.arrive)) }),
      el('td', { text: c.station }),
      el('td', { text: c.employee || '—' }),
      el('td', { text: duration((Date.parse(c.leave) - Date.parse(c.arrive)) / 1000) }),
      el('td', {}, ratingBadge(c), ...(c.flags || []).map((f) => el('span', { class: 'flag', text: t('flag_' + f) }))),
      el('td', {}, likelyBadge(c)),
      el('td', {}, rv && rv.reviewed ? el('span', { class: 'tick', title: t('reviewed_yes'), text: '✓' }) : null,
        ...(rv ? rv.causes : []).map((x) => el('span', { class: 'chip small', text: causeName(x) }))));
    tr.addEventListener('click', () => open(c.id));
    tr.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') open(c.id); });
    return tr;
  }

  async function open(id) {
    current = id;
    for (const tr of tbody.children) tr.classList.toggle('current', tr.dataset.id === id);
    detail.replaceChildren(el('p', { class: 'muted', text: t('loading') }));
    let d;
    try { d = await json('/api/v1/contacts/' + encodeURIComponent(id)); } catch (e) { detail.replaceChildren(el('p', { class: 'error', text: e.message })); return; }
    const c = d.contact, rv = d.review || { causes: [], note: '', labels: {}, reviewed: false };
    const view = document.getElementById('detail-template').content.cloneNode(true);
    view.querySelector('.detail-title').textContent = `${c.station} · ${c.employee || '—'} · ${dateTime.format(new Date(c.arrive))}`;
    const facts = [duration((Date.parse(c.leave) - Date.parse(c.arrive)) / 1000), t('set_' + c.set)];
    if (c.rating) facts.push(`${t('rating')}: ${c.rating.value} (${c.rating.scale})`);
    if (c.voice && c.voice.patient) facts.push(`${t('patient')}: ${t('negative_share')} ${pct(c.voice.patient.negative_share)}`);
    if (c.voice && c.voice.employee) facts.push(`${t('staff')}: ${t('negative_share')} ${pct(c.voice.employee.negative_share)}`);
    if (c.face && c.face.seen) facts.push(`${t('smile_share')}: ${pct(c.face.smile_share)}`);
    view.querySelector('.facts').textContent = facts.join(' · ');
    const player = view.querySelector('.player');
    let video = null;
    if (!c.clip) player.append(el('p', { class: 'muted', text: t('no_clip') }));
    else if (!canPlay) player.append(el('p', { class: 'muted', text: t('no_play') }));
    else {
      // Audio-only clips get an audio player, not an empty black frame.
      const codecs = (d.contact.media && d.contact.media.codecs) || [];
      const hasVideo = codecs.length === 0 || codecs.some((x) => /vp8|vp9|h264|av1|video/i.test(x));
      video = el(hasVideo ? 'video' : 'audio', { controls: true, preload: 'metadata', src: `/api/v1/contacts/${encodeURIComponent(c.id)}/clip`, class: 'clip' });
      player.append(video, el('a', { href: `/api/v1/contacts/${encodeURIComponent(c.id)}/clip?download=1`, class: 'download', text: '⬇ ' + c.clip.split('/').pop() }));
    }
    const conv = c.conversation;
    if (conv || c.appointment) {
      const sec = view.querySelector('.conversation');
      sec.hidden = false;
      const dl = sec.querySelector('.conversation-facts');
      const s = (x) => `${num1.format(x)} ${t('seconds_short')}`;
      const rows = [];
      if (c.appointment) rows.push([t('appointment'), `${c.appointment.id} · ${timeOnly.format(new Date(c.appointment.start))}–${timeOnly.format(new Date(c.appointment.end))}`]);
      if (conv) {
        rows.push([t('doctor_share'), pct(conv.doctor_share)], [t('turns'), String(conv.turns)],
          [t('interruptions'), `${conv.doctor_interruptions} / ${conv.patient_interruptions}`], [t('overlaps'), String(conv.overlaps)],
          [t('longest_monologue'), s(conv.longest_monologue)], [t('longest_silence'), s(conv.longest_silence)],
          [t('speech_rate'), `${num1.format(conv.doctor_rate)} / ${num1.format(conv.patient_rate)}`],
          [t('first_say'), conv.patient_first_say < 0 ? '—' : s(conv.patient_first_say)], [t('opening'), s(conv.patient_opening)],
          [t('trend'), t('trend_' + conv.patient_trend)]);
        // One microphone tells the voices apart less surely: say so where the counts are read.
        if (conv.microphones === 2) {
          const sep = conv.mic_separation_db || 0;
          // Under 12 dB apart (a desk microphone, not a lapel) the counts are estimates too.
          rows.push([t('microphones'), t('mics_two') + (sep > 0 ? ` · ${t(sep < 12 ? 'mics_close' : 'mics_apart')} ${num1.format(sep)} dB` : '')]);
        } else if (conv.microphones) rows.push([t('microphones'), t('mics_one')]);
      }
      for (const [k, v] of rows) dl.append(el('dt', { text: k }), el('dd', { text: v }));
    }
    const start = Date.parse(c.clip_start || c.arrive), end = Date.parse(c.clip_end || c.leave);
    const lanes = [];
    const lane = (name, side) => side && lanes.push({ name, seconds: side.timeline.map((x) => ({ ...x, label: `${timeOnly.format(new Date(x.at))} ${t('emotion_' + x.emotion)} (${Math.round(x.confidence * 100)}%)` })) });
    if (conv && conv.timeline.length) {
      // Who spoke when, second by second, coloured by the emotion heard.
      for (const [who, name] of [['employee', t('doctor')], ['patient', t('patient')]]) {
        const cells = [];
        for (const x of conv.timeline.filter((y) => y.who === who)) {
          for (let at = Date.parse(x.start); at < Date.parse(x.end); at += 1000) {
            cells.push({ at: new Date(at).toISOString(), speech: Math.min(1, (Date.parse(x.end) - at) / 1000), emotion: x.emotion || 'neutral',
              label: `${timeOnly.format(new Date(at))} ${name}${x.emotion ? ' · ' + t('emotion_' + x.emotion) : ''}${x.overlap ? ' · ' + t('overlaps') : ''}` });
          }
        }
        lanes.push({ name, seconds: cells });
      }
    } else if (c.voice) { lane(t('staff'), c.voice.employee); lane(t('patient'), c.voice.patient); lane(t('unattributed'), c.voice.unattributed); }
    if (c.face && c.face.timeline.length) {
      lanes.push({ name: t('face_lane'), seconds: c.face.timeline.filter((x) => x.face).map((x) => ({ at: x.at, speech: 1, emotion: x.expression,
        label: `${timeOnly.format(new Date(x.at))} ${t('emotion_' + x.expression)} · ${t('smile_share')} ${Math.round(x.happy * 100)}%` })) });
    }
    const markers = [{ at: Date.parse(c.arrive), label: t('arrive'), cls: 'arrive' }, { at: Date.parse(c.leave), label: t('leave'), cls: 'leave' }];
    if (c.rating) markers.push({ at: Date.parse(c.rating.at), label: `${t('press')} ${c.rating.value}`, cls: 'press set-' + c.set });
    view.querySelector('.timeline').append(lanes.length ? Charts.timeline({ start, end: Math.max(end, c.rating ? Date.parse(c.rating.at) + 2000 : end), lanes, markers,
      onSeek: video ? (sec) => { video.currentTime = sec; video.play(); } : null }) : el('p', { class: 'muted', text: '—' }));
    const form = view.querySelector('.review-form');
    for (const box of form.querySelectorAll('input[name=cause]')) box.checked = rv.causes.includes(box.value);
    form.elements.note.value = rv.note || '';
    form.elements.label_employee.value = (rv.labels || {}).employee || '';
    form.elements.label_patient.value = (rv.labels || {}).patient || '';
    if (!canPlay) for (const e of form.elements) e.disabled = true;
    const saved = form.querySelector('.saved');
    const save = async (reviewed) => {
      const labels = {};
      if (form.elements.label_employee.value) labels.employee = form.elements.label_employee.value;
      if (form.elements.label_patient.value) labels.patient = form.elements.label_patient.value;
      const body = { reviewed, causes: [...form.querySelectorAll('input[name=cause]:checked')].map((b) => b.value), note: form.elements.note.value, labels };
      try {
        await api('PUT', `/api/v1/contacts/${encodeURIComponent(c.id)}/review`, body);
        rv.reviewed = reviewed;
        saved.textContent = t('saved');
        load();
      } catch (e) { saved.textContent = t('error') + ': ' + e.message; }
    };
    form.addEventListener('submit', (ev) => { ev.preventDefault(); save(rv.reviewed); });
    form.querySelector('.mark-reviewed').addEventListener('click', () => save(true));
    detail.replaceChildren(view);
  }

  async function loadPareto(q) {
    const box = document.getElementById('pareto');
    const p = new URLSearchParams(q);
    p.delete('cause'); p.delete('reviewed');
    let data;
    try { data = await json('/api/v1/review/pareto?' + p.toString()); } catch (e) { box.replaceChildren(el('p', { class: 'error', text: e.message })); return; }
    if (!data.causes.length) { box.replaceChildren(el('p', { class: 'muted', text: t('pareto_empty') })); return; }
    const weeks = el('table', { class: 'weeks' }, el('thead', {}, el('tr', {}, el('th', { text: t('week') }), ...data.causes.map((b) => el('th', { text: causeName(b.cause) })))),
      el('tbody', {}, ...data.weeks.map((w) => el('tr', {}, el('td', { text: w.week }), ...data.causes.map((b) => el('td', { text: w.counts[b.cause] || '' }))))));
    box.replaceChildren(Charts.pareto(data.causes, { name: causeName, cumulativeLabel: t('cumulative') }), el('h3', { text: t('by_week') }), weeks);
  }

  if (exportBtn) exportBtn.addEventListener('click', async () => {
    const label = exportBtn.textContent;
    exportBtn.disabled = true;
    exportBtn.textContent = t('exporting');
    try {
      const resp = await api('POST', '/api/v1/export', { ids: [...selected] });
      const blob = await resp.blob();
      const name = (resp.headers.get('Content-Disposition') || '').match(/filename="([^"]+)"/);
      const a = el('a', { href: URL.createObjectURL(blob), download: name ? name[1] : 'contacts.zip' });
      document.body.append(a); a.click(); a.remove();
    } catch (e) { alert(t('error') + ': ' + e.message); }
    exportBtn.textContent = label;
    exportBtn.disabled = selected.size === 0;
  });

  filters.addEventListener('submit', (ev) => { ev.preventDefault(); load(); });
  for (const e of filters.elements) if (e.tagName === 'SELECT') e.addEventListener('change', load);
  load();
});
