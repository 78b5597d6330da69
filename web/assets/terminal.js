// The rating terminal: one press, a thank-you, ready for the next patient.
// It talks to the capture agent on the desk PC, so it works when the
// clinic server is down.
(function () {
  "use strict";
  const thanks = document.getElementById("thanks");
  let busy = false;
  document.querySelectorAll("button.face").forEach((b) => {
    b.addEventListener("click", async () => {
      if (busy) return;
      busy = true;
      try {
        const r = await fetch("/terminal/rating", { method: "POST", headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ value: Number(b.dataset.value) }) });
        thanks.textContent = r.ok ? "Thank you!" : "Sorry, that did not work. Please tell the staff.";
      } catch (e) {
        thanks.textContent = "Sorry, that did not work. Please tell the staff.";
      }
      thanks.hidden = false;
      setTimeout(() => { thanks.hidden = true; busy = false; }, 2500);
    });
  });
})();
