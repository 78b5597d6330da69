'use strict';
document.addEventListener('DOMContentLoaded', () => {
  const form = document.getElementById('login-form');
  const err = document.getElementById('login-error');
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    err.hidden = true;
    const resp = await fetch('/api/v1/login', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, credentials: 'same-origin',
      body: JSON.stringify({ name: form.name.value, password: form.password.value }),
    });
    if (!resp.ok) { err.hidden = false; form.password.select(); return; }
    const me = await resp.json();
    const next = new URLSearchParams(location.search).get('next');
    // Only a path on this server: never an open redirect.
    location.href = next && next.startsWith('/') && !next.startsWith('//') ? next : '/';
    void me;
  });
});
