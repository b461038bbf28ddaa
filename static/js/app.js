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
