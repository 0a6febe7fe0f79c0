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
    // A session that ended is said in the page's own language (signed out, the server only knows the
    // browser's): the page carries those sentences, rendered with it.
    var text = "";
    var xhr = evt.detail.xhr;
    try {
      var doc = new DOMParser().parseFromString(xhr.responseText, "text/html");
      var p = doc.querySelector(".error-message");
      if (xhr.getResponseHeader("X-Session-Ended")) {
        var own = xhr.status === 401 ? document.body.dataset.msgSignedOut : document.body.dataset.msgStale;
        text = own || p.textContent;
      } else {
        text = p ? p.textContent : "";
      }
    } catch (e) { text = ""; }
    show(text || document.body.dataset.msgError);
  });

  document.addEventListener("htmx:afterRequest", function (evt) {
    var xhr = evt.detail.xhr;
    if (evt.detail.successful && !(xhr && xhr.getResponseHeader("HX-Retarget") === "#notice")) hide();
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
    try { raw = sessionStorage.getItem(draftKey(form)); } catch (e) { return false; }
    if (!raw) return false;
    var data = JSON.parse(raw);
    var changed = false;
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!(el.name in data) || el.type === "hidden") return;
      if (el.type === "checkbox") el.checked = data[el.name].indexOf(el.value) !== -1;
      else if (el.value !== data[el.name]) { el.value = data[el.name]; changed = true; }
    });
    return changed;
  }

  function bind(root) {
    Array.prototype.forEach.call(root.querySelectorAll("form[data-keep-draft]"), function (form) {
      if (form.dataset.draftBound) return;
      form.dataset.draftBound = "1";
      if (!form.querySelector(".error, .form-error") && restoreDraft(form) && form.matches("[data-autosave]")) {
        // Text typed before a reload or a sign-in was never saved: save it now.
        form.dataset.unsaved = "1";
        setTimeout(resume, 0);
      }
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
  // Autosaved forms (minutes): once saved, the local copy goes; when a save fails because the
  // session ended or the network dropped, the text stays here and is sent again once the user is back.
  function autosaveForm(elt) { return elt && elt.closest ? elt.closest("form[data-autosave]") : null; }

  document.addEventListener("htmx:afterRequest", function (evt) {
    var form = autosaveForm(evt.detail.elt);
    if (!form) return;
    if (evt.detail.successful) {
      delete form.dataset.unsaved;
      try { sessionStorage.removeItem(draftKey(form)); } catch (e) { /* ignore */ }
    } else {
      var status = evt.detail.xhr ? evt.detail.xhr.status : 0;
      if (status === 0 || status === 401 || status === 400 || status >= 500) {
        form.dataset.unsaved = "1";
        var shown = form.querySelector(".save-status span");
        if (shown) { shown.className = "error"; shown.textContent = document.body.dataset.msgUnsaved; }
      }
    }
  });

  function resume() {
    var pending = document.querySelectorAll("form[data-autosave][data-unsaved]");
    if (!pending.length || !window.htmx) return;
    var xhr = new XMLHttpRequest();
    xhr.open("GET", document.body.dataset.sessionUrl);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.setRequestHeader("HX-Request", "true");
    xhr.onload = function () {
      if (xhr.status !== 200) return;  // still signed out: keep waiting, the text stays
      try {
        var token = JSON.parse(xhr.responseText).csrf_token;
        document.body.setAttribute("hx-headers", JSON.stringify({ "X-CSRFToken": token }));
      } catch (e) { return; }
      Array.prototype.forEach.call(pending, function (form) { window.htmx.trigger(form, "autosave"); });
    };
    xhr.send();
  }
  window.addEventListener("focus", resume);
  document.addEventListener("focusin", resume);  // back in the tab, the user clicks into the text
  window.addEventListener("online", resume);
  document.addEventListener("visibilitychange", function () { if (!document.hidden) resume(); });
  setInterval(resume, 20000);

  // Pickers: a search lists matches; choosing one adds a removable chip holding a hidden input.
  document.addEventListener("click", function (evt) {
    var pick = evt.target.closest("[data-pick]");
    if (pick) {
      var picker = pick.closest("[data-picker]");
      var chips = picker.querySelector("[data-picked]");
      var chip = document.createElement("span");
      chip.className = "chip";
      chip.textContent = pick.dataset.label;
      var input = document.createElement("input");
      input.type = "hidden"; input.name = picker.dataset.name; input.value = pick.dataset.value;
      var remove = document.createElement("button");
      remove.type = "button"; remove.className = "link"; remove.textContent = "✕";
      remove.setAttribute("data-unpick", ""); remove.setAttribute("aria-label", document.body.dataset.msgRemove || "✕");
      chip.appendChild(input); chip.appendChild(remove); chips.appendChild(chip);
      pick.closest("li").remove();
      var search = picker.querySelector("input[type=search]");
      if (search) { search.value = ""; search.focus(); }
      return;
    }
    var unpick = evt.target.closest("[data-unpick]");
    if (unpick) unpick.closest(".chip").remove();
  });

  // One request per click: while a form is being sent its buttons are disabled (the server also
  // refuses a second sending of a creation form, so a double click never makes two records).
  function buttons(form) { return form ? form.querySelectorAll("button:not([type=button]), input[type=submit]") : []; }
  function busy(form, on) {
    if (!form || form.method === "get") return;
    Array.prototype.forEach.call(buttons(form), function (b) { b.disabled = on; });
    if (on) form.setAttribute("aria-busy", "true"); else form.removeAttribute("aria-busy");
  }
  document.addEventListener("htmx:beforeRequest", function (evt) {
    var elt = evt.detail.elt;
    if (elt && elt.tagName === "FORM" && evt.detail.requestConfig.verb !== "get") busy(elt, true);
  });
  document.addEventListener("htmx:afterRequest", function (evt) {
    var elt = evt.detail.elt;
    if (elt && elt.tagName === "FORM") busy(elt, false);
  });
  document.addEventListener("submit", function (evt) {
    var form = evt.target;
    if (form.method === "get" || form.hasAttribute("hx-post")) return;
    if (form.dataset.sending) { evt.preventDefault(); return; }
    form.dataset.sending = "1";
    // After this tick, so that the clicked button's own name and value are still sent.
    setTimeout(function () { busy(form, true); }, 0);
  });
  window.addEventListener("pageshow", function () {
    // Back to a page kept by the browser: its forms can be sent again.
    Array.prototype.forEach.call(document.querySelectorAll("form[data-sending]"), function (form) {
      delete form.dataset.sending; busy(form, false);
    });
  });
  // Error messages from the server arrive in the notice bar (HX-Retarget): show it.
  document.addEventListener("htmx:afterSwap", function (evt) {
    if (evt.detail.target && evt.detail.target.id === "notice") evt.detail.target.hidden = false;
  });

  // Pickers: from a search box, the arrow keys move through the options found below it, Escape comes back.
  function pickerOptions(el) {
    var picker = el.closest(".picker, form");
    return picker ? Array.prototype.slice.call(picker.querySelectorAll(".options-list .option, .options-list summary")) : [];
  }
  document.addEventListener("keydown", function (evt) {
    var el = evt.target;
    if (!(el instanceof HTMLElement) || ["ArrowDown", "ArrowUp", "Escape"].indexOf(evt.key) < 0) return;
    var options = pickerOptions(el);
    var index = options.indexOf(el);
    var isSearch = el.matches("input[type=search]");
    if (!options.length || (!isSearch && index < 0)) return;
    var search = el.closest(".picker, form").querySelector("input[type=search]");
    var next = null;
    if (evt.key === "Escape") next = search;
    else if (evt.key === "ArrowDown") next = isSearch ? options[0] : options[index + 1];
    else next = isSearch ? options[options.length - 1] : index === 0 ? search : options[index - 1];
    if (next) { evt.preventDefault(); next.focus(); }
  });

  document.addEventListener("DOMContentLoaded", function () { bind(document); });
  document.addEventListener("htmx:load", function (evt) { bind(evt.detail.elt); });
})();
