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
  var outbox = {};        // clientId -> {text, extra, timer}: extra are the frame's other fields
  var extras = [];        // feature scripts' functions that add fields to a sendMessage frame
  var listeners = {};     // frame type (or page event) -> feature scripts' functions
  var arrivedHooks = [];  // feature scripts' functions for each element added to the page
  var emptyOk = [];       // feature scripts' functions: true when an empty text may be sent (attachments)
  var SEND_TIMEOUT_MS = 10000;
  var history = document.getElementById("history");
  var messages = document.getElementById("messages");
  var composer = document.getElementById("composer");
  var textarea = document.getElementById("composer-text");
  var pill = document.getElementById("new-pill");
  var connState = document.getElementById("conn-state");
  var announcer = document.getElementById("announcer");
  var sidebar = document.getElementById("sidebar");
  var menuButton = document.querySelector("[data-toggle-sidebar]");
  var mainPane = document.getElementById("main");
  var countEl = document.getElementById("composer-count");
  var composerError = document.getElementById("composer-error");
  var me = document.body.dataset.me || app.dataset.me || "";
  var MAX_LENGTH = 4000;
  var COUNT_FROM = 3500;     // the counter shows from here on
  var TOAST_MS = 6000;
  app.classList.add("js");

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
    el.className = "toast"; el.textContent = text;
    box.appendChild(el);               // timed and de-duplicated by the observer below
  }
  // Toasts leave by themselves; the same text twice shows once (its time starts again).
  function timeToast(el) {
    var text = el.textContent.trim();
    var twin = null;
    document.querySelectorAll("#toasts .toast").forEach(function (other) {
      if (other !== el && !twin && other.textContent.trim() === text) twin = other;
    });
    if (twin) { el.remove(); el = twin; }
    clearTimeout(el._timer);
    el._timer = setTimeout(function () { el.remove(); }, TOAST_MS);
  }
  // The one channel for screen readers: a polite region that gets one paragraph per announcement.
  function announce(text) {
    if (!announcer || !text) return;
    var p = document.createElement("p");
    p.textContent = text;
    announcer.appendChild(p);
    var all = announcer.querySelectorAll("p");
    for (var i = 0; i < all.length - 3; i++) all[i].remove();
  }
  function markMine(root) {
    if (!me) return;
    var items = root.matches && root.matches("li.msg[data-sender]") ? [root] : root.querySelectorAll("li.msg[data-sender]");
    items.forEach(function (li) { li.classList.toggle("mine", li.dataset.sender === me); });
  }
  function newClientId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return Date.now().toString(36) + Math.random().toString(36).slice(2);
  }
  function setConn(state) {
    // Only the script knows about the socket: the page is served with this line empty.
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
    var times = root.matches && root.matches("time[data-ts]") ? [root] : root.querySelectorAll("time[data-ts]");
    times.forEach(function (el) {
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
        li.parentNode.insertBefore(daySeparator(li), li);
        last = key;
      }
    });
  }
  function dayKey(li) { return new Date(parseInt(li.dataset.ts, 10)).toDateString(); }
  function daySeparator(li) {
    var sep = document.createElement("li");
    sep.className = "day"; sep.innerHTML = "<span></span>";
    sep.firstChild.textContent = dayFmt.format(new Date(parseInt(li.dataset.ts, 10)));
    return sep;
  }
  function addDayIfNeeded(li) {
    // A live message opens a new day: one separator before it, nothing else is touched.
    var prev = li.previousElementSibling;
    while (prev && !(prev.matches("li.msg[data-ts]") || prev.matches("li.day"))) prev = prev.previousElementSibling;
    if (prev && prev.matches("li.day")) return;
    if (!prev || dayKey(prev) !== dayKey(li)) li.parentNode.insertBefore(daySeparator(li), li);
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

  // --- what a reload must not lose: the room's draft and its unsent messages ----------
  // Kept in this browser's localStorage per user and room; an unsent message goes again with
  // its clientId when the page is back (the server stores it once, SPEC §5).
  function storeKey(kind) { return "chatty." + kind + "." + me + "." + roomId; }
  function load(kind, fallback) {
    try { var v = localStorage.getItem(storeKey(kind)); return v ? JSON.parse(v) : fallback; } catch (err) { return fallback; }
  }
  function save(kind, value) {
    try {
      if (value === null || value === "" || (typeof value === "object" && !Object.keys(value).length)) localStorage.removeItem(storeKey(kind));
      else localStorage.setItem(storeKey(kind), JSON.stringify(value));
    } catch (err) { /* private mode or full: the page still works, a reload forgets */ }
  }
  // Two tabs of one room share the stored outbox: each writes its own messages and removes
  // only those it knew (sent, discarded), never another tab's.
  var ownIds = {};
  function saveOutbox() {
    if (!roomId) return;
    var kept = load("outbox", {});
    Object.keys(kept).forEach(function (id) { if (ownIds[id] && !outbox[id]) delete kept[id]; });
    Object.keys(outbox).forEach(function (id) {
      var item = outbox[id];
      ownIds[id] = true;
      kept[id] = { text: item.text, extra: item.extra || {}, permanent: !!item.permanent, at: item.at || Date.now() };
    });
    save("outbox", kept);
  }
  // Nothing typed stays in the browser after its user logs out (a shared computer).
  function forgetTyped() {
    try {
      var prefixes = ["chatty.outbox." + me + ".", "chatty.draft." + me + "."];
      Object.keys(localStorage).forEach(function (key) {
        if (prefixes.some(function (p) { return key.indexOf(p) === 0; })) localStorage.removeItem(key);
      });
    } catch (err) { /* storage unavailable: nothing was kept */ }
  }
  var STALE_MS = 12 * 3600 * 1000;  // an unsent message older than this waits for a Retry

  // --- the outbox: "sending" until ack, "failed – retry" on error or time-out ---------
  function pendingEl(clientId) { return document.getElementById("pending-" + clientId); }
  function showPending(clientId, text) {
    var li = document.createElement("li");
    li.id = "pending-" + clientId; li.className = "msg mine pending"; li.dataset.sender = me;
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
    if (joined) {
      var frame = { type: "sendMessage", chatroomId: roomId, message: item.text, clientId: clientId };
      Object.keys(item.extra || {}).forEach(function (k) { frame[k] = item.extra[k]; });
      send(frame);
    }
  }
  function stateButton(label, onClick) {
    var b = document.createElement("button");
    b.type = "button"; b.className = "retry"; b.textContent = label;
    b.addEventListener("click", onClick);
    return b;
  }
  function drop(clientId) {
    var item = outbox[clientId];
    if (item) clearTimeout(item.timer);
    delete outbox[clientId];
    saveOutbox();
    var li = pendingEl(clientId);
    if (li) li.remove();
    return item;
  }
  function fail(clientId, permanent) {
    // A failed message can be sent again (unless the server refused it for good), put back
    // into the composer to be changed, or thrown away.
    var li = pendingEl(clientId);
    var item = outbox[clientId];
    if (!li || !item) return;
    if (permanent) { item.permanent = true; saveOutbox(); }
    li.classList.add("failed");
    var state = li.querySelector(".state");
    state.innerHTML = "";
    if (!item.permanent) state.appendChild(stateButton(t("failed"), function () { item.held = false; trySend(clientId); }));
    // Edit puts the text back in the composer; a message with files keeps them by Retry instead.
    var files = item.extra && item.extra.attachmentIds && item.extra.attachmentIds.length;
    if (!files) state.appendChild(stateButton(t("edit"), function () {
      var gone = drop(clientId);
      if (gone && textarea) { textarea.value = gone.text; composerChanged(); textarea.focus(); }
    }));
    state.appendChild(stateButton(t("discard"), function () { drop(clientId); if (textarea) textarea.focus(); }));
  }
  function acked(clientId, messageId) {
    var item = outbox[clientId];
    if (item) clearTimeout(item.timer);
    delete outbox[clientId];
    saveOutbox();
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
      // Jumped into the middle of the history (search.js): newer pages come from the server
      // as one scrolls down, so the socket catches up from the room's latest message.
      var newer = document.getElementById("newer");
      if (newer && newer.dataset.latestId) after = Math.max(after, parseInt(newer.dataset.latestId, 10) || 0);
      var frame = { type: "connectToRoom", chatroomId: roomId };
      if (after) frame.afterId = String(after);
      send(frame);
    }
  });
  // A page that is leaving (a plain form such as "Log out" was sent) lets its navigation land:
  // the socket it ends closes with 4401 meanwhile, and sending the page to /login then would
  // abort the form's own answer.
  var leaving = false;
  document.addEventListener("submit", function (e) {
    if (e.defaultPrevented) return;
    leaving = true;
    var action = e.target.getAttribute("action") || "";
    if (/\/accounts\/logout(-everywhere)?\/$/.test(action)) forgetTyped();
  });
  window.addEventListener("beforeunload", function () { leaving = true; });
  app.addEventListener("htmx:wsClose", function (e) {
    joined = false; setConn("offline");
    if (!everJoined) setComposerEnabled(false);
    var code = e.detail.event && e.detail.event.code;
    if (code === 4401) { if (!leaving) window.location.href = "/login"; }
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
      Object.keys(outbox).forEach(function (id) { if (!outbox[id].permanent && !outbox[id].held) trySend(id); });
    }
    else if (f.type === "removedFromChatroom" && f.chatroomId === roomId) {
      // Left (in this tab or another): the page stays readable, and a reconnect no longer
      // asks to join a room the user is not in.
      Object.keys(outbox).forEach(drop);
      roomId = ""; joined = false; everJoined = false;
    }
    else if (f.type === "ack") acked(f.clientId, f.messageId);
    else if (f.type === "resync") window.location.reload();
    else if (f.type === "retrieveCurrentUser") {
      document.querySelectorAll('.status-form input[name=status]').forEach(function (r) { r.checked = r.value === f.status; });
    } else if (f.type === "error") {
      if (f.clientId && outbox[f.clientId]) {
        clearTimeout(outbox[f.clientId].timer);
        fail(f.clientId, f.error !== "rate_limited");
      }
      if (f.detail && f.ref !== "typing") toast(f.detail);
    }
    (listeners[f.type] || []).forEach(function (fn) { fn(f); });
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
    syncMyDots();
    document.querySelectorAll("li.pending[data-message-id]").forEach(function (li) {
      if (document.getElementById("msg-" + li.dataset.messageId)) li.remove();
    });
    if (messages) {
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
  });

  // Own presence wherever it shows (the room's header too), from the status in the sidebar card.
  function syncMyDots() {
    var mine = document.querySelector("#me-status .dot");
    var label = document.querySelector("#me-status > span:last-child");
    if (!mine || !me) return;
    var status = ["online", "away", "offline"].filter(function (s) { return mine.classList.contains(s); })[0];
    document.querySelectorAll(".dot-user-" + me).forEach(function (dot) {
      dot.classList.remove("online", "away", "offline"); dot.classList.add(status);
      if (label) { dot.setAttribute("aria-label", label.textContent); dot.title = label.textContent; }
    });
  }

  // --- what arrives, whichever way (socket, history, the page's own script) ---------------
  // Only the new nodes are touched: their times in the reader's zone, "mine" by sender, and
  // one announcement per message from someone else (this room's or another's).
  var maxSeen = lastMessageId();
  var unreadSeen = {};
  document.querySelectorAll("#chat-list .chat-preview").forEach(function (p) {
    var b = p.querySelector(".badge"); unreadSeen[p.id] = b ? parseInt(b.dataset.unread, 10) || 0 : 0;
  });
  function arrived(node) {
    arrivedHooks.forEach(function (fn) { fn(node); });
    localize(node);
    markMine(node);
    if (node.matches("li.msg[data-id]") && node.parentNode === messages) {
      var id = parseInt(node.dataset.id, 10);
      if (id > maxSeen) {
        maxSeen = id;
        addDayIfNeeded(node);
        // Not while a page of newer history comes in (search.js, after a jump): that is no news.
        if (node.dataset.sender && node.dataset.sender !== me && !app.hasAttribute("data-paging")) {
          var who = node.querySelector(".sender"), text = node.querySelector(".text");
          announce((who ? who.textContent + ": " : "") + (text ? text.textContent.slice(0, 200) : ""));
          var typing = document.getElementById("typing");
          if (typing) typing.textContent = "";
        }
      }
    } else if (node.matches(".chat-preview[id]")) {
      var badge = node.querySelector(".badge");
      var unread = badge ? parseInt(badge.dataset.unread, 10) || 0 : 0;
      var before = unreadSeen[node.id] || 0;
      unreadSeen[node.id] = unread;
      var row = node.closest(".chat-row");
      var here = roomId && node.id === "chat-" + roomId + "-preview";
      if (!here && unread > before && node.dataset.sender !== me && !(row && row.dataset.muted === "true")) {
        announce(t("newFrom").replace("%(name)s", node.dataset.senderName || ""));
      }
    } else if (node.matches(".toast")) {
      timeToast(node);
    }
  }
  new MutationObserver(function (records) {
    records.forEach(function (r) {
      r.addedNodes.forEach(function (n) { if (n.nodeType === 1 && n.isConnected) arrived(n); });
    });
  }).observe(app, { childList: true, subtree: true });

  // --- older history on scroll up, without jumping -------------------------------------
  document.body.addEventListener("htmx:beforeRequest", function (e) {
    if (history && e.detail.elt && e.detail.elt.id === "older") app._heightBefore = history.scrollHeight;
  });
  document.body.addEventListener("htmx:afterSettle", function (e) {
    if (history && app._heightBefore) {
      history.scrollTop += history.scrollHeight - app._heightBefore;
      app._heightBefore = 0;
      fixDays();
    }
  });
  if (history) {
    history.addEventListener("scroll", function () { if (pill && nearBottom()) pill.hidden = true; });
  }
  if (pill) pill.addEventListener("click", function () { toBottom(); pill.hidden = true; });

  // --- the composer: Enter sends, Shift+Enter breaks the line --------------------------
  function composerChanged() {
    // The box grows with its lines; near the limit a counter shows; over it, sending is refused.
    textarea.style.height = "auto";
    textarea.style.height = textarea.scrollHeight + 2 + "px";
    var n = textarea.value.trim().length;
    if (countEl) {
      countEl.hidden = n < COUNT_FROM;
      countEl.textContent = t("count").replace("%(n)s", n.toLocaleString(document.documentElement.lang));
      countEl.classList.toggle("over", n > MAX_LENGTH);
    }
    if (n <= MAX_LENGTH) showComposerError("");
  }
  function showComposerError(text) {
    if (!composerError) return;
    if (composerError.textContent !== text) composerError.textContent = text;
    if (text) textarea.setAttribute("aria-invalid", "true"); else textarea.removeAttribute("aria-invalid");
  }
  if (composer && textarea) {
    // The script counts and refuses with a message instead of the browser cutting a paste short.
    textarea.removeAttribute("maxlength");
    textarea.addEventListener("input", composerChanged);
    textarea.addEventListener("input", function () { save("draft", textarea.value); });
    var draft = load("draft", "");
    if (draft && !textarea.value) { textarea.value = draft; composerChanged(); }
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
      if (!text.trim() && !emptyOk.some(function (fn) { return fn(); })) return;
      if (text.trim().length > MAX_LENGTH) { showComposerError(t("tooLong")); composerChanged(); return; }
      var extra = {};
      for (var i = 0; i < extras.length; i++) {
        if (extras[i](extra) === false) return;   // a feature script refused (it says why)
      }
      var clientId = newClientId();
      outbox[clientId] = { text: text, extra: extra, timer: null, at: Date.now() };
      saveOutbox();
      showPending(clientId, text);
      textarea.value = "";
      save("draft", "");
      composerChanged();
      trySend(clientId);
      emit("sent", { clientId: clientId, text: text, extra: extra });
    });
  }

  // --- dialogs, copy, menus --------------------------------------------------------------
  document.addEventListener("click", function (e) {
    var opener = e.target.closest("[data-open]");
    var dialog = opener && document.getElementById(opener.dataset.open);
    if (dialog) {
      e.preventDefault();                       // a link (the settings page) opens its dialog instead
      var open = document.querySelector("dialog[open]");
      // Opened from another dialog: focus goes back to what opened that one.
      dialog._opener = open && open.contains(opener) ? open._opener : opener;
      if (open && open !== dialog) { open._opener = null; open.close(); }
      dialog.showModal();
      var first = dialog.querySelector("input:not([type=hidden]), select, textarea, button");
      if (first) first.focus();
      return;
    }
    var dismiss = e.target.closest("[data-dismiss]");
    if (dismiss) { dismissFlash(dismiss.closest(".flash-item")); return; }
    if (e.target.closest("[data-close]")) { e.target.closest("dialog").close(); return; }
    var copy = e.target.closest("[data-copy]");
    if (copy) {
      if (navigator.clipboard) navigator.clipboard.writeText(copy.dataset.copy).then(function () { toast(t("copied")); });
      return;
    }
    var toggle = e.target.closest("[data-toggle-sidebar]");
    if (toggle) {
      if (sidebarOpen()) closeSidebar(true); else openSidebar();
      return;
    }
    // A tap outside the open sidebar (on the dimmed page) closes it.
    if (sidebarOpen() && sidebar && !sidebar.contains(e.target) && !e.target.closest("dialog")) closeSidebar(true);
  });

  // --- the phone's sidebar: a modal panel while open, out of reach while closed (CSS) ----
  var phone = window.matchMedia("(max-width: 767px)");
  function sidebarOpen() { return app.classList.contains("sidebar-open"); }
  function focusables(root) {
    return Array.prototype.filter.call(
      root.querySelectorAll("a[href], button:not([disabled]), input:not([disabled]):not([type=hidden]), select, textarea, [tabindex]:not([tabindex='-1'])"),
      function (el) { return el.getClientRects().length && getComputedStyle(el).visibility !== "hidden"; });
  }
  function setBehind(on) {
    // Everything but the menu button and the sidebar is out of reach while it is open.
    if (mainPane) mainPane.inert = on;
    document.querySelectorAll(".topbar > :not([data-toggle-sidebar]), .skip-link").forEach(function (el) { el.inert = on; });
  }
  function openSidebar() {
    if (!sidebar || !menuButton) return;
    var bar = document.querySelector(".topbar");
    if (bar) sidebar.style.top = bar.getBoundingClientRect().bottom + "px";
    app.classList.add("sidebar-open");
    menuButton.setAttribute("aria-expanded", "true");
    setBehind(true);
    var first = focusables(sidebar)[0];
    if (first) first.focus();
  }
  function closeSidebar(returnFocus) {
    if (!sidebarOpen()) return;
    app.classList.remove("sidebar-open");
    if (menuButton) menuButton.setAttribute("aria-expanded", "false");
    setBehind(false);
    if (returnFocus && menuButton) menuButton.focus();
  }
  phone.addEventListener("change", function () { if (!phone.matches) closeSidebar(false); });
  document.addEventListener("keydown", function (e) {
    if (!sidebarOpen() || document.querySelector("dialog[open]")) return;
    if (e.key === "Escape") { e.preventDefault(); closeSidebar(true); return; }
    if (e.key !== "Tab") return;
    // Focus stays in the open sidebar (and its menu button).
    var ring = [menuButton].concat(focusables(sidebar));
    var i = ring.indexOf(document.activeElement);
    var next = e.shiftKey ? (i <= 0 ? ring.length - 1 : i - 1) : (i < 0 || i === ring.length - 1 ? 0 : i + 1);
    e.preventDefault();
    ring[next].focus();
  });

  // --- flash messages: dismissible, and the good news leaves by itself --------------------
  function dismissFlash(item) {
    if (!item) return;
    var box = item.parentNode;
    item.remove();
    if (box && !box.querySelector(".flash-item")) box.remove();
  }
  document.querySelectorAll(".flash-item").forEach(function (item) {
    var close = item.querySelector("[data-dismiss]");
    if (close) close.hidden = false;
    if (!item.classList.contains("flash-error")) setTimeout(function () { dismissFlash(item); }, 8000);
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
  var tagInput = document.getElementById("friend-tag");
  function friendResult(text, isError) {
    var result = document.getElementById("add-friend-result");
    if (result) { result.textContent = text; result.className = "form-result" + (isError ? " error" : ""); }
    if (tagInput) { if (isError) tagInput.setAttribute("aria-invalid", "true"); else tagInput.removeAttribute("aria-invalid"); }
  }
  if (tagInput) tagInput.addEventListener("input", function () { tagInput.removeAttribute("aria-invalid"); });
  document.body.addEventListener("htmx:beforeRequest", function (e) {
    // A bare name is no tag: say what a tag looks like instead of asking the server.
    if (e.detail.elt && e.detail.elt.closest && e.detail.elt.closest("#add-friend-dialog") && tagInput) {
      var v = tagInput.value.trim();
      if (!v || v.indexOf("#") < 0) { e.preventDefault(); friendResult(t("noHash"), true); tagInput.focus(); }
    }
  });
  document.body.addEventListener("htmx:afterSwap", function (e) {
    var result = document.getElementById("add-friend-result");
    if (tagInput && result && e.detail.target && e.detail.target.id === "add-friend-result") {
      if (result.classList.contains("error")) tagInput.setAttribute("aria-invalid", "true");
      else tagInput.removeAttribute("aria-invalid");
    }
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

  // --- what the feature scripts (messages.js, rooms.js, files.js …) build on --------------
  // They load after this file and add behaviour through Chatty.on / onArrived / addExtra.
  function emit(type, detail) { (listeners[type] || []).forEach(function (fn) { fn(detail); }); }
  window.Chatty = {
    app: app, me: me, roomId: roomId, messages: messages, history: history, textarea: textarea,
    t: t, send: send, toast: toast, announce: announce, toBottom: toBottom, nearBottom: nearBottom,
    localize: localize, fixDays: fixDays, composerChanged: function () { if (textarea) composerChanged(); },
    isJoined: function () { return joined; },
    // on("ack" | "error" | any frame type | "sent", fn): fn(frame) after this file handled it.
    on: function (type, fn) { (listeners[type] = listeners[type] || []).push(fn); },
    // onArrived(fn): fn(element) for every element added to the page (socket, htmx, script).
    onArrived: function (fn) { arrivedHooks.push(fn); },
    // addExtra(fn): fn(fields) before a message is sent; it adds fields to the sendMessage frame
    // (replyToId, attachmentIds) or returns false to stop the send. The fields are kept in the
    // outbox with the text, so a resend after a reload carries them too.
    addExtra: function (fn) { extras.push(fn); },
    // allowEmpty(fn): fn() true lets a message without text be sent (files.js: it has attachments).
    allowEmpty: function (fn) { emptyOk.push(fn); },
    emit: emit,
  };

  // The unsent messages of the last visit come back as pending and go when the room is joined.
  if (roomId && messages) {
    var kept = load("outbox", {});
    Object.keys(kept).forEach(function (id) {
      // Unsent for long (days ago, on another visit): shown as failed, sent only by Retry.
      var held = !kept[id].permanent && Date.now() - (kept[id].at || 0) > STALE_MS;
      outbox[id] = { text: kept[id].text, extra: kept[id].extra || {}, permanent: kept[id].permanent, at: kept[id].at, held: held, timer: null };
      ownIds[id] = true;
      showPending(id, kept[id].text);
      if (kept[id].permanent) fail(id, true);
      else if (held) fail(id);
    });
  }

  setConn("connecting");
  localize(document); markMine(document); fixDays(); toBottom(); updateTitle();
  if (roomId) setComposerEnabled(false);
})();
