// Small SVG charts drawn with DOM calls (no inline styles: the pages' CSP).
'use strict';
const Charts = (() => {
  const NS = 'http://www.w3.org/2000/svg';
  const s = (tag, attrs = {}, ...kids) => {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) e.setAttribute(k, v);
    for (const k of kids) if (k) e.append(k);
    return e;
  };
  const title = (text) => { const e = document.createElementNS(NS, 'title'); e.textContent = text; return e; };

  // sparkline: values 0..1 (null = no data) as a polyline with dots.
  function sparkline(series, { width = 160, height = 36, max = 1, labels = [] } = {}) {
    const svg = s('svg', { viewBox: `0 0 ${width} ${height}`, class: 'spark', role: 'img' });
    series.forEach(({ values, cls }) => {
      const n = values.length, step = n > 1 ? (width - 4) / (n - 1) : 0;
      let d = '';
      values.forEach((v, i) => {
        if (v === null) return;
        const x = 2 + i * step, y = height - 2 - (Math.min(v, max) / max) * (height - 4);
        d += (d === '' || values[i - 1] === null ? 'M' : 'L') + x.toFixed(1) + ' ' + y.toFixed(1) + ' ';
        svg.append(s('circle', { cx: x.toFixed(1), cy: y.toFixed(1), r: 1.6, class: cls }, title(`${labels[i] || ''} ${Math.round(v * 100)}%`)));
      });
      if (d) svg.prepend(s('path', { d, class: 'line ' + cls }));
    });
    return svg;
  }

  // pareto: bars by count, descending, and the cumulative share as a line.
  function pareto(bars, { width = 560, height = 220, name = (x) => x, cumulativeLabel = '' } = {}) {
    const pad = { l: 32, r: 40, t: 10, b: 58 };
    const w = width - pad.l - pad.r, h = height - pad.t - pad.b;
    const max = Math.max(1, ...bars.map((b) => b.count));
    const bw = Math.min(90, w / Math.max(1, bars.length));
    const svg = s('svg', { viewBox: `0 0 ${width} ${height}`, class: 'pareto-chart', role: 'img' });
    svg.append(s('line', { x1: pad.l, y1: pad.t + h, x2: pad.l + w, y2: pad.t + h, class: 'axis' }));
    let d = '';
    bars.forEach((b, i) => {
      const x = pad.l + i * bw, bh = (b.count / max) * h;
      svg.append(s('rect', { x: (x + bw * 0.15).toFixed(1), y: (pad.t + h - bh).toFixed(1), width: (bw * 0.7).toFixed(1), height: bh.toFixed(1), class: 'bar', 'data-cause': b.cause },
        title(`${name(b.cause)}: ${b.count}`)));
      const cnt = s('text', { x: (x + bw / 2).toFixed(1), y: (pad.t + h - bh - 3).toFixed(1), class: 'count' });
      cnt.textContent = b.count;
      svg.append(cnt);
      const lab = s('text', { x: (x + bw / 2).toFixed(1), y: pad.t + h + 14, class: 'label', transform: `rotate(20 ${(x + bw / 2).toFixed(1)} ${pad.t + h + 14})` });
      lab.textContent = name(b.cause);
      svg.append(lab);
      const cx = x + bw / 2, cy = pad.t + h - b.cumulative * h;
      d += (i === 0 ? 'M' : 'L') + cx.toFixed(1) + ' ' + cy.toFixed(1) + ' ';
      svg.append(s('circle', { cx: cx.toFixed(1), cy: cy.toFixed(1), r: 3, class: 'cum' }, title(`${cumulativeLabel} ${Math.round(b.cumulative * 100)}%`)));
    });
    svg.append(s('path', { d, class: 'cum-line' }));
    [0, 0.5, 0.8, 1].forEach((p) => {
      const y = pad.t + h - p * h;
      const tx = s('text', { x: pad.l + w + 4, y: y + 4, class: 'pct' });
      tx.textContent = Math.round(p * 100) + '%';
      svg.append(tx);
    });
    return svg;
  }

  // timeline: lanes of per-second emotion cells (height = speech) under a
  // clip; markers at arrive, leave and the rating press; click seeks.
  function timeline({ start, end, lanes, markers, onSeek, width = 640 }) {
    const laneH = 30, top = 16, labelW = 90;
    const height = top + lanes.length * (laneH + 8) + 16;
    const span = Math.max(1, (end - start) / 1000);
    const w = width - labelW - 4;
    const X = (t) => labelW + ((t - start) / 1000 / span) * w;
    const svg = s('svg', { viewBox: `0 0 ${width} ${height}`, class: 'timeline-chart', role: 'img' });
    lanes.forEach((lane, li) => {
      const y0 = top + li * (laneH + 8);
      const name = s('text', { x: 0, y: y0 + laneH / 2 + 4, class: 'lane-label' });
      name.textContent = lane.name;
      svg.append(name, s('rect', { x: labelW, y: y0, width: w, height: laneH, class: 'lane' }));
      for (const sec of lane.seconds) {
        const t0 = Date.parse(sec.at);
        if (!(sec.speech > 0)) continue;
        const hgt = Math.max(3, Math.min(1, sec.speech) * laneH);
        svg.append(s('rect', { x: X(t0).toFixed(1), y: (y0 + laneH - hgt).toFixed(1), width: Math.max(1, w / span - 0.5).toFixed(1), height: hgt.toFixed(1),
          class: 'sec e-' + sec.emotion }, title(`${sec.label}`)));
      }
    });
    for (const m of markers) {
      const x = X(m.at);
      if (x < labelW || x > labelW + w) continue;
      svg.append(s('line', { x1: x, y1: 10, x2: x, y2: height, class: 'marker ' + m.cls }));
      // The rating's label sits at the bottom: it is often right after the leave.
      const tx = s('text', { x: x + 2, y: m.cls.startsWith('press') ? height - 2 : 10, class: 'marker-label ' + m.cls });
      tx.textContent = m.label;
      svg.append(tx);
    }
    if (onSeek) {
      svg.addEventListener('click', (ev) => {
        const r = svg.getBoundingClientRect();
        const x = ((ev.clientX - r.left) / r.width) * width;
        if (x >= labelW) onSeek(((x - labelW) / w) * span);
      });
    }
    return svg;
  }
  return { sparkline, pareto, timeline };
})();
