// Files (SPEC §10): attach by the button, by pasting into the composer or by dropping on the
// room; each upload is a chip with its progress (XMLHttpRequest to POST /api/chat/upload),
// a remove button and its error; the send carries the uploads' ids (attachmentIds) and waits
// until every upload is done. Attachments themselves are server-rendered (attachments.html).
(function () {
  "use strict";
  var C = window.Chatty;
  var composer = document.getElementById("composer");
  var input = document.getElementById("composer-file");
  var button = document.getElementById("attach-button");
  var list = document.getElementById("file-chips");
  var box = document.getElementById("composer-files");
  if (!C || !C.textarea || !composer || !input || !list || !box) return;
  var token = composer.querySelector("input[name=csrfmiddlewaretoken]");
  var MAX_FILES = 10;           // SPEC §9: at most 10 attachments per message
  var PREVIEW_MAX = 5 * 1024 * 1024;  // local previews of images up to this size
  var items = [];               // {file, el, xhr, id, state: "uploading" | "done" | "error"}
  var sendWhenDone = false;
  button.hidden = false;

  function sizeText(n) {
    var lang = document.documentElement.lang;
    if (n < 1024) return n.toLocaleString(lang) + " B";
    if (n < 1024 * 1024) return (n / 1024).toLocaleString(lang, { maximumFractionDigits: 1 }) + " KB";
    return (n / 1024 / 1024).toLocaleString(lang, { maximumFractionDigits: 1 }) + " MB";
  }
  function refresh() {
    list.hidden = !items.length;
    // An empty text may go with attachments: the browser's own check would stop it first.
    C.textarea.required = !items.length;
  }
  function setState(item, state, text) {
    item.state = state;
    item.el.dataset.state = state;
    var status = item.el.querySelector(".chip-status");
    status.textContent = text || "";
    item.el.querySelector("progress").hidden = state !== "uploading";
    if (state === "error") item.el.setAttribute("aria-invalid", "true");
  }
  function remove(item) {
    if (item.xhr && item.state === "uploading") item.xhr.abort();
    items = items.filter(function (other) { return other !== item; });
    item.el.remove();
    refresh();
    C.textarea.focus();
    maybeSend();
  }
  function chip(file) {
    var li = document.createElement("li");
    li.className = "file-chip";
    li.innerHTML = '<span class="chip-preview" aria-hidden="true"></span><span class="chip-main"><span class="chip-name"></span>'
      + ' <span class="chip-size"></span><progress max="1" value="0"></progress><span class="chip-status" role="status"></span></span>'
      + '<button type="button" class="chip-remove"><span aria-hidden="true">×</span><span class="sr-only"></span></button>';
    li.querySelector(".chip-name").textContent = file.name || "file";
    li.querySelector(".chip-size").textContent = sizeText(file.size);
    li.querySelector(".chip-remove .sr-only").textContent = C.t("removeFile").replace("%(name)s", file.name || "file");
    li.querySelector("progress").setAttribute("aria-label", C.t("uploading") + " " + (file.name || ""));
    if (/^image\//.test(file.type) && file.size <= PREVIEW_MAX && window.FileReader) {
      var reader = new FileReader();
      reader.onload = function () {
        if (typeof reader.result !== "string" || reader.result.indexOf("data:image/") !== 0) return;
        var img = document.createElement("img");
        img.alt = ""; img.src = reader.result;   // a data: URL (the CSP allows data: images, not blob:)
        li.querySelector(".chip-preview").appendChild(img);
      };
      reader.readAsDataURL(file);
    } else {
      li.querySelector(".chip-preview").textContent = "📄";
    }
    return li;
  }
  function upload(item) {
    var file = item.file;
    var maxMb = parseInt(box.dataset.maxMb, 10) || 0;   // 0: the server alone decides
    if (maxMb && file.size > maxMb * 1024 * 1024) {
      setState(item, "error", C.t("fileTooLarge").replace("%(mb)s", maxMb));
      return;
    }
    setState(item, "uploading", C.t("uploading"));
    var xhr = new XMLHttpRequest();
    item.xhr = xhr;
    xhr.open("POST", "/api/chat/upload");
    if (token) xhr.setRequestHeader("X-CSRFToken", token.value);
    xhr.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable) item.el.querySelector("progress").value = e.loaded / e.total;
    });
    xhr.addEventListener("load", function () {
      var body = null;
      try { body = JSON.parse(xhr.responseText); } catch (err) { body = null; }
      if (xhr.status === 201 && body && body.id) {
        item.id = body.id;
        item.el.querySelector("progress").value = 1;
        setState(item, "done", C.t("uploaded"));
      } else if ((xhr.status === 413 || (body && body.error === "too_large")) && !(body && body.detail)) {
        setState(item, "error", C.t("fileTooLarge").replace("%(mb)s", maxMb));
      } else {
        setState(item, "error", (body && body.detail) || C.t("uploadFailed"));
      }
      maybeSend();
    });
    xhr.addEventListener("error", function () { setState(item, "error", C.t("uploadFailed")); maybeSend(); });
    var form = new FormData();
    form.append("file", file, file.name || "file");
    xhr.send(form);
  }
  function addFiles(files) {
    Array.prototype.forEach.call(files || [], function (file) {
      if (items.length >= MAX_FILES) { C.toast(C.t("tooManyFiles")); return; }
      var item = { file: file, el: chip(file), xhr: null, id: null, state: "uploading" };
      item.el.querySelector(".chip-remove").addEventListener("click", function () { remove(item); });
      items.push(item);
      list.appendChild(item.el);
      upload(item);
    });
    refresh();
  }
  function maybeSend() {
    // A send that waited for the uploads goes once they are all done.
    if (!sendWhenDone || items.some(function (i) { return i.state === "uploading"; })) return;
    sendWhenDone = false;
    if (items.some(function (i) { return i.state === "error"; })) return;
    composer.requestSubmit();
  }

  button.addEventListener("click", function () { input.click(); });
  input.addEventListener("change", function () { addFiles(input.files); input.value = ""; });
  C.textarea.addEventListener("paste", function (e) {
    var files = e.clipboardData && e.clipboardData.files;
    if (!files || !files.length) return;   // text: the textarea takes it
    e.preventDefault();
    addFiles(files);
  });
  var room = composer.closest(".room") || composer;
  function hasFiles(e) { return e.dataTransfer && Array.prototype.indexOf.call(e.dataTransfer.types || [], "Files") >= 0; }
  room.addEventListener("dragover", function (e) {
    if (!hasFiles(e)) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = "copy";
    room.classList.add("drop-over");
  });
  room.addEventListener("dragleave", function (e) {
    if (!room.contains(e.relatedTarget)) room.classList.remove("drop-over");
  });
  room.addEventListener("drop", function (e) {
    room.classList.remove("drop-over");
    if (!hasFiles(e)) return;
    e.preventDefault();
    addFiles(e.dataTransfer.files);
  });

  C.allowEmpty(function () { return items.length > 0; });
  C.addExtra(function (extra) {
    if (!items.length) return true;
    if (items.some(function (i) { return i.state === "error"; })) {
      C.toast(C.t("removeFailed"));
      return false;
    }
    if (items.some(function (i) { return i.state === "uploading"; })) {
      sendWhenDone = true;
      C.announce(C.t("sendWhenUploaded"));
      items.forEach(function (i) { if (i.state === "uploading") i.el.querySelector(".chip-status").textContent = C.t("sendWhenUploaded"); });
      return false;
    }
    extra.attachmentIds = items.map(function (i) { return i.id; });
    return true;
  });
  C.on("sent", function (detail) {
    var sent = (detail.extra && detail.extra.attachmentIds) || [];
    items.filter(function (i) { return sent.indexOf(i.id) >= 0; }).forEach(function (i) { i.el.remove(); });
    items = items.filter(function (i) { return sent.indexOf(i.id) < 0; });
    refresh();
  });
})();
