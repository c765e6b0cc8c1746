// Search (SPEC §10): the sidebar's and the room's search forms answer into #search-dialog
// (server-rendered results: htmx); a result opens its room around the message, which this
// file scrolls to and highlights. Newer messages then load on scrolling down (#newer).
(function () {
  "use strict";
  var C = window.Chatty;
  if (!C) return;
  var dialog = document.getElementById("search-dialog");

  // --- the results dialog ------------------------------------------------------------------
  document.body.addEventListener("htmx:beforeRequest", function (e) {
    var form = e.detail.elt && e.detail.elt.closest && e.detail.elt.closest("form[data-search-form]");
    if (!form) return;
    var q = form.querySelector("input[name=q]");
    if (q && !q.value.trim()) { e.preventDefault(); q.focus(); return; }
    if (dialog) dialog._searchFrom = q;
  });
  document.body.addEventListener("htmx:afterSwap", function (e) {
    var target = e.detail.target;
    if (!dialog || !target || target.id !== "search-results") return;
    if (!dialog.open) {
      var open = document.querySelector("dialog[open]");
      if (open) open.close();
      dialog._opener = dialog._searchFrom || null;
      dialog.showModal();
    }
    var heading = document.getElementById("search-heading");
    if (heading) heading.focus();
  });
  document.body.addEventListener("htmx:afterSwap", function (e) {
    // "More": focus stays in the list, on the first of the new results.
    if (!e.detail.target || e.detail.target.id !== "search-more") return;
    var first = dialog && dialog._firstNew ? document.getElementById(dialog._firstNew) : null;
    if (first) { var link = first.querySelector("a"); if (link) link.focus(); }
  });
  document.body.addEventListener("htmx:oobBeforeSwap", function (e) {
    var frag = e.detail.fragment;
    if (!dialog || !frag || !frag.querySelector || !e.detail.target || e.detail.target.id !== "search-results-list") return;
    var li = frag.querySelector("li.search-result");
    dialog._firstNew = li ? li.id : null;
  });

  // --- a message jumped to: in view, highlighted ------------------------------------------
  var around = new URLSearchParams(window.location.search).get("around");
  function highlight(el) {
    el.classList.add("jump-target");
    el.setAttribute("tabindex", "-1");
    // In the middle of the history, which alone scrolls (scrollIntoView would move the page too).
    if (C.history) {
      var box = C.history.getBoundingClientRect(), at = el.getBoundingClientRect();
      C.history.scrollTop += at.top - box.top - Math.max(0, (C.history.clientHeight - at.height) / 2);
    }
    el.focus({ preventScroll: true });
  }
  if (around && C.roomId) {
    var target = document.getElementById("msg-" + around);
    if (target) highlight(target);
  }
  // A result of this room clicked while in it: no reload, when the message is on the page.
  document.addEventListener("click", function (e) {
    var link = e.target.closest && e.target.closest("a[data-result]");
    if (!link || !C.roomId || e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
    var url = new URL(link.href, window.location.href);
    if (url.pathname !== window.location.pathname) return;
    var el = document.getElementById("msg-" + link.dataset.result);
    if (!el) return;
    e.preventDefault();
    if (dialog && dialog.open) { dialog._opener = null; dialog.close(); }
    document.querySelectorAll("li.msg.jump-target").forEach(function (li) { li.classList.remove("jump-target"); });
    highlight(el);
  });

  // --- history after a jump: newer pages, then live again ---------------------------------
  // While #newer is on the page the room's newest messages are not shown; those that arrive
  // live wait for the page that will bring them (in order), instead of leaving a gap.
  document.body.addEventListener("htmx:oobBeforeSwap", function (e) {
    var frag = e.detail.fragment;
    if (!frag || !frag.querySelectorAll || !e.detail.target || e.detail.target.id !== "messages") return;
    if (!document.getElementById("newer")) return;
    frag.querySelectorAll("li.msg[id^=msg-]").forEach(function (li) { li.remove(); });
  });
  // Sending from there goes to the newest messages (the outbox keeps the message; it goes
  // again there with its clientId, stored once).
  C.on("sent", function () {
    if (document.getElementById("newer") && C.roomId) window.location.replace(window.location.pathname);
  });
  // A page of newer messages is history, not news: chatty.js announces nothing while it lands
  // (its observer runs after the swap, so the mark goes only after that).
  document.body.addEventListener("htmx:beforeSwap", function (e) {
    if (e.detail.elt && e.detail.elt.id === "newer") C.app.setAttribute("data-paging", "");
  });
  document.body.addEventListener("htmx:afterSwap", function () {
    if (C.app.hasAttribute("data-paging")) setTimeout(function () { C.app.removeAttribute("data-paging"); }, 0);
  });
  var jumped = !!document.getElementById("newer");
  var daysTimer = null;
  C.onArrived(function (node) {
    if (!jumped || !node.matches("li.msg[data-id]") || node.parentNode !== C.messages) return;
    clearTimeout(daysTimer);
    daysTimer = setTimeout(C.fixDays, 0);   // a page of newer messages: one pass for the days
    if (document.getElementById("newer")) return;
    // The last page is here: the room is live again, and the socket replays what arrived meanwhile.
    jumped = false;
    if (!C.isJoined()) return;              // joining again replays anyway
    var last = 0;
    C.messages.querySelectorAll("li.msg[data-id]").forEach(function (li) { last = Math.max(last, parseInt(li.dataset.id, 10) || 0); });
    var frame = { type: "connectToRoom", chatroomId: C.roomId };
    if (last) frame.afterId = String(last);
    C.send(frame);
  });
})();
