// rooms.js: see chatty.js (window.Chatty) for what it builds on.
(function () {
  "use strict";
  if (!window.Chatty) return;
})();
