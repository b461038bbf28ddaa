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

// --- Triage selection (queue page, search results) -------------------------------------
// <input type="checkbox" data-select-all="FORM-ID"> ticks every row box of that form
// (<input name="ids" form="FORM-ID">); <span data-selection-of="FORM-ID"> says how many
// are ticked. Rows streamed in later (search) or removed after a retry are counted
// again on every change and after every htmx swap.
function dlqRowBoxes(formId) {
  return Array.prototype.slice.call(
    document.querySelectorAll('input[type=checkbox][name="ids"][form="' + formId + '"]'));
}

function dlqCountSelection() {
  document.querySelectorAll("[data-selection-of]").forEach(function (out) {
    var formId = out.dataset.selectionOf;
    var boxes = dlqRowBoxes(formId);
    var ticked = boxes.filter(function (b) { return b.checked; }).length;
    out.textContent = ticked + " selected";
    var all = document.querySelector('[data-select-all="' + formId + '"]');
    if (all) {
      all.checked = boxes.length > 0 && ticked === boxes.length;
      all.indeterminate = ticked > 0 && ticked < boxes.length;
    }
  });
}

document.addEventListener("change", function (event) {
  var target = event.target;
  if (target.matches && target.matches("[data-select-all]")) {
    dlqRowBoxes(target.dataset.selectAll).forEach(function (b) { b.checked = target.checked; });
  }
  if (target.matches && target.matches('[data-select-all], input[name="ids"][form]')) dlqCountSelection();
});
document.addEventListener("htmx:afterSettle", dlqCountSelection);
document.addEventListener("DOMContentLoaded", dlqCountSelection);

// --- JSON payload editor (edit, then retry) --------------------------------------------
// <textarea data-json-editor="SUBMIT-ID" aria-describedby="STATUS-ID">: says whether the
// text is valid JSON as it is typed, and keeps the submit button disabled while it is not
// (the server checks again).
function dlqCheckJson(area) {
  var status = document.getElementById(area.getAttribute("aria-describedby"));
  var submit = document.getElementById(area.dataset.jsonEditor);
  var message = "Valid JSON.";
  var ok = true;
  try { JSON.parse(area.value); } catch (e) { ok = false; message = "Not valid JSON: " + e.message; }
  area.setAttribute("aria-invalid", ok ? "false" : "true");
  if (status) { status.textContent = message; status.className = "editor-status " + (ok ? "valid" : "invalid"); }
  if (submit) submit.disabled = !ok;
}
document.addEventListener("input", function (event) {
  if (event.target.matches && event.target.matches("textarea[data-json-editor]")) dlqCheckJson(event.target);
});
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("textarea[data-json-editor]").forEach(dlqCheckJson);
});
