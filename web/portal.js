/* Demo portal page behaviour: buttons marked data-open-chat open the chat widget. */
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
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", bind);
  else bind();
})();
