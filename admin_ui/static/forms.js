// Every page: a form being sent says so and cannot be sent twice (a double click on 提交申请 or
// 受理 would otherwise send it twice); a form with files says it is uploading. The page's own
// next state arrives as the server's answer.
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
  Array.prototype.forEach.call(document.querySelectorAll("form[data-sending]"), function (form) {
    delete form.dataset.sending;
    form.removeAttribute("aria-busy");
    Array.prototype.forEach.call(form.querySelectorAll(".sending"), function (n) { n.remove(); });
    Array.prototype.forEach.call(form.querySelectorAll("button, input[type=submit]"), function (b) {
      b.disabled = false;
    });
  });
});
