// Rooms people can shape (SPEC §9): mute, the group settings dialog, the display name.
// What changes live (chat rows, the room's header, friends' names) arrives as server-rendered
// HTML over the socket; this file keeps focus, state and the few things HTML cannot do.
(function () {
  "use strict";
  var C = window.Chatty;
  if (!C) return;
  var roomId = C.roomId;

  function csrfToken() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    if (input) return input.value;
    var match = document.cookie.match(/(?:^|; )csrftoken=([^;]*)/);
    return match ? decodeURIComponent(match[1]) : "";
  }
  // The JSON API with this page's session: {ok, status, data}; a network failure is status 0.
  function api(method, url, body) {
    return fetch(url, {
      method: method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify(body),
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) { return { ok: r.ok, status: r.status, data: data }; });
    }, function () { return { ok: false, status: 0, data: {} }; });
  }
  function setResult(el, text, isError) {
    if (!el) return;
    el.textContent = text;
    el.className = "form-result" + (text ? (isError ? " error" : " ok") : "");
  }

  // --- mute: a toggle in the room's header; the row's data-muted follows in every tab ----
  var muteButton = document.getElementById("mute-button");
  function setMuted(on) { if (muteButton) muteButton.setAttribute("aria-pressed", on ? "true" : "false"); }
  if (muteButton) {
    muteButton.addEventListener("click", function (e) {
      e.preventDefault();  // the plain form is for pages without JavaScript
      var next = muteButton.getAttribute("aria-pressed") !== "true";
      muteButton.disabled = true;
      api("POST", "/api/chat/mute", { chatId: roomId, muted: next }).then(function (res) {
        muteButton.disabled = false;
        if (res.ok) setMuted(!!res.data.muted);
        else C.toast(C.t("notSaved"));
        muteButton.focus();
      });
    });
  }

  // --- what arrives: this room's row and header, from any tab or person -------------------
  C.onArrived(function (node) {
    if (roomId && node.matches("li.chat-row#chat-" + roomId)) {
      // The pushed row is the same for every page: mark it as the one open here.
      node.classList.add("current");
      var link = node.querySelector("a");
      if (link) link.setAttribute("aria-current", "page");
      setMuted(node.dataset.muted === "true");
    } else if (roomId && node.matches("#room-head-" + roomId)) {
      var title = document.getElementById("room-title");
      var prefix = (document.title.match(/^\(\d+\)\s*/) || [""])[0];
      if (title) document.title = prefix + title.textContent.trim() + " · Chatty";
      var input = document.getElementById("group-title");
      var dialog = document.getElementById("group-settings-dialog");
      if (input && !(dialog && dialog.open)) input.value = node.dataset.customTitle || "";
    }
  });
  // A pushed header knows names, not presence: its dots take the state of the dots on the
  // page (the old header's, the friends rail's) until presence news changes them.
  document.body.addEventListener("htmx:oobBeforeSwap", function (e) {
    var target = e.detail.target, frag = e.detail.fragment;
    if (!target || !frag || !frag.querySelectorAll || !/^room-head-/.test(target.id || "")) return;
    frag.querySelectorAll(".dot").forEach(function (dot) {
      var cls = Array.prototype.filter.call(dot.classList, function (c) { return c.indexOf("dot-user-") === 0; })[0];
      var known = cls && document.querySelector(".dot." + cls);
      if (known) dot.replaceWith(known.cloneNode(true));
    });
  });

  // --- left (from this tab or another): the room stays readable, nothing more can be sent --
  C.on("removedFromChatroom", function (f) {
    if (!roomId || f.chatroomId !== roomId) return;
    ["composer", "typing", "new-pill"].forEach(function (id) { var el = document.getElementById(id); if (el) el.remove(); });
    document.querySelectorAll(".room-tools dialog[open]").forEach(function (d) { d.close(); });
    document.querySelectorAll(".room-tools").forEach(function (el) { el.remove(); });
  });

  // --- the group settings dialog: fresh each time it opens --------------------------------
  var groupDialog = document.getElementById("group-settings-dialog");
  document.addEventListener("click", function (e) {
    var opener = e.target.closest("[data-open='group-settings-dialog']");
    if (!opener || !groupDialog) return;
    var head = document.getElementById("room-head-" + roomId);
    var input = document.getElementById("group-title");
    if (input && head) input.value = head.dataset.customTitle || "";
    setResult(document.getElementById("rename-result"), "");
    setResult(document.getElementById("add-result"), "");
    // The friends who could be added: the group's members and one's friends change live.
    if (window.htmx && groupDialog.dataset.listUrl) {
      htmx.ajax("GET", groupDialog.dataset.listUrl, { target: "#add-members-list", swap: "innerHTML" });
    }
  });

  // --- the display name (settings): PATCH /api/user; the own card follows -----------------
  document.querySelectorAll("form[data-name-form]").forEach(function (form) {
    var input = form.querySelector("input[name=name]");
    var result = form.querySelector(".form-result");
    input.removeAttribute("maxlength");   // too long is said in words, not cut short
    input.addEventListener("input", function () { input.removeAttribute("aria-invalid"); });
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var name = input.value.trim();
      if (name.length < 1 || name.length > 50) {
        setResult(result, C.t("nameLength"), true);
        input.setAttribute("aria-invalid", "true");
        input.focus();
        return;
      }
      var button = form.querySelector("button[type=submit]");
      button.disabled = true;
      api("PATCH", "/api/user", { name: name }).then(function (res) {
        button.disabled = false;
        if (res.ok) {
          input.value = res.data.name;
          setResult(result, C.t("nameSaved"), false);
          input.removeAttribute("aria-invalid");
          document.querySelectorAll(".me-card .me-text > strong").forEach(function (el) { el.textContent = res.data.name; });
          // One's own name in this page's room header (friends' pages hear it from the server).
          if (C.me) document.querySelectorAll(".name-of-" + C.me).forEach(function (el) { el.textContent = res.data.name; });
        } else {
          setResult(result, C.t(res.status === 400 ? "nameLength" : "notSaved"), true);
          input.setAttribute("aria-invalid", "true");
        }
      });
    });
  });
})();
