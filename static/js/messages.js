// The message's own page side (SPEC §9): each message's menu (reply, react, mark unread, edit,
// delete), inline editing, reaction chips, the reply bar, jumping to a quoted message, read
// receipts, the "New messages" line and the grouping of one sender's consecutive messages.
// Built on window.Chatty (chatty.js); every text is set with textContent.
(function () {
  "use strict";
  var C = window.Chatty;
  if (!C || !C.messages || !C.roomId) return;
  var list = C.messages, app = C.app, me = C.me, roomId = C.roomId, t = C.t;
  var EMOJI = ["👍", "❤️", "😂", "😮", "😢", "🙏", "🎉", "👀"];
  var GROUP_MS = 5 * 60 * 1000;
  var LONG_PRESS_MS = 500;
  var FLASH_MS = 2000;

  function fmt(key, values) {
    var s = t(key);
    Object.keys(values).forEach(function (k) { s = s.split("%(" + k + ")s").join(values[k]); });
    return s;
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function button(cls, text, label) {
    var b = el("button", cls, text);
    b.type = "button";
    if (label) b.setAttribute("aria-label", label);
    return b;
  }
  function stored(li) { return li && li.matches && li.matches("li.msg[data-id]") && !li.classList.contains("pending"); }
  function isMine(li) { return !!me && li.dataset.sender === me; }
  function msgById(id) { return document.getElementById("msg-" + id); }
  function excerpt(li) {
    var text = li.querySelector(".text");
    var s = text ? text.textContent.replace(/\s+/g, " ").trim() : "";
    return s.length > 80 ? s.slice(0, 80) + "…" : s;
  }
  function senderName(li) { var s = li.querySelector(".bubble > .sender"); return s ? s.textContent.trim() : ""; }

  // --- the "⋯" button of each message ------------------------------------------------------
  function decorate(li) {
    if (!stored(li) || li.querySelector(":scope > .bubble > .msg-more")) return;
    var bubble = li.querySelector(":scope > .bubble");
    if (!bubble) return;
    var more = button("msg-more", "⋯", t("messageActions"));
    more.setAttribute("aria-haspopup", "menu");
    more.setAttribute("aria-expanded", "false");
    bubble.insertBefore(more, bubble.firstChild);
  }

  // --- the menu: one for the page, opened beside the message it is for -----------------------
  var menu = el("div", "msg-menu");
  menu.id = "msg-menu";
  menu.setAttribute("role", "menu");
  menu.hidden = true;
  app.appendChild(menu);
  var menuFor = null, menuOpener = null;

  function items() { return Array.prototype.slice.call(menu.querySelectorAll("[role=menuitem]")); }
  function menuItem(text, action, cls) {
    var b = button("menu-item" + (cls ? " " + cls : ""), text);
    b.setAttribute("role", "menuitem");
    b.tabIndex = -1;
    b.addEventListener("click", function (e) { e.stopPropagation(); action(); });
    return b;
  }
  function placeMenu(anchor) {
    menu.style.left = "0px"; menu.style.top = "0px";
    var r = anchor.getBoundingClientRect(), m = menu.getBoundingClientRect();
    var left = Math.min(Math.max(8, r.right - m.width), window.innerWidth - m.width - 8);
    var top = r.bottom + 4;
    if (top + m.height > window.innerHeight - 8) top = Math.max(8, r.top - m.height - 4);
    menu.style.left = left + "px"; menu.style.top = top + "px";
  }
  function fill(entries, label) {
    menu.textContent = "";
    menu.setAttribute("aria-label", label);
    menu.classList.toggle("picker", entries.picker === true);
    entries.forEach(function (b) { menu.appendChild(b); });
    var first = items()[0];
    if (first) first.focus();
  }
  function openMenu(li, opener) {
    closeMenu(false);
    menuFor = li; menuOpener = opener || li.querySelector(".msg-more");
    var id = li.dataset.id, entries = [];
    entries.push(menuItem(t("reply"), function () { closeMenu(false); startReply(li); }));
    entries.push(menuItem(t("react"), function () { openPicker(li); }));
    if (isMine(li)) {
      entries.push(menuItem(t("edit"), function () { closeMenu(false); startEdit(li); }));
      entries.push(menuItem(t("delete"), function () { closeMenu(false); askDelete(li); }, "danger"));
    } else {
      entries.push(menuItem(t("markUnread"), function () { closeMenu(true); markUnread(id); }));
    }
    menu.hidden = false;
    li.classList.add("menu-open");
    if (menuOpener) menuOpener.setAttribute("aria-expanded", "true");
    fill(entries, t("messageActions"));
    placeMenu(menuOpener || li);
  }
  function openPicker(li) {
    var entries = EMOJI.map(function (emoji) {
      var b = menuItem(emoji, function () { closeMenu(true); react(li.dataset.id, emoji); }, "emoji");
      b.setAttribute("aria-label", fmt("reactWith", { emoji: emoji }));
      return b;
    });
    entries.picker = true;
    fill(entries, t("pickReaction"));
    placeMenu(menuOpener || li);
  }
  function closeMenu(returnFocus) {
    if (menu.hidden) return;
    menu.hidden = true;
    menu.textContent = "";
    if (menuFor) menuFor.classList.remove("menu-open");
    if (menuOpener) {
      menuOpener.setAttribute("aria-expanded", "false");
      if (returnFocus && menuOpener.isConnected) menuOpener.focus();
    }
    menuFor = null; menuOpener = null;
  }
  menu.addEventListener("keydown", function (e) {
    var all = items(), i = all.indexOf(document.activeElement);
    var horizontal = menu.classList.contains("picker");
    var next = horizontal ? "ArrowRight" : "ArrowDown", prev = horizontal ? "ArrowLeft" : "ArrowUp";
    if (e.key === "Escape") { e.preventDefault(); e.stopPropagation(); closeMenu(true); }
    else if (e.key === next || e.key === "ArrowDown" || e.key === "ArrowRight") { e.preventDefault(); all[(i + 1) % all.length].focus(); }
    else if (e.key === prev || e.key === "ArrowUp" || e.key === "ArrowLeft") { e.preventDefault(); all[(i - 1 + all.length) % all.length].focus(); }
    else if (e.key === "Home") { e.preventDefault(); all[0].focus(); }
    else if (e.key === "End") { e.preventDefault(); all[all.length - 1].focus(); }
    else if (e.key === "Tab") closeMenu(false);
  });
  document.addEventListener("click", function (e) {
    var more = e.target.closest(".msg-more");
    if (more && list.contains(more)) {
      var li = more.closest("li.msg");
      if (menuFor === li) closeMenu(true); else openMenu(li, more);
      return;
    }
    if (!menu.hidden && !menu.contains(e.target)) closeMenu(false);
  });
  window.addEventListener("resize", function () { closeMenu(false); });
  if (C.history) C.history.addEventListener("scroll", function () { closeMenu(false); });

  // A long press on a message (a phone's touch) opens its menu too.
  var press = null;
  list.addEventListener("pointerdown", function (e) {
    if (e.pointerType === "mouse") return;
    var li = e.target.closest("li.msg");
    if (!stored(li) || e.target.closest("button, a, textarea, input")) return;
    var x = e.clientX, y = e.clientY;
    press = { li: li, x: x, y: y, timer: setTimeout(function () { press.fired = true; openMenu(li); }, LONG_PRESS_MS) };
  });
  function cancelPress(e) {
    if (!press) return;
    if (e && e.type === "pointermove" && Math.abs(e.clientX - press.x) < 10 && Math.abs(e.clientY - press.y) < 10) return;
    clearTimeout(press.timer);
    if (!press.fired) { press = null; return; }
    // A long press's click (if any) comes right after: swallowed then forgotten.
    var done = press;
    setTimeout(function () { if (press === done) press = null; }, 400);
  }
  ["pointerup", "pointercancel", "pointermove"].forEach(function (type) { list.addEventListener(type, cancelPress); });
  list.addEventListener("contextmenu", function (e) {
    // The long press's own context menu (and the click after it) give way to ours.
    if (press && press.fired) { e.preventDefault(); }
  });
  // The click that ends a long press lands wherever the finger is (maybe on the menu now open).
  window.addEventListener("click", function (e) {
    if (press && press.fired) { e.preventDefault(); e.stopPropagation(); press = null; }
  }, true);

  // --- mark unread: the room stays unread until its reader comes back ------------------------
  // A socket joined to the room reads what arrives (and reads the room when it closes), so
  // the page leaves the room's live stream first: new messages then count as unread (the
  // badge shows them) and closing the page keeps them so. "Mark as read" (or sending a
  // message) joins again, which brings what came meanwhile and reads it.
  var paused = false;
  var pausedBar = el("div", "unread-paused");
  pausedBar.setAttribute("role", "status");
  pausedBar.hidden = true;
  var pausedText = el("span", "", t("markedUnread"));
  var readAgain = button("small", t("markRead"));
  pausedBar.appendChild(pausedText); pausedBar.appendChild(readAgain);
  if (C.history) C.history.parentNode.insertBefore(pausedBar, C.history.nextSibling);
  function lastStoredId() {
    var max = 0;
    list.querySelectorAll("li.msg[data-id]").forEach(function (li) { max = Math.max(max, parseInt(li.dataset.id, 10) || 0); });
    return max;
  }
  function markUnread(id) {
    if (!paused) C.send({ type: "leaveChatroom", chatroomId: roomId });
    C.send({ type: "markUnread", chatroomId: roomId, messageId: id });
    paused = true;
    pausedBar.hidden = false;
    C.announce(t("markedUnread"));
  }
  function resume() {
    if (!paused) return;
    var frame = { type: "connectToRoom", chatroomId: roomId };
    var after = lastStoredId();
    if (after) frame.afterId = String(after);
    C.send(frame);                  // joinedChatroom ends the pause
  }
  readAgain.addEventListener("click", function () { resume(); if (C.textarea) C.textarea.focus(); });
  C.on("joinedChatroom", function (f) {
    if (f.chatroomId !== roomId) return;
    paused = false;
    pausedBar.hidden = true;
  });
  C.addExtra(function () { resume(); });   // a message sent from here: back in the room first

  // --- reactions ------------------------------------------------------------------------------
  function react(messageId, emoji) { C.send({ type: "react", chatroomId: roomId, messageId: messageId, emoji: emoji }); }
  list.addEventListener("click", function (e) {
    var chip = e.target.closest("button[data-react]");
    if (!chip) return;
    var li = chip.closest("li.msg");
    if (stored(li)) react(li.dataset.id, chip.dataset.react);
  });

  // --- editing in place -------------------------------------------------------------------
  function startEdit(li) {
    if (li.querySelector(".edit-box")) { li.querySelector(".edit-box textarea").focus(); return; }
    var text = li.querySelector(".bubble > .text");
    var source = li.dataset.raw;   // the text as typed (the bubble shows it rendered)
    if (!text) return;
    var box = el("form", "edit-box");
    var area = el("textarea");
    area.value = source !== undefined ? source : text.textContent;
    var original = area.value;
    area.setAttribute("aria-label", t("editMessage"));
    area.rows = 2;
    var save = el("button", "primary small", t("save"));
    save.type = "submit";
    var cancel = button("small", t("cancel"));
    var actions = el("div", "edit-actions");
    actions.appendChild(cancel); actions.appendChild(save);
    box.appendChild(area); box.appendChild(actions);
    text.hidden = true;
    text.parentNode.insertBefore(box, text.nextSibling);
    li.classList.add("editing");
    function stop() {
      box.remove(); text.hidden = false; li.classList.remove("editing");
      var more = li.querySelector(".msg-more");
      if (more) more.focus();
    }
    box.addEventListener("submit", function (e) {
      e.preventDefault();
      var value = area.value;
      if (!value.trim()) { C.toast(t("emptyEdit")); return; }
      if (value === original) { stop(); return; }
      save.disabled = true;
      box.dataset.pending = "true";
      // messageEdited swaps the whole message (this box with it); an error frame gives it back.
      C.send({ type: "editMessage", chatroomId: roomId, messageId: li.dataset.id, message: value });
    });
    cancel.addEventListener("click", stop);
    area.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); box.requestSubmit(); }
      else if (e.key === "Escape") { e.preventDefault(); e.stopPropagation(); stop(); }
    });
    area.focus();
    area.setSelectionRange(area.value.length, area.value.length);
  }
  C.on("error", function (f) {
    if (f.ref !== "editMessage") return;
    list.querySelectorAll(".edit-box[data-pending]").forEach(function (box) {
      delete box.dataset.pending;
      box.querySelector("button[type=submit]").disabled = false;
    });
  });

  // --- deleting, once confirmed -----------------------------------------------------------
  var confirmBox = el("dialog", "confirm-delete");
  confirmBox.id = "delete-dialog";
  confirmBox.setAttribute("aria-labelledby", "delete-dialog-title");
  var confirmTitle = el("h2", "", t("deleteConfirm"));
  confirmTitle.id = "delete-dialog-title";
  var confirmText = el("p", "muted delete-excerpt");
  var confirmActions = el("div", "dialog-actions");
  var keep = button("", t("cancel"));
  var doDelete = button("danger", t("delete"));
  confirmActions.appendChild(keep); confirmActions.appendChild(doDelete);
  confirmBox.appendChild(confirmTitle); confirmBox.appendChild(confirmText); confirmBox.appendChild(confirmActions);
  app.appendChild(confirmBox);
  var toDelete = null;
  function askDelete(li) {
    toDelete = li;
    confirmText.textContent = excerpt(li);
    confirmBox._opener = li.querySelector(".msg-more");
    confirmBox.showModal();
    keep.focus();
  }
  keep.addEventListener("click", function () { confirmBox.close(); });
  doDelete.addEventListener("click", function () {
    if (toDelete) C.send({ type: "deleteMessage", chatroomId: roomId, messageId: toDelete.dataset.id });
    toDelete = null;
    confirmBox._opener = null;
    confirmBox.close();
    if (C.textarea) C.textarea.focus();
  });
  confirmBox.addEventListener("close", function () { if (confirmBox._opener && confirmBox._opener.isConnected) confirmBox._opener.focus(); });

  // --- replying -------------------------------------------------------------------------------
  var bar = document.getElementById("reply-bar");
  var replyTo = null;
  function startReply(li) {
    if (!bar) return;
    replyTo = li.dataset.id;
    bar.querySelector(".reply-what").textContent = "";
    var who = el("strong", "", fmt("replyingTo", { name: senderName(li) }));
    bar.querySelector(".reply-what").appendChild(who);
    bar.querySelector(".reply-what").appendChild(document.createTextNode(" " + excerpt(li)));
    var stick = C.nearBottom();
    bar.hidden = false;
    if (stick) C.toBottom();      // the bar takes room from the history: its end stays in view
    if (C.textarea) C.textarea.focus();
  }
  function stopReply() { replyTo = null; if (bar) bar.hidden = true; }
  if (bar) {
    bar.querySelector(".reply-cancel").addEventListener("click", function () { stopReply(); if (C.textarea) C.textarea.focus(); });
  }
  if (C.textarea) {
    C.textarea.addEventListener("keydown", function (e) { if (e.key === "Escape" && replyTo) { e.preventDefault(); stopReply(); } });
  }
  C.addExtra(function (fields) { if (replyTo) fields.replyToId = replyTo; });
  C.on("sent", function () { stopReply(); });

  // A quoted message: to it, loading older pages until it is on the page.
  var seeking = null;
  function flash(li) {
    li.scrollIntoView({ block: "center" });
    li.classList.add("flash");
    setTimeout(function () { li.classList.remove("flash"); }, FLASH_MS);
    var more = li.querySelector(".msg-more");
    if (more) more.focus({ preventScroll: true });
  }
  function seek() {
    if (!seeking) return;
    var li = msgById(seeking.id);
    if (li) { seeking = null; flash(li); return; }
    var older = document.getElementById("older");
    if (!older || older.classList.contains("start") || ++seeking.pages > 100) {
      seeking = null; C.toast(t("parentGone")); return;
    }
    // The sentinel loads the page before when it scrolls into view (htmx's intersect).
    if (C.history) C.history.scrollTop = 0;
  }
  list.addEventListener("click", function (e) {
    var jump = e.target.closest("a.reply-jump");
    if (!jump) return;
    e.preventDefault();
    seeking = { id: jump.closest("[data-reply-to]").dataset.replyTo, pages: 0 };
    seek();
  });
  document.body.addEventListener("htmx:afterSettle", function () {
    if (seeking) setTimeout(seek, 0);   // after chatty.js kept the scroll position
  });

  // --- where the others read: "Seen", "Seen by N" ------------------------------------------
  var state = {};
  var stateEl = document.getElementById("read-state");
  try { state = JSON.parse((stateEl && stateEl.dataset.state) || "{}") || {}; } catch (err) { state = {}; }
  if (typeof state !== "object") state = {};
  var positions = {};
  Object.keys(state.positions || {}).forEach(function (uid) { positions[uid] = parseInt(state.positions[uid], 10) || 0; });
  var names = state.names || {};
  var group = state.kind === "group";

  function renderReceipts() {
    list.querySelectorAll(".receipt").forEach(function (r) { r.remove(); });
    var mine = Array.prototype.filter.call(list.querySelectorAll("li.msg[data-id]"), function (li) { return stored(li) && isMine(li); });
    for (var i = mine.length - 1; i >= 0; i--) {
      var id = parseInt(mine[i].dataset.id, 10);
      var readers = Object.keys(positions).filter(function (uid) { return positions[uid] >= id; });
      if (!readers.length) continue;
      var p = el("p", "receipt");
      if (group) {
        var who = readers.map(function (uid) { return names[uid] || "?"; }).join(", ");
        p.appendChild(el("span", "", fmt("seenBy", { n: readers.length })));
        p.appendChild(el("span", "sr-only", ": " + who));
        p.title = who;
      } else {
        p.textContent = t("seen");
      }
      mine[i].querySelector(":scope > .bubble").appendChild(p);
      return;
    }
  }
  C.on("readBy", function (f) {
    if (f.chatroomId !== roomId || f.userId === me) return;
    var id = parseInt(f.messageId, 10) || 0;
    if (id > (positions[f.userId] || 0)) { positions[f.userId] = id; schedule(); }
  });

  // This reader's own reads of live messages: told to the server (readBy for the others) while
  // the room is on screen and the tab visible.
  // At most one markRead per READ_EVERY_MS: in a busy group every viewer's read goes to everyone.
  var READ_EVERY_MS = state.kind === "group" ? 1500 : 150;
  var readSent = 0, readTimer = null;
  function newestFromOthers() {
    var max = 0;
    list.querySelectorAll("li.msg[data-id]").forEach(function (li) {
      var id = parseInt(li.dataset.id, 10);
      if (li.dataset.sender !== me && id > max) max = id;
    });
    return max;
  }
  function markRead() {
    if (readTimer) return;            // one is on its way: it reads the newest when it goes
    readTimer = setTimeout(function () {
      readTimer = null;
      if (document.visibilityState !== "visible" || !C.isJoined() || paused) return;
      var id = newestFromOthers();
      if (id > readSent) { readSent = id; C.send({ type: "markRead", chatroomId: roomId, messageId: String(id) }); }
    }, READ_EVERY_MS);
  }
  readSent = newestFromOthers();   // opening the room read these (and told the others)
  document.addEventListener("visibilitychange", markRead);
  C.on("joinedChatroom", markRead);

  // --- "New messages": where this reader was when the room opened ------------------------------
  var lastRead = state.lastRead === undefined ? null : (parseInt(state.lastRead, 10) || 0);
  function placeUnreadLine() {
    if (lastRead === null || list.querySelector(".unread-line")) return;
    var first = Array.prototype.filter.call(list.querySelectorAll("li.msg[data-id]"), function (li) {
      return parseInt(li.dataset.id, 10) > lastRead && li.dataset.sender !== me;
    })[0];
    if (!first) return;
    var line = el("li", "unread-line");
    line.appendChild(el("span", "", t("newMessages")));
    var before = first.previousElementSibling;
    list.insertBefore(line, before && before.matches("li.day") ? before : first);
  }

  // --- one sender's run of messages: one name, one avatar ------------------------------------
  function dayOf(li) { return new Date(parseInt(li.dataset.ts, 10)).toDateString(); }
  function regroup() {
    var prev = null;
    Array.prototype.forEach.call(list.children, function (li) {
      if (!li.matches("li.msg[data-ts][data-sender]")) {
        if (li.matches(".day, .unread-line")) prev = null;
        return;
      }
      var ts = parseInt(li.dataset.ts, 10);
      var joinsRun = !!prev && prev.dataset.sender === li.dataset.sender &&
        ts - parseInt(prev.dataset.ts, 10) < GROUP_MS && dayOf(prev) === dayOf(li);
      li.classList.toggle("grouped", joinsRun);
      prev = li;
    });
  }

  // --- everything that changes the list refreshes what depends on its order ---------------------
  var scheduled = false;
  function refresh() {
    scheduled = false;
    var stick = C.nearBottom();   // a receipt or a line added at the bottom keeps it in view
    list.querySelectorAll("li.msg[data-id]").forEach(decorate);
    placeUnreadLine();
    regroup();
    renderReceipts();
    if (menuFor && !menuFor.isConnected) closeMenu(false);
    if (replyTo && !msgById(replyTo)) stopReply();   // the message being answered was deleted
    if (stick) C.toBottom();
  }
  function schedule() {
    if (scheduled) return;
    scheduled = true;
    Promise.resolve().then(refresh);
  }
  new MutationObserver(function (records) {
    var others = false;
    records.forEach(function (r) {
      r.addedNodes.forEach(function (n) {
        if (n.nodeType === 1 && stored(n) && n.dataset.sender !== me) others = true;
      });
    });
    schedule();
    if (others) markRead();
  }).observe(list, { childList: true });
  C.on("joinedChatroom", function () { setTimeout(schedule, 0); });
  refresh();
  // More unread than fits: the room opens at the line, not at its end.
  var line = list.querySelector(".unread-line");
  if (line && C.history && line.getBoundingClientRect().top < C.history.getBoundingClientRect().top) {
    C.history.scrollTop += line.getBoundingClientRect().top - C.history.getBoundingClientRect().top - 8;
  }
})();
