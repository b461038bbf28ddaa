// dlqadmin's own small script (strict CSP: no inline handlers). Copy buttons:
// <button type="button" class="copy" data-copy="text">Copy</button>
document.addEventListener("click", function (event) {
  var button = event.target.closest("button[data-copy]");
  if (!button) return;
  var done = function (label) {
    var before = button.textContent;
    button.textContent = label;
    setTimeout(function () { button.textContent = before; }, 1200);
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(button.dataset.copy).then(function () { done("Copied"); },
                                                            function () { done("Copy failed"); });
  } else {
    // Plain-http demo: fall back to selecting a temporary field.
    var field = document.createElement("textarea");
    field.value = button.dataset.copy;
    field.setAttribute("readonly", "");
    field.className = "copy-buffer";
    document.body.appendChild(field);
    field.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    document.body.removeChild(field);
    done(ok ? "Copied" : "Copy failed");
  }
});

// Confirmation before destructive actions: <form data-confirm="What will happen."
// data-confirm-button="Yes, delete the task">. The dialog lives in base.html; no
// inline script (strict CSP). Runs in the capture phase, before htmx sees the submit.
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (!form.matches || !form.matches("form[data-confirm]")) return;
  if (form.dataset.confirmed === "1") { delete form.dataset.confirmed; return; }
  var dialog = document.getElementById("confirm-dialog");
  if (!dialog || typeof dialog.showModal !== "function") return;  // old browser: no second step
  event.preventDefault();
  event.stopImmediatePropagation();
  var submitter = event.submitter || null;
  dialog.querySelector(".confirm-message").textContent = form.dataset.confirm;
  var yes = dialog.querySelector(".confirm-yes");
  yes.textContent = form.dataset.confirmButton || "Yes, go ahead";
  dialog.returnValue = "";
  dialog.onclose = function () {
    if (dialog.returnValue !== "yes") return;
    form.dataset.confirmed = "1";
    if (form.requestSubmit) { form.requestSubmit(submitter); } else { form.submit(); }
  };
  dialog.showModal();
  dialog.querySelector(".confirm-no").focus();
}, true);

// The top bar's menu button (narrow screens; CSS hides it on wide ones).
document.addEventListener("click", function (event) {
  var toggle = event.target.closest(".menu-toggle");
  if (!toggle) return;
  var bar = toggle.closest(".topbar");
  var open = bar.classList.toggle("open");
  toggle.setAttribute("aria-expanded", open ? "true" : "false");
});

// The theme button: with no stored choice the page follows the system, so the button
// offers the other one of what is shown now.
document.addEventListener("DOMContentLoaded", function () {
  var button = document.querySelector("button[data-theme-choice]");
  if (!button || button.dataset.themeChoice !== "auto") return;
  if (window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches) {
    button.value = "light";
    button.textContent = "Light theme";
  }
});

// Live counts without jumping. Every element with data-live="key" is live state. Every
// <body data-refresh> seconds (the user's choice; 0 is off) the page is fetched again and
// only those elements change: text of leaf elements and classes (e.g. "hot"). Nothing is
// re-created, so focus, scroll position, text selection and ticked boxes stay. When the
// set of live keys differs (a queue appeared or went), a notice offers a reload instead.
(function () {
  var seconds = parseInt((document.body && document.body.dataset.refresh) || "0", 10);
  if (!(seconds > 0) || !document.querySelector("[data-live]")) return;
  var busy = false;
  function byKey(root) {
    var map = new Map();
    root.querySelectorAll("[data-live]").forEach(function (el) { map.set(el.dataset.live, el); });
    return map;
  }
  function apply(html) {
    var fresh = byKey(new DOMParser().parseFromString(html, "text/html"));
    var now = byKey(document);
    var changed = fresh.size !== now.size;
    fresh.forEach(function (el, key) {
      var mine = now.get(key);
      if (!mine) { changed = true; return; }
      if (mine.className !== el.className) mine.className = el.className;
      if (!el.firstElementChild && !mine.firstElementChild && mine.textContent !== el.textContent) {
        mine.textContent = el.textContent;
      }
    });
    var notice = document.getElementById("live-notice");
    if (notice && changed) notice.hidden = false;
  }
  setInterval(function () {
    if (busy || document.hidden) return;
    busy = true;
    // The poll header keeps these requests from counting as activity for the idle timeout.
    fetch(window.location.href, {headers: {"X-DLQ-Poll": "1"}, credentials: "same-origin"})
      .then(function (r) { return r.ok && !r.redirected ? r.text() : null; })
      .then(function (html) { if (html) apply(html); })
      .catch(function () {})
      .then(function () { busy = false; });
  }, seconds * 1000);
})();

// Rows that open a detail row below them (the audit log): the details span the whole
// table instead of squeezing one cell. <button aria-controls="ID" aria-expanded>.
document.addEventListener("click", function (event) {
  var button = event.target.closest("button.event-toggle");
  if (!button) return;
  var row = document.getElementById(button.getAttribute("aria-controls"));
  if (!row) return;
  row.hidden = !row.hidden;
  button.setAttribute("aria-expanded", row.hidden ? "false" : "true");
});
