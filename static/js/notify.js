// Notifications (SPEC §10): a switch in settings (permission is asked when it is turned on,
// never on page load; the choice is kept in localStorage per user); one browser notification
// per message from someone else in a room that is not muted and not in view, whatever the
// number of open tabs; and the favicon's dot while there are unread messages.
//
// One notification across tabs: the tabs of a user elect one (the holder of a Web Lock that
// is never released while the tab lives; when it closes, the next tab in line holds it).
// Only that tab shows notifications. Every tab tells the others over a BroadcastChannel which
// room it shows and whether it is visible, so the elected tab knows what is "in view".
(function () {
  "use strict";
  var C = window.Chatty;
  if (!C || !C.me) return;
  var supported = "Notification" in window;
  var KEY = "chatty.notify." + C.me;

  // --- the choice ------------------------------------------------------------------------
  function chosen() { try { return localStorage.getItem(KEY) === "on"; } catch (err) { return false; } }
  function choose(on) { try { localStorage.setItem(KEY, on ? "on" : "off"); } catch (err) { /* private mode */ } }
  function enabled() { return supported && chosen() && Notification.permission === "granted"; }

  document.querySelectorAll(".notify-setting").forEach(function (box) {
    var sw = box.querySelector(".notify-switch");
    var state = box.querySelector(".notify-state");
    box.hidden = false;
    function show() {
      if (!supported) { sw.checked = false; sw.disabled = true; state.textContent = C.t("notifyUnsupported"); return; }
      sw.checked = enabled();
      state.textContent = sw.checked ? C.t("notifyOn") : (chosen() && Notification.permission === "denied" ? C.t("notifyBlocked") : "");
    }
    show();
    sw.addEventListener("change", function () {
      if (!sw.checked) { choose(false); show(); return; }
      if (Notification.permission === "granted") { choose(true); show(); return; }
      if (Notification.permission === "denied") { choose(false); sw.checked = false; state.textContent = C.t("notifyBlocked"); return; }
      // Asked now, because the person turned the switch on.
      Promise.resolve(Notification.requestPermission()).then(function (answer) {
        choose(answer === "granted");
        show();
        if (answer !== "granted") state.textContent = C.t("notifyBlocked");
      });
    });
    // Another tab changed it.
    window.addEventListener("storage", function (e) { if (e.key === KEY) show(); });
  });

  // --- the tabs --------------------------------------------------------------------------
  var tabId = (window.crypto && crypto.randomUUID) ? crypto.randomUUID() : String(Math.random()).slice(2);
  var views = {};     // other tabs: tab id -> {room, visible}
  var elected = false;
  var channel = ("BroadcastChannel" in window) ? new BroadcastChannel("chatty.tabs." + C.me) : null;
  function visible() { return document.visibilityState === "visible"; }
  function tell() { if (channel) channel.postMessage({ type: "view", tab: tabId, room: C.roomId, visible: visible() }); }
  if (channel) {
    channel.onmessage = function (e) {
      var d = e.data || {};
      if (d.type === "view") views[d.tab] = { room: d.room, visible: d.visible };
      else if (d.type === "gone") delete views[d.tab];
      else if (d.type === "hello") { tell(); }
    };
    channel.postMessage({ type: "hello", tab: tabId });
    tell();
    document.addEventListener("visibilitychange", tell);
    window.addEventListener("pagehide", function () { channel.postMessage({ type: "gone", tab: tabId }); });
    window.addEventListener("pageshow", function (e) { if (e.persisted) { channel.postMessage({ type: "hello", tab: tabId }); tell(); } });
  }
  if (navigator.locks && navigator.locks.request) {
    navigator.locks.request("chatty.notify." + C.me, function () {
      elected = true;
      return new Promise(function () {});   // held while this tab lives
    });
  } else {
    elected = true;                          // no Web Locks: each tab decides for itself
  }
  function inView(roomId) {
    if (roomId === C.roomId && visible()) return true;
    return Object.keys(views).some(function (id) { return views[id].room === roomId && views[id].visible; });
  }

  // --- new messages, from the chat list's previews (every tab of the user gets them) -------
  var seen = {};      // room id -> the activity (ms) of the last message this tab knows of
  function roomOf(preview) { var m = /^chat-(\d+)-preview$/.exec(preview.id); return m ? m[1] : null; }
  document.querySelectorAll("#chat-list .chat-preview[id]").forEach(function (p) {
    var id = roomOf(p); if (id) seen[id] = parseInt(p.dataset.activity, 10) || 0;
  });
  function notify(roomId, preview) {
    var row = document.getElementById("chat-" + roomId);
    if (row && row.dataset.muted === "true") return;
    if (inView(roomId)) return;
    var who = preview.dataset.senderName || "";
    var titleEl = row && row.querySelector(".chat-title");
    var roomTitle = titleEl ? titleEl.textContent.trim() : "";
    var last = preview.querySelector(".chat-last");
    var title = roomTitle && roomTitle !== who ? who + " · " + roomTitle : who;
    var icon = document.getElementById("favicon");
    var n;
    try {
      n = new Notification(title || "Chatty", {
        body: (last && last.textContent.trim()) || C.t("sentFiles"),   // no text: attachments only
        tag: "chatty-" + roomId + "-" + preview.dataset.activity,
        icon: icon ? icon.dataset.plain : undefined,
      });
    } catch (err) { return; }                // a browser that shows them only from a service worker
    n.onclick = function () {
      window.focus();
      n.close();
      window.location.href = "/dashboard/chat/" + roomId;
    };
  }
  C.onArrived(function (node) {
    if (!node.matches(".chat-preview[id]")) return;
    var roomId = roomOf(node);
    if (!roomId) return;
    var activity = parseInt(node.dataset.activity, 10) || 0;
    if (activity <= (seen[roomId] || 0)) return;   // the same message again (an edit, a badge)
    seen[roomId] = activity;
    if (!node.dataset.sender || node.dataset.sender === C.me) return;
    if (elected && enabled()) notify(roomId, node);
  });

  // --- the favicon's dot -------------------------------------------------------------------
  var favicon = document.getElementById("favicon");
  function updateFavicon() {
    if (!favicon) return;
    var total = 0;
    document.querySelectorAll("#chat-list .badge[data-unread]").forEach(function (b) { total += parseInt(b.dataset.unread, 10) || 0; });
    var href = total ? favicon.dataset.unread : favicon.dataset.plain;
    if (href && favicon.getAttribute("href") !== href) favicon.setAttribute("href", href);
    favicon.dataset.count = String(total);
  }
  C.app.addEventListener("htmx:wsAfterMessage", updateFavicon);
  document.body.addEventListener("htmx:afterSettle", updateFavicon);
  updateFavicon();
})();
