// End-to-end test of contactd's pages in Debian's Chromium. It expects a
// running demo (the Go test TestPagesEndToEnd starts one) and checks what
// each user does: the quality officer reviews a negative contact, the
// supervisor sees a warning tile, an employee sees their mirror move and
// cannot reach another's mirror or a clip, the admin reads the access log.
// Screenshots go to $SCREENSHOTS.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const base = process.env.BASE_URL;
const password = process.env.PASSWORD;
const shots = process.env.SCREENSHOTS || 'artifacts/e2e';
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
if (!base || !password) throw new Error('BASE_URL and PASSWORD must be set');
mkdirSync(shots, { recursive: true });

let failures = 0;
function check(ok, what) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures++;
}

const browser = await chromium.launch({
  executablePath, headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--autoplay-policy=no-user-gesture-required', '--mute-audio'],
});

async function session(name, viewport = { width: 1400, height: 950 }) {
  const ctx = await browser.newContext({ viewport, locale: 'ru-RU' });
  const page = await ctx.newPage();
  page.on('pageerror', (e) => { console.log(`FAIL script error on ${name}'s page: ${e.message}`); failures++; });
  await page.goto(base + '/');
  await page.waitForURL(/\/login/);
  await page.fill('#name', name);
  await page.fill('#password', password);
  await page.click('button[type=submit]');
  await page.waitForURL((u) => !u.pathname.startsWith('/login'));
  return { ctx, page };
}

async function shot(page, name) {
  await page.screenshot({ path: join(shots, name + '.png'), fullPage: true });
}

let contactId = '';
try {
  // A wrong password is refused on the page.
  {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await page.goto(base + '/login');
    await page.fill('#name', 'olga');
    await page.fill('#password', 'not the password');
    await page.click('button[type=submit]');
    await page.waitForSelector('#login-error:not([hidden])');
    check(page.url().includes('/login'), 'a wrong password stays on the login page with an error');
    await shot(page, '0-login-refused');
    await ctx.close();
  }

  // 1. The quality officer: negatives first, filter, play, tag, mark reviewed.
  {
    const { ctx, page } = await session('olga');
    check(new URL(page.url()).pathname === '/review', `olga lands on the review page (${page.url()})`);
    // The demo's first contacts close within a minute: wait for negatives.
    const deadline = Date.now() + 120_000;
    // ... and for a contact of anna's desk (the room's consultations come first).
    while (Date.now() < deadline && ((await page.locator('#contacts tbody tr[data-set=negative]').count()) < 2 ||
      (await page.locator('#filters select[name=employee] option[value=anna]').count()) === 0)) {
      await page.waitForTimeout(3000);
      await page.click('#filters button[type=submit]');
    }
    const rows = page.locator('#contacts tbody tr');
    check((await page.locator('#contacts tbody tr[data-set=negative]').count()) >= 2, 'negative contacts are listed');
    const sets = await rows.evaluateAll((trs) => trs.map((tr) => tr.dataset.set));
    check(sets.length > 0 && sets.every((s) => s === 'negative'), `the default filter shows negatives only (${sets})`);
    const firstCell = await rows.first().locator('td').nth(1).innerText();
    check(/[а-я]/.test(firstCell), `dates are in Russian for olga ("${firstCell}")`);
    // Filter by employee.
    await page.selectOption('#filters select[name=employee]', 'anna');
    await page.waitForFunction(() => {
      const trs = [...document.querySelectorAll('#contacts tbody tr')];
      return trs.length > 0 && trs.every((tr) => tr.children[3].textContent === 'anna');
    }, null, { timeout: 10_000 });
    check(new URL(page.url()).searchParams.get('employee') === 'anna', 'the filter is in the URL');
    // Open the newest negative of anna's and play its clip.
    const row = page.locator('#contacts tbody tr').first();
    contactId = await row.getAttribute('data-id');
    await row.click();
    await page.waitForSelector('#detail .clip');
    const played = await page.evaluate(async () => {
      const v = document.querySelector('#detail .clip');
      v.muted = true;
      await v.play();
      await new Promise((r) => setTimeout(r, 2500));
      return { t: v.currentTime, d: v.duration, err: v.error && v.error.message };
    });
    check(played.t > 1 && !played.err, `the clip plays (${JSON.stringify(played)})`);
    const cells = await page.locator('#detail svg.timeline-chart rect.sec').count();
    check(cells > 3, `the emotion timeline has ${cells} speaking seconds`);
    check((await page.locator('#detail svg.timeline-chart .marker.press').count()) === 1, 'the rating is marked on the timeline');
    const lanes = await page.locator('#detail svg.timeline-chart .lane-label').allTextContents();
    check(lanes.includes('Сотрудник') && lanes.includes('Пациент'), `employee and patient lanes (${lanes})`);
    const seen = await page.evaluate(async (id) => ((await (await fetch('/api/v1/contacts/' + id)).json()).contact.face || {}).seen || 0, contactId);
    check(lanes.includes('Лицо сотрудника') && seen > 10, `anna's desk camera gives a face lane (${lanes}; ${seen} looks with a face)`);
    // Tag a cause, label the patient's emotion, note, mark reviewed.
    await page.check('#detail input[name=cause][value=rudeness]');
    await page.selectOption('#detail select[name=label_patient]', 'angry');
    await page.fill('#detail textarea[name=note]', 'Повышенный тон в конце разговора');
    await page.click('#detail .mark-reviewed');
    await page.waitForFunction(() => document.querySelector('#detail .saved')?.textContent === 'Сохранено', null, { timeout: 10_000 });
    await page.waitForSelector(`#contacts tbody tr.done[data-id="${contactId}"]`, { timeout: 10_000 });
    const saved = await page.evaluate(async (id) => (await (await fetch('/api/v1/contacts/' + id)).json()).review, contactId);
    check(saved && saved.reviewed && saved.causes.includes('rudeness') && saved.labels.patient === 'angry' && saved.by === 'olga',
      `the review is stored (${JSON.stringify(saved)})`);
    await page.waitForSelector('#pareto svg rect.bar[data-cause=rudeness]', { timeout: 10_000 });
    check(true, 'the Pareto chart counts the cause');
    await shot(page, '1-review');
    // Not reviewed only: the reviewed contact leaves the list.
    await page.selectOption('#filters select[name=reviewed]', 'no');
    await page.waitForFunction((id) => !document.querySelector(`#contacts tbody tr[data-id="${id}"]`), contactId, { timeout: 10_000 });
    check(true, 'the "not reviewed" filter hides it');
    // Likely negatives: every contact, the most likely dissatisfied first,
    // each heard one with its score.
    await page.selectOption('#filters select[name=reviewed]', '');
    await page.selectOption('#filters select[name=employee]', '');
    await page.selectOption('#filters select[name=set]', '');
    await page.selectOption('#filters select[name=order]', 'likely');
    await page.waitForFunction(() => new URLSearchParams(location.search).get('order') === 'likely' &&
      document.querySelectorAll('#contacts tbody tr .likely').length >= 2, null, { timeout: 10_000 });
    const scores = await page.locator('#contacts tbody tr').evaluateAll((trs) =>
      trs.map((tr) => { const l = tr.querySelector('.likely'); return l ? Number(l.firstChild.textContent) : -1; }));
    check(scores.length >= 2 && scores.every((v, i) => i === 0 || v <= scores[i - 1]),
      `"most likely dissatisfied first" orders the contacts by their score (${scores})`);
    const why = await page.locator('#contacts tbody tr .likely').first().getAttribute('title');
    check(scores[0] < 50 || (why || '').length > 0, `the top contact's score says why ("${why}")`);
    await shot(page, '1-review-likely');
    await page.selectOption('#filters select[name=order]', '');
    // The consulting room: this morning's consultations, each with its
    // booking and how the doctor and the patient talked.
    await page.selectOption('#filters select[name=reviewed]', '');
    await page.selectOption('#filters select[name=employee]', '');
    await page.selectOption('#filters select[name=set]', '');
    await page.selectOption('#filters select[name=station]', 'room-1');
    await page.waitForFunction(() => {
      const trs = [...document.querySelectorAll('#contacts tbody tr')];
      return trs.length >= 2 && trs.every((tr) => tr.children[2].textContent === 'room-1');
    }, null, { timeout: 10_000 });
    const roomRows = await page.locator('#contacts tbody tr').count();
    check(roomRows === 3, `room-1 lists this morning's three consultations, the no-show not among them (${roomRows})`);
    await page.locator('#contacts tbody tr', { hasText: 'приём затянулся' }).first().click();
    await page.waitForSelector('#detail .conversation:not([hidden]) dd');
    const facts = await page.locator('#detail .conversation dt').allTextContents();
    check(facts.includes('Запись') && facts.includes('Доля речи врача') && facts.includes('Перебиваний (врач / пациент)'),
      `the consultation shows its booking and conversation (${facts})`);
    const share = await page.locator('#detail .conversation dd').nth(1).innerText();
    check(/\d+\s?%/.test(share), `the doctor's share of talk is a percentage ("${share}")`);
    // The demo's room has one microphone: the page says its counts are estimates.
    const micRow = facts.indexOf('Микрофоны');
    const mics = micRow < 0 ? '' : await page.locator('#detail .conversation dd').nth(micRow).innerText();
    check(/^1:.*приблизительны/.test(mics), `the consultation says it was heard on one microphone, its counts estimates ("${mics}")`);
    const roomLanes = await page.locator('#detail svg.timeline-chart .lane-label').allTextContents();
    check(roomLanes.includes('Врач') && roomLanes.includes('Пациент'), `doctor and patient lanes (${roomLanes})`);
    await shot(page, '1-consultation');
    await ctx.close();
  }

  // 2. The supervisor: a warning tile, live desks.
  {
    const { ctx, page } = await session('sergey');
    check(new URL(page.url()).pathname === '/monitor', 'sergey lands on the monitor');
    await page.waitForSelector('.tile.warn[data-employee=boris] .warning[data-warning=ContactdEmotionalExhaustionRisk]', { timeout: 15_000 });
    check(true, 'boris has an exhaustion warning tile');
    check((await page.locator('.tile.warn[data-employee=anna]').count()) === 0, 'anna has no warning');
    await page.waitForSelector('.tile[data-employee=anna] .dot.live', { timeout: 15_000 });
    check((await page.locator('.tile[data-employee=anna] svg.spark circle').count()) >= 10, 'anna has a 14-day sparkline');
    check((await page.locator('#health .desk.live').count()) === 2, 'both desks are live');
    await shot(page, '2-monitor');
    // A supervisor does not play clips.
    const r = await page.request.get(`${base}/api/v1/contacts/${contactId}/clip`);
    check(r.status() === 403, `a supervisor playing a clip gets ${r.status()}`);
    await ctx.close();
  }

  // 3. An employee: their own mirror updates; another's, or a clip, is 403.
  {
    const { ctx, page } = await session('anna', { width: 1280, height: 800 });
    check(new URL(page.url()).pathname === '/mirror', 'anna lands on her mirror');
    await page.waitForFunction(() => Number(document.getElementById('indicator').dataset.received || 0) >= 1, null, { timeout: 20_000 });
    const n0 = Number(await page.getAttribute('#indicator', 'data-received'));
    await page.waitForTimeout(10000);
    const n1 = Number(await page.getAttribute('#indicator', 'data-received'));
    check(n1 - n0 >= 8, `the mirror received ${n1 - n0} readings in 10 s`);
    const mood = await page.locator('#mood').innerText();
    check(mood.length > 0 && mood !== 'Жду звук со стойки…', `the indicator says "${mood}"`);
    await page.waitForFunction(() => document.querySelectorAll('#today dd').length >= 3, null, { timeout: 20_000 });
    await page.waitForSelector('#smile', { timeout: 20_000 });
    check(/\d/.test(await page.locator('#smile').innerText()), 'the mirror shows the smile from the desk camera');
    await shot(page, '3-mirror');
    const other = await page.goto(base + '/mirror?employee=boris');
    check(other.status() === 403, `anna opening boris's mirror gets ${other.status()}`);
    const stream = await page.request.get(`${base}/api/v1/mirror/boris/today`);
    check(stream.status() === 403, `anna reading boris's mirror data gets ${stream.status()}`);
    const clip = await page.request.get(`${base}/api/v1/contacts/${contactId}/clip`);
    check(clip.status() === 403, `anna playing a clip gets ${clip.status()}`);
    const review = await page.goto(base + '/review');
    check(review.status() === 403, `anna opening the review page gets ${review.status()}`);
    await shot(page, '3-forbidden');
    // English, switched on the page.
    await page.goto(base + '/mirror');
    await page.click('#lang-switch');
    await page.waitForSelector('text=Today', { timeout: 10_000 });
    check((await page.locator('html').getAttribute('lang')) === 'en', 'the page switched to English');
    await shot(page, '3-mirror-en');
    await ctx.close();
  }

  // 4. The admin reads the access log: olga's play is there.
  {
    const { ctx, page } = await session('admin');
    await page.goto(base + '/audit');
    await page.waitForSelector('#audit tbody tr');
    const text = await page.locator('#audit tbody').innerText();
    check(text.includes('olga') && text.includes(contactId) && text.includes('просмотр'), 'the access log has olga playing the clip');
    check((await page.locator('#chain').innerText()) === '✓', 'the log chain is intact');
    await shot(page, '4-audit');
    await ctx.close();
  }

  // 5. A tablet: the review page fits a narrow screen.
  {
    const { ctx, page } = await session('olga', { width: 800, height: 1200 });
    await page.waitForSelector('#contacts tbody tr');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(overflow <= 1, `no sideways scrolling on a tablet (overflow ${overflow}px)`);
    await shot(page, '5-review-tablet');
    await ctx.close();
  }
} catch (e) {
  console.log('FAIL ' + (e.stack || e));
  failures++;
} finally {
  await browser.close();
}
console.log(failures ? `${failures} check(s) failed` : 'all checks passed');
process.exit(failures ? 1 : 0);
