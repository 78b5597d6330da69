// The rating terminal: one press, a thank-you, ready for the next patient.
// It talks to the capture agent on the desk PC, so it works when the
// clinic server is down.
(function () {
  "use strict";
  const dict = JSON.parse(document.body.dataset.i18n || "{}");
  const t = (k) => dict[k] || k;
  const thanks = document.getElementById("thanks");
  let busy = false;
  document.querySelectorAll("button.face").forEach((b) => {
    b.addEventListener("click", async () => {
      if (busy) return;
      busy = true;
      try {
        const r = await fetch("/terminal/rating", { method: "POST", headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ value: Number(b.dataset.value) }) });
        thanks.textContent = r.ok ? t('terminal_thanks') : t('terminal_failed');
      } catch (e) {
        thanks.textContent = t('terminal_failed');
      }
      thanks.hidden = false;
      setTimeout(() => { thanks.hidden = true; busy = false; }, 2500);
    });
  });
})();
