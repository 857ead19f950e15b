// Every page: a form being sent says so and cannot be sent twice (a double click on 提交申请 or
// 受理 would otherwise send it twice); a form with files says it is uploading. The page's own
// next state arrives as the server's answer: for a form marked hx-boost (htmx) it replaces the
// page body in place, without a reload; if the node cannot be reached the form is given back with
// everything typed still in it.
document.addEventListener("submit", function (ev) {
  var form = ev.target;
  if (!(form instanceof HTMLFormElement) || (form.method || "get").toLowerCase() !== "post") return;
  if (form.dataset.sending === "1") { ev.preventDefault(); return; }
  form.dataset.sending = "1";
  form.setAttribute("aria-busy", "true");
  var uploading = Array.prototype.some.call(form.querySelectorAll("input[type=file]"), function (f) {
    return f.files && f.files.length > 0;
  });
  var note = document.createElement("p");
  note.className = "sending muted";
  note.setAttribute("role", "status");
  note.textContent = uploading ? "正在上传材料，请稍候……" : "正在提交，请稍候……";
  form.appendChild(note);
  // after this event: the submitter's name and value are already part of what is sent
  setTimeout(function () {
    Array.prototype.forEach.call(form.querySelectorAll("button, input[type=submit]"), function (b) {
      b.disabled = true;
    });
  }, 0);
});
// Back from the browser's cache (bfcache): the form can be used again.
window.addEventListener("pageshow", function () {
  Array.prototype.forEach.call(document.querySelectorAll("form[data-sending]"), function (form) { release(form); });
});

function release(form, message) {
  delete form.dataset.sending;
  form.removeAttribute("aria-busy");
  Array.prototype.forEach.call(form.querySelectorAll(".sending"), function (n) { n.remove(); });
  Array.prototype.forEach.call(form.querySelectorAll("button, input[type=submit]"), function (b) {
    b.disabled = false;
  });
  if (message) {
    var note = document.createElement("p");
    note.className = "sending err";
    note.setAttribute("role", "alert");
    note.textContent = message;
    form.appendChild(note);
  }
}
// htmx could not send the form (the network is down, the node restarts): nothing was changed there.
document.addEventListener("htmx:sendError", function (ev) {
  var form = ev.target.closest ? ev.target.closest("form") : null;
  if (form) release(form, "网络连接中断，未能提交；已填写的内容仍保留在表单中，请稍后重试。");
});
// The new body is in place: its status line (flash) or first error is what a screen reader hears.
document.addEventListener("htmx:afterSettle", function () {
  var target = document.querySelector("main .flash, main .field-error, main [role=alert]") || document.getElementById("main");
  if (target) {
    if (!target.hasAttribute("tabindex")) target.setAttribute("tabindex", "-1");
    target.focus({ preventScroll: true });
  }
});
// A self-refreshing block (templates/_live.html): an answer without that block (the sign-in page after
// the session ended, an error page) leaves what is shown in place rather than blanking it.
document.addEventListener("htmx:beforeSwap", function (ev) {
  var elt = ev.detail.elt;
  var sel = elt && elt.getAttribute ? elt.getAttribute("hx-select") : null;
  if (!sel || sel.charAt(0) !== "#" || !ev.detail.xhr) return;
  if (ev.detail.xhr.status !== 200 || ev.detail.xhr.responseText.indexOf('id="' + sel.slice(1) + '"') === -1) {
    ev.detail.shouldSwap = false;
  }
});
