// Chatty's own few lines: dialogs, the outbox, scrolling, and the socket's JSON frames.
// Everything visible that changes live arrives as server-rendered HTML swapped by htmx's
// ws extension; this file only handles what HTML cannot: acks, focus, scroll, time zones.
(function () {
  "use strict";
  var app = document.getElementById("app");
  if (!app) return;
  // After a drop, reconnect within seconds: htmx's full jitter, but at most 8 s apart (its own
  // cap is 64 s, which leaves a page offline for a minute after a server restart).
  if (window.htmx) {
    htmx.config.wsReconnectDelay = function (retry) { return Math.random() * Math.min(8000, 1000 * Math.pow(2, retry)); };
  }
  var t = function (key) { return app.dataset["t" + key.charAt(0).toUpperCase() + key.slice(1)] || key; };
  var roomId = app.dataset.room || "";
  var socket = null;      // htmx's socket wrapper, set when the socket opens
  var joined = false;      // the room's live stream is joined on the current socket
  var everJoined = false;  // it was once: from then on the composer stays usable, offline too
  var outbox = {};        // clientId -> {text, timer}
  var SEND_TIMEOUT_MS = 10000;
  var history = document.getElementById("history");
  var messages = document.getElementById("messages");
  var composer = document.getElementById("composer");
  var textarea = document.getElementById("composer-text");
  var pill = document.getElementById("new-pill");
  var connState = document.getElementById("conn-state");

  // --- small helpers -----------------------------------------------------------------
  function send(frame) { if (socket) socket.send(JSON.stringify(frame)); }
  function lastMessageId() {
    var items = messages ? messages.querySelectorAll("li.msg[data-id]") : [];
    var max = 0;
    items.forEach(function (li) { var id = parseInt(li.dataset.id, 10); if (id > max) max = id; });
    return max;
  }
  function nearBottom() { return !history || history.scrollHeight - history.scrollTop - history.clientHeight < 80; }
  function toBottom() { if (history) history.scrollTop = history.scrollHeight; }
  function toast(text) {
    var box = document.getElementById("toasts");
    var el = document.createElement("div");
    el.className = "toast"; el.setAttribute("role", "status"); el.textContent = text;
    box.appendChild(el);
  }
  function newClientId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return Date.now().toString(36) + Math.random().toString(36).slice(2);
  }
  function setConn(state) {
    if (!connState) return;
    connState.dataset.state = state;
    connState.textContent = t(state);
  }
  function setComposerEnabled(on) {
    if (!composer) return;
    composer.querySelectorAll("textarea, button").forEach(function (el) { el.disabled = !on; });
  }

  // --- times in the reader's own zone --------------------------------------------------
  var timeFmt = new Intl.DateTimeFormat(document.documentElement.lang, { hour: "2-digit", minute: "2-digit" });
  var dateFmt = new Intl.DateTimeFormat(document.documentElement.lang, { month: "short", day: "numeric" });
  var dayFmt = new Intl.DateTimeFormat(document.documentElement.lang, { year: "numeric", month: "long", day: "numeric" });
  function localize(root) {
    root.querySelectorAll("time[data-ts]").forEach(function (el) {
      var d = new Date(parseInt(el.dataset.ts, 10));
      var today = new Date().toDateString() === d.toDateString();
      el.textContent = (el.classList.contains("chat-time") && !today) ? dateFmt.format(d) : timeFmt.format(d);
      el.title = dayFmt.format(d) + " " + timeFmt.format(d);
    });
  }
  function fixDays() {
    // Day separators in the reader's zone: one before the first message of each day.
    if (!messages) return;
    messages.querySelectorAll("li.day").forEach(function (li) { li.remove(); });
    var last = null;
    messages.querySelectorAll("li.msg[data-ts]").forEach(function (li) {
      var d = new Date(parseInt(li.dataset.ts, 10));
      var key = d.toDateString();
      if (key !== last) {
        var sep = document.createElement("li");
        sep.className = "day"; sep.innerHTML = "<span></span>";
        sep.firstChild.textContent = dayFmt.format(d);
        li.parentNode.insertBefore(sep, li);
        last = key;
      }
    });
  }
  function updateTitle() {
    var total = 0;
    document.querySelectorAll("#chat-list .badge[data-unread]").forEach(function (b) { total += parseInt(b.dataset.unread, 10) || 0; });
    var base = document.title.replace(/^\(\d+\)\s*/, "");
    document.title = total ? "(" + total + ") " + base : base;
  }
  function sortChats() {
    var list = document.getElementById("chat-list");
    if (!list) return;
    var rows = Array.prototype.slice.call(list.children);
    var key = function (li) { var p = li.querySelector(".chat-preview"); return p ? parseInt(p.dataset.activity, 10) || 0 : 0; };
    rows.sort(function (a, b) { return key(b) - key(a); });
    rows.forEach(function (li) { list.appendChild(li); });
  }

  // --- the outbox: "sending" until ack, "failed – retry" on error or time-out ---------
  function pendingEl(clientId) { return document.getElementById("pending-" + clientId); }
  function showPending(clientId, text) {
    var li = document.createElement("li");
    li.id = "pending-" + clientId; li.className = "msg mine pending";
    li.innerHTML = '<div class="bubble"><p class="text"></p><span class="state"></span></div>';
    li.querySelector(".text").textContent = text;
    li.querySelector(".state").textContent = t("sending");
    messages.appendChild(li);
    toBottom();
  }
  function trySend(clientId) {
    var item = outbox[clientId];
    if (!item) return;
    var li = pendingEl(clientId);
    if (li) { li.classList.remove("failed"); li.querySelector(".state").textContent = t("sending"); }
    clearTimeout(item.timer);
    item.timer = setTimeout(function () { fail(clientId); }, SEND_TIMEOUT_MS);
    // Offline, the message waits in the outbox: joining the room again sends it (same clientId).
    if (joined) send({ type: "sendMessage", chatroomId: roomId, message: item.text, clientId: clientId });
  }
  function fail(clientId) {
    var li = pendingEl(clientId);
    if (!li || !outbox[clientId]) return;
    li.classList.add("failed");
    var state = li.querySelector(".state");
    state.innerHTML = "";
    var retry = document.createElement("button");
    retry.type = "button"; retry.className = "retry"; retry.textContent = t("failed");
    retry.addEventListener("click", function () { trySend(clientId); });
    state.appendChild(retry);
  }
  function acked(clientId, messageId) {
    var item = outbox[clientId];
    if (item) clearTimeout(item.timer);
    delete outbox[clientId];
    var li = pendingEl(clientId);
    if (!li) return;
    if (document.getElementById("msg-" + messageId)) li.remove();
    else li.dataset.messageId = messageId;   // removed when the message itself arrives
  }

  // --- the socket ------------------------------------------------------------------------
  app.addEventListener("htmx:wsConnecting", function () { setConn(socket ? "offline" : "connecting"); });
  app.addEventListener("htmx:wsOpen", function (e) {
    socket = e.detail.socketWrapper;
    setConn("online");
    if (roomId) {
      joined = false;
      if (!everJoined) setComposerEnabled(false);
      var after = lastMessageId();
      var frame = { type: "connectToRoom", chatroomId: roomId };
      if (after) frame.afterId = String(after);
      send(frame);
    }
  });
  app.addEventListener("htmx:wsClose", function (e) {
    joined = false; setConn("offline");
    if (!everJoined) setComposerEnabled(false);
    var code = e.detail.event && e.detail.event.code;
    if (code === 4401) { window.location.href = "/login"; }
    else if (code === 4429 || code === 1000) { setTimeout(function () { window.location.reload(); }, 3000); }
  });
  app.addEventListener("htmx:wsBeforeMessage", function (e) {
    var raw = e.detail.message;
    if (typeof raw !== "string" || raw.charAt(0) !== "{") {
      app._wasNearBottom = nearBottom();
      app._lastBefore = messages ? messages.querySelector("li.msg[data-id]:last-of-type") : null;
      return;                                   // HTML: htmx swaps it
    }
    e.preventDefault();                         // JSON: ours
    var f; try { f = JSON.parse(raw); } catch (err) { return; }
    if (f.type === "joinedChatroom" && f.chatroomId === roomId) {
      joined = true; everJoined = true; setComposerEnabled(true);
      Object.keys(outbox).forEach(trySend);
    }
    else if (f.type === "ack") acked(f.clientId, f.messageId);
    else if (f.type === "resync") window.location.reload();
    else if (f.type === "retrieveCurrentUser") {
      document.querySelectorAll('.status-form input[name=status]').forEach(function (r) { r.checked = r.value === f.status; });
    } else if (f.type === "error") {
      if (f.clientId && outbox[f.clientId]) { clearTimeout(outbox[f.clientId].timer); fail(f.clientId); }
      if (f.detail && f.ref !== "typing") toast(f.detail);
    }
  });
  document.body.addEventListener("htmx:oobBeforeSwap", function (e) {
    // A message already on screen (a catch-up after reconnect) is not added twice.
    var frag = e.detail.fragment;
    if (!frag || !frag.querySelectorAll) return;
    frag.querySelectorAll("li.msg[id^=msg-]").forEach(function (li) {
      if (document.getElementById(li.id) && e.detail.target && e.detail.target.id === "messages") li.remove();
    });
  });
  app.addEventListener("htmx:wsAfterMessage", function () {
    localize(document);
    document.querySelectorAll("li.pending[data-message-id]").forEach(function (li) {
      if (document.getElementById("msg-" + li.dataset.messageId)) li.remove();
    });
    if (messages) {
      fixDays();
      var all = messages.querySelectorAll("li.msg[data-id]");
      var last = all.length ? all[all.length - 1] : null;
      if (last && last !== app._lastBefore) {   // a new message arrived at the bottom
        if (app._wasNearBottom || last.classList.contains("mine")) toBottom();
        else if (pill) pill.hidden = false;
      }
    }
    sortChats(); updateTitle();
    var typing = document.getElementById("typing");
    if (typing && typing.dataset.until) {
      clearTimeout(app._typingTimer);
      app._typingTimer = setTimeout(function () { typing.textContent = ""; }, Math.max(0, parseInt(typing.dataset.until, 10) - Date.now()));
    }
    document.querySelectorAll("#toasts .toast:not([data-timed])").forEach(function (el) {
      el.dataset.timed = "1"; setTimeout(function () { el.remove(); }, 6000);
    });
  });

  // --- older history on scroll up, without jumping -------------------------------------
  document.body.addEventListener("htmx:beforeRequest", function (e) {
    if (history && e.detail.elt && e.detail.elt.id === "older") app._heightBefore = history.scrollHeight;
  });
  document.body.addEventListener("htmx:afterSettle", function (e) {
    if (history && app._heightBefore) {
      history.scrollTop += history.scrollHeight - app._heightBefore;
      app._heightBefore = 0;
      localize(history); fixDays();
    }
  });
  if (history) {
    history.addEventListener("scroll", function () { if (pill && nearBottom()) pill.hidden = true; });
  }
  if (pill) pill.addEventListener("click", function () { toBottom(); pill.hidden = true; });

  // --- the composer: Enter sends, Shift+Enter breaks the line --------------------------
  if (composer && textarea) {
    textarea.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); composer.requestSubmit(); }
    });
    var lastTyping = 0;
    textarea.addEventListener("input", function () {
      if (joined && Date.now() - lastTyping > 3000) { lastTyping = Date.now(); send({ type: "typing", chatroomId: roomId }); }
    });
    composer.addEventListener("submit", function (e) {
      if (!socket || !everJoined) return;       // never joined: the plain form posts
      e.preventDefault();
      var text = textarea.value;
      if (!text.trim()) return;
      var clientId = newClientId();
      outbox[clientId] = { text: text, timer: null };
      showPending(clientId, text);
      textarea.value = "";
      trySend(clientId);
    });
  }

  // --- dialogs, copy, menus --------------------------------------------------------------
  document.addEventListener("click", function (e) {
    var opener = e.target.closest("[data-open]");
    if (opener) {
      var dialog = document.getElementById(opener.dataset.open);
      var open = document.querySelector("dialog[open]");
      if (open && open !== dialog) open.close();
      dialog._opener = opener; dialog.showModal();
      var first = dialog.querySelector("input:not([type=hidden]), select, textarea, button");
      if (first) first.focus();
      return;
    }
    if (e.target.closest("[data-close]")) { e.target.closest("dialog").close(); return; }
    var copy = e.target.closest("[data-copy]");
    if (copy) {
      if (navigator.clipboard) navigator.clipboard.writeText(copy.dataset.copy).then(function () { toast(t("copied")); });
      return;
    }
    var toggle = e.target.closest("[data-toggle-sidebar]");
    if (toggle) {
      var open2 = app.classList.toggle("sidebar-open");
      toggle.setAttribute("aria-expanded", open2 ? "true" : "false");
    }
  });
  document.querySelectorAll("dialog").forEach(function (d) {
    d.addEventListener("close", function () { if (d._opener) d._opener.focus(); });
  });
  var pick = document.getElementById("new-chat-friends");
  var submit = document.getElementById("new-chat-submit");
  function updatePick() {
    if (!pick || !submit) return;
    var n = pick.querySelectorAll("input:checked").length;
    submit.disabled = n === 0;
    submit.textContent = n === 0 ? submit.dataset.tNone : n === 1 ? submit.dataset.tOne : submit.dataset.tGroup.replace("%(n)s", n);
  }
  if (pick) { pick.addEventListener("change", updatePick); updatePick(); }
  document.querySelectorAll(".status-form input[name=status]").forEach(function (radio) {
    radio.addEventListener("change", function () {
      if (socket) send({ type: "changeStatus", status: radio.value });
      else radio.form.submit();
    });
  });
  document.body.addEventListener("htmx:afterRequest", function (e) {
    var form = e.detail.elt;
    if (form && form.getAttribute("hx-post") && form.closest("#add-friend-dialog") && e.detail.successful) form.reset();
  });
  document.body.addEventListener("htmx:responseError", function (e) {
    // 422 from add-friend carries its own message; let htmx swap it anyway.
    if (e.detail.xhr && e.detail.xhr.status === 422) return;
  });
  document.body.addEventListener("htmx:beforeSwap", function (e) {
    if (e.detail.xhr && e.detail.xhr.status === 422) { e.detail.shouldSwap = true; e.detail.isError = false; }
  });

  localize(document); fixDays(); toBottom(); updateTitle();
  if (roomId) setComposerEnabled(false);
})();
