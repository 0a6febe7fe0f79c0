// Small glue for htmx: say clearly when a request failed, and never drop what the user typed.
(function () {
  "use strict";
  var notice = null;

  function show(message) {
    notice = notice || document.getElementById("notice");
    if (!notice) return;
    notice.textContent = message;
    notice.hidden = false;
  }

  function hide() {
    if (notice) notice.hidden = true;
  }

  document.addEventListener("htmx:sendError", function () {
    show(document.body.dataset.msgOffline);
  });

  document.addEventListener("htmx:responseError", function (evt) {
    // The server answers errors with a short translated sentence; show it, keep the form as it is.
    var text = "";
    try {
      var doc = new DOMParser().parseFromString(evt.detail.xhr.responseText, "text/html");
      var p = doc.querySelector(".error-message");
      text = p ? p.textContent : "";
    } catch (e) { text = ""; }
    show(text || document.body.dataset.msgError);
  });

  document.addEventListener("htmx:afterRequest", function (evt) {
    if (evt.detail.successful) hide();
  });

  // Drafts: forms marked data-keep-draft keep their text in this browser tab until saved,
  // so a dropped connection or an expired session never costs the user their typing.
  function draftKey(form) { return "draft:" + location.pathname + ":" + (form.getAttribute("hx-post") || form.action); }

  function saveDraft(form) {
    var data = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.type === "hidden" || el.type === "password") return;
      if (el.type === "checkbox") { (data[el.name] = data[el.name] || []); if (el.checked) data[el.name].push(el.value); }
      else data[el.name] = el.value;
    });
    try { sessionStorage.setItem(draftKey(form), JSON.stringify(data)); } catch (e) { /* storage full or off */ }
  }

  function restoreDraft(form) {
    var raw = null;
    try { raw = sessionStorage.getItem(draftKey(form)); } catch (e) { return; }
    if (!raw) return;
    var data = JSON.parse(raw);
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!(el.name in data) || el.type === "hidden") return;
      if (el.type === "checkbox") el.checked = data[el.name].indexOf(el.value) !== -1;
      else el.value = data[el.name];
    });
  }

  function bind(root) {
    Array.prototype.forEach.call(root.querySelectorAll("form[data-keep-draft]"), function (form) {
      if (form.dataset.draftBound) return;
      form.dataset.draftBound = "1";
      if (!form.querySelector(".error, .form-error")) restoreDraft(form);
      form.addEventListener("input", function () { saveDraft(form); });
      form.addEventListener("change", function () { saveDraft(form); });
    });
  }

  document.addEventListener("htmx:afterRequest", function (evt) {
    // Saved: the server sends us elsewhere with HX-Redirect, and the draft is no longer needed.
    var elt = evt.detail.elt;
    if (evt.detail.successful && evt.detail.xhr.getResponseHeader("HX-Redirect") && elt.matches("form[data-keep-draft]")) {
      try { sessionStorage.removeItem(draftKey(elt)); } catch (e) { /* ignore */ }
    }
  });
  document.addEventListener("submit", function (evt) {
    // A plain (non-htmx) submit that succeeds leaves the page: the draft goes with it.
    var form = evt.target;
    if (form.matches("form[data-keep-draft]") && !window.htmx) try { sessionStorage.removeItem(draftKey(form)); } catch (e) { /* ignore */ }
  });
  document.addEventListener("DOMContentLoaded", function () { bind(document); });
  document.addEventListener("htmx:load", function (evt) { bind(evt.detail.elt); });
})();
