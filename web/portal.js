/* Demo portal page behaviour: buttons marked data-open-chat open the chat widget; the footer shows the support
 * hotline the page's server configures (window.TTHC_CHAT_CONFIG.hotline, SUPPORT_HOTLINE in settings.py). */
(function () {
  "use strict";

  function bind() {
    var triggers = document.querySelectorAll("[data-open-chat]");
    Array.prototype.forEach.call(triggers, function (trigger) {
      trigger.addEventListener("click", function () {
        var widget = window.TTHCChat && window.TTHCChat.init();
        if (widget) widget.setOpen(true, true);
      });
    });
    var hotline = window.TTHC_CHAT_CONFIG && window.TTHC_CHAT_CONFIG.hotline;
    var lines = document.querySelectorAll("[data-hotline]");
    Array.prototype.forEach.call(lines, function (line) {
      if (!hotline) return;
      line.querySelector("[data-hotline-number]").textContent = hotline;
      line.hidden = false;
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", bind);
  else bind();
})();
