/*
 * Embeddable chat widget for the public-service virtual assistant ("Trợ lý ảo Dịch vụ công").
 *
 * One tag is enough on any portal page:
 *   <script src="https://tro-ly.example.gov.vn/widget.js" data-rasa-url="https://tro-ly.example.gov.vn/rasa" defer></script>
 * The script adds its stylesheet (chat.css, next to widget.js) and its own container (#tthc-chat) to the page.
 *
 * Transport: Rasa's REST channel (POST {rasaUrl}/webhooks/rest/webhook) through RestTransport. A transport is
 * any object with send(text) -> Promise<Array<bot message>> and, optionally, onPush(callback) for messages the
 * server pushes without a question (e.g. replies typed by a staff member through Rasa's socket.io channel);
 * ChatWidget.receive() renders such pushed messages. Network failures are retried with exponential backoff
 * while a status line tells the user the widget is reconnecting.
 *
 * Session: the server issues the conversation's sender id with a session token (POST {rasaUrl}/webhooks/rest/session,
 * kept in localStorage); every REST post carries the token (X-Chat-Session header) and the socket presents it, so
 * nobody who merely learns the sender id can post as it or join its room. A refused token (HTTP 403, e.g. the
 * server's secret changed) starts a new session once.
 *
 * Push path (officers' replies after a handoff): RestTransport also opens a listen-only socket.io connection to
 * Rasa's "socketio" channel ({rasaUrl origin}{rasaUrl path}/socket.io), emits `session_request` with the widget's
 * sender id and session token on every (re)connection and renders `bot_uttered` events. The socket.io client is vendored next to
 * this file (vendor/socket.io.min.js) and injected on demand; if it cannot load, or `push` is false, the widget
 * works as before (REST only). Questions never go over the socket, so REST answers are never pushed twice.
 * Pushed messages carry their server timestamp; the widget keeps the latest as a cursor (localStorage) and, each
 * time its socket joins the room, asks GET {rasaUrl}/webhooks/rest/pushed for the messages pushed after it (e.g. a
 * status-change notification sent while the page was closed), showing each pushed message once.
 *
 * Security rule: bot and user text is never assigned through innerHTML; every node is built with
 * createElement/createTextNode and links are limited to http/https.
 *
 * Configuration (later wins): defaults below, data-* attributes of the <script> tag, data-* attributes of a
 * #tthc-chat container, window.TTHC_CHAT_CONFIG (served by the page's server, web/server.py, as /config.js:
 * the Rasa URL and the support hotline, SUPPORT_HOTLINE in settings.py), then window.TTHC_CHAT_OPTIONS (a portal's
 * own overrides). The hotline has no default here: without one the messages simply do not mention it.
 */
(function (global) {
  "use strict";

  var DEFAULTS = {
    rasaUrl: "http://localhost:5005",
    hotline: "",
    maxLength: 1000,
    timeoutMs: 90000,
    openByDefault: false,
    title: "Trợ lý ảo Dịch vụ công",
    // Reconnection after a dropped connection: first delay, longest delay, and how long to keep trying.
    retryBaseMs: 1000,
    retryMaxDelayMs: 15000,
    retryTotalMs: 180000,
    // Listen for messages pushed through Rasa's socket.io channel (officers' replies).
    push: true
  };
  var SOCKET_IO_CLIENT = "vendor/socket.io.min.js";
  // The <script> element that loaded this file (null when inlined or added by tests).
  var CURRENT_SCRIPT = document.currentScript || null;
  var HISTORY_KEY = "tthc_chat_history_v1";
  var OPEN_KEY = "tthc_chat_open_v1";
  var SENDER_KEY = "tthc_chat_sender_id";
  var TOKEN_KEY = "tthc_chat_session_token";
  var PUSH_CURSOR_KEY = "tthc_chat_push_cursor";
  var MAX_STORED_MESSAGES = 200;
  // Show the character counter only when the user gets close to the limit.
  var COUNTER_THRESHOLD = 0.8;
  var SUGGESTIONS = [
    "Làm giấy khai sinh cần giấy tờ gì?",
    "Thủ tục đăng ký kết hôn",
    "Lệ phí cấp phiếu lý lịch tư pháp"
  ];

  // ---------------------------------------------------------------------------------------------
  // Safe text rendering (exported for tests as TTHCChat.renderText)
  // ---------------------------------------------------------------------------------------------

  // [title](url) | a run of 3+ asterisks, kept as text | **bold** (holding no "*") | bare http(s) URL: masked codes
  // ("H07.02-******-0003", several in one message) stay as written.
  var INLINE_RE = /\[([^\]\n]+)\]\(([^()\s]+)\)|\*{3,}|\*\*([^*\n]+?)\*\*|(https?:\/\/[^\s<>"'()[\]{}]+)/g;
  var BULLET_RE = /^\s*[-•*]\s+(.*)$/;
  var TRAILING_PUNCT_RE = /[.,;:!?…]+$/;

  function el(tag, className) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    return node;
  }

  /** Return a normalised href if `url` is an absolute http(s) URL, else null. */
  function safeHref(url) {
    if (typeof url !== "string") return null;
    var parsed;
    try {
      parsed = new URL(url);
    } catch (e) {
      return null;
    }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return null;
    return parsed.href;
  }

  function makeLink(href, label) {
    var a = el("a");
    a.href = href;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    a.textContent = label;
    return a;
  }

  /** Append `text` to `parent`, turning **bold**, [title](url) and bare URLs into DOM nodes. */
  function appendInline(parent, text, depth) {
    depth = depth || 0;
    var re = new RegExp(INLINE_RE.source, "g");
    var last = 0;
    var m;
    while ((m = re.exec(text)) !== null) {
      if (m.index > last) parent.appendChild(document.createTextNode(text.slice(last, m.index)));
      if (m[1] !== undefined) {
        var href = safeHref(m[2]);
        if (href) {
          parent.appendChild(makeLink(href, m[1]));
        } else {
          parent.appendChild(document.createTextNode(m[0]));
        }
      } else if (m[3] !== undefined) {
        var strong = el("strong");
        if (depth < 2) appendInline(strong, m[3], depth + 1);
        else strong.textContent = m[3];
        parent.appendChild(strong);
      } else if (m[4] === undefined) {
        parent.appendChild(document.createTextNode(m[0]));
      } else {
        var raw = m[4];
        var trail = "";
        var pm = TRAILING_PUNCT_RE.exec(raw);
        if (pm) {
          trail = pm[0];
          raw = raw.slice(0, raw.length - trail.length);
        }
        var bareHref = safeHref(raw);
        if (bareHref) parent.appendChild(makeLink(bareHref, raw));
        else parent.appendChild(document.createTextNode(raw));
        if (trail) parent.appendChild(document.createTextNode(trail));
      }
      last = re.lastIndex;
    }
    if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
  }

  /**
   * Render a chat message as a detached DOM element: paragraphs with line breaks, "- "/"• "
   * bullet lines as <ul>, inline **bold** and http(s) links. Never interprets HTML.
   */
  function renderText(text) {
    var root = el("div", "tthc-msg__body");
    var lines = String(text == null ? "" : text).replace(/\r\n?/g, "\n").split("\n");
    var para = null;
    var list = null;
    for (var i = 0; i < lines.length; i++) {
      var line = lines[i].replace(/\s+$/, "");
      var bullet = BULLET_RE.exec(line);
      if (bullet) {
        para = null;
        if (!list) {
          list = el("ul");
          root.appendChild(list);
        }
        var li = el("li");
        appendInline(li, bullet[1]);
        list.appendChild(li);
        continue;
      }
      list = null;
      if (line.trim() === "") {
        para = null;
        continue;
      }
      if (!para) {
        para = el("p");
        root.appendChild(para);
      } else {
        para.appendChild(el("br"));
      }
      appendInline(para, line);
    }
    return root;
  }

  // ---------------------------------------------------------------------------------------------
  // Storage helpers (storage may be disabled, e.g. in private mode or sandboxed iframes)
  // ---------------------------------------------------------------------------------------------

  function storageGet(storage, key) {
    try {
      return global[storage].getItem(key);
    } catch (e) {
      return null;
    }
  }

  function storageSet(storage, key, value) {
    try {
      global[storage].setItem(key, value);
    } catch (e) {
      /* storage unavailable or full: the chat still works, it just is not persisted */
    }
  }

  function storageRemove(storage, key) {
    try {
      global[storage].removeItem(key);
    } catch (e) {
      /* ignore */
    }
  }

  // The conversation's {sender, token} issued by the server; kept in memory too when storage is unavailable.
  var memorySession = null;

  function storedSession() {
    var sender = storageGet("localStorage", SENDER_KEY);
    var token = storageGet("localStorage", TOKEN_KEY);
    if (sender && token) return { sender: sender, token: token };
    return memorySession;
  }

  function keepSession(session) {
    memorySession = session;
    storageSet("localStorage", SENDER_KEY, session.sender);
    storageSet("localStorage", TOKEN_KEY, session.token);
  }

  function forgetSession() {
    memorySession = null;
    storageRemove("localStorage", SENDER_KEY);
    storageRemove("localStorage", TOKEN_KEY);
    storageRemove("localStorage", PUSH_CURSOR_KEY);
  }

  function formatNumber(n) {
    try {
      return n.toLocaleString("vi-VN");
    } catch (e) {
      return String(n);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Configuration
  // ---------------------------------------------------------------------------------------------

  // " hoặc gọi tổng đài 1800... để được hỗ trợ" when a hotline is configured, else nothing.
  function hotlineHint(hotline, lead) {
    return hotline ? lead + hotline + " để được hỗ trợ" : "";
  }

  function applyDataset(cfg, ds) {
    if (!ds) return;
    if (ds.rasaUrl) cfg.rasaUrl = ds.rasaUrl;
    if (ds.hotline) cfg.hotline = ds.hotline;
    if (ds.title) cfg.title = ds.title;
    if (ds.openByDefault) cfg.openByDefault = ds.openByDefault === "true";
    if (ds.push) cfg.push = ds.push !== "false";
    ["maxLength", "retryBaseMs", "retryMaxDelayMs", "retryTotalMs"].forEach(function (name) {
      if (ds[name] && !isNaN(parseInt(ds[name], 10))) cfg[name] = parseInt(ds[name], 10);
    });
  }

  function applyObject(cfg, obj) {
    if (!obj || typeof obj !== "object") return;
    for (var key in DEFAULTS) {
      if (Object.prototype.hasOwnProperty.call(obj, key) && obj[key] != null) cfg[key] = obj[key];
    }
  }

  function readConfig(container) {
    var cfg = {};
    for (var key in DEFAULTS) cfg[key] = DEFAULTS[key];
    applyDataset(cfg, CURRENT_SCRIPT ? CURRENT_SCRIPT.dataset : null);
    applyDataset(cfg, container ? container.dataset : null);
    applyObject(cfg, global.TTHC_CHAT_CONFIG);
    applyObject(cfg, global.TTHC_CHAT_OPTIONS);
    var opts = global.TTHC_CHAT_OPTIONS;
    if (opts && opts.transport && typeof opts.transport.send === "function") cfg.transport = opts.transport;
    cfg.rasaUrl = String(cfg.rasaUrl).replace(/\/+$/, "");
    return cfg;
  }

  // ---------------------------------------------------------------------------------------------
  // Widget
  // ---------------------------------------------------------------------------------------------

  var SVG_NS = "http://www.w3.org/2000/svg";

  function icon(pathD) {
    var svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "22");
    svg.setAttribute("height", "22");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    var path = document.createElementNS(SVG_NS, "path");
    path.setAttribute("d", pathD);
    path.setAttribute("fill", "currentColor");
    svg.appendChild(path);
    return svg;
  }

  /** A button that shows only an icon: `label` is what screen readers say, `hint` its tooltip. */
  function iconButton(className, type, label, hint, pathD) {
    var button = el("button", className);
    button.type = type;
    button.setAttribute("aria-label", label);
    button.title = hint;
    button.appendChild(icon(pathD));
    return button;
  }

  var ICON_CHAT = "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z";
  var ICON_SEND = "M3 20.5 21 12 3 3.5v6.6l12 1.9-12 1.9z";
  var ICON_CLOSE = "M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12 19 17.6 17.6 19 12 13.4 6.4 19 5 17.6 10.6 12 5 6.4z";
  var ICON_RESET =
    "M12 5V2L7 6l5 4V7a5 5 0 1 1-5 5H5a7 7 0 1 0 7-7z";

  function ChatWidget(container, config) {
    this.container = container;
    this.config = config;
    this.busy = false;
    this.history = this.loadHistory();
    this.transport = config.transport && typeof config.transport.send === "function"
      ? config.transport
      : new RestTransport(config);
    if (typeof this.transport.onPush === "function") this.transport.onPush(this.receive.bind(this));
    this.build();
    this.restore();
    var storedOpen = storageGet("sessionStorage", OPEN_KEY);
    this.setOpen(storedOpen === null ? !!config.openByDefault : storedOpen === "1", false);
  }

  ChatWidget.prototype.build = function () {
    var self = this;
    var c = this.container;
    c.classList.add("tthc-chat");

    var launcher = el("button", "tthc-chat__launcher");
    launcher.type = "button";
    launcher.setAttribute("aria-controls", "tthc-chat-panel");
    launcher.setAttribute("aria-expanded", "false");
    launcher.setAttribute("aria-label", "Mở " + this.config.title);
    launcher.appendChild(icon(ICON_CHAT));
    var launcherText = el("span", "tthc-chat__launcher-text");
    launcherText.textContent = "Hỏi trợ lý ảo";
    launcher.appendChild(launcherText);

    var panel = el("section", "tthc-chat__panel");
    panel.id = "tthc-chat-panel";
    panel.setAttribute("role", "dialog");
    panel.setAttribute("aria-modal", "false");
    panel.setAttribute("aria-labelledby", "tthc-chat-title");
    panel.hidden = true;

    var header = el("header", "tthc-chat__header");
    var avatar = el("div", "tthc-chat__avatar");
    avatar.setAttribute("aria-hidden", "true");
    avatar.textContent = "DVC";
    var titles = el("div", "tthc-chat__titles");
    var title = el("h2", "tthc-chat__title");
    title.id = "tthc-chat-title";
    title.textContent = this.config.title;
    var subtitle = el("p", "tthc-chat__subtitle");
    subtitle.textContent = "Hỗ trợ tra cứu thủ tục hành chính";
    titles.appendChild(title);
    titles.appendChild(subtitle);
    var resetBtn = iconButton("tthc-chat__icon-btn tthc-chat__reset", "button", "Bắt đầu cuộc trò chuyện mới",
      "Bắt đầu cuộc trò chuyện mới", ICON_RESET);
    var closeBtn = iconButton("tthc-chat__icon-btn tthc-chat__close", "button", "Thu nhỏ cửa sổ trò chuyện",
      "Thu nhỏ", ICON_CLOSE);
    header.appendChild(avatar);
    header.appendChild(titles);
    header.appendChild(resetBtn);
    header.appendChild(closeBtn);

    var log = el("div", "tthc-chat__log");
    log.setAttribute("role", "log");
    log.setAttribute("aria-live", "polite");
    log.setAttribute("aria-relevant", "additions");
    log.setAttribute("aria-label", "Nội dung trò chuyện");
    log.tabIndex = 0;

    var typing = el("div", "tthc-chat__typing");
    typing.setAttribute("role", "status");
    typing.hidden = true;
    for (var d = 0; d < 3; d++) {
      var dot = el("span", "tthc-chat__dot");
      dot.setAttribute("aria-hidden", "true");
      typing.appendChild(dot);
    }
    var typingText = el("span", "tthc-chat__typing-text");
    typingText.textContent = "Trợ lý đang trả lời…";
    typing.appendChild(typingText);

    // Connection status (shown while reconnecting); a separate live region so screen readers announce it.
    var conn = el("div", "tthc-chat__conn");
    conn.setAttribute("role", "status");
    conn.setAttribute("aria-live", "polite");
    conn.hidden = true;

    var form = el("form", "tthc-chat__form");
    form.noValidate = true;
    var label = el("label", "tthc-sr-only");
    label.htmlFor = "tthc-chat-input";
    label.textContent = "Nhập câu hỏi của bạn";
    var input = el("textarea", "tthc-chat__input");
    input.id = "tthc-chat-input";
    input.name = "message";
    input.rows = 1;
    input.placeholder = "Nhập câu hỏi của bạn…";
    input.setAttribute("autocomplete", "off");
    input.setAttribute("aria-describedby", "tthc-chat-note");
    var sendBtn = iconButton("tthc-chat__send", "submit", "Gửi câu hỏi", "Gửi (Enter)", ICON_SEND);
    form.appendChild(label);
    form.appendChild(input);
    form.appendChild(sendBtn);

    var note = el("p", "tthc-chat__note");
    note.id = "tthc-chat-note";
    note.setAttribute("aria-live", "polite");

    var footer = el("p", "tthc-chat__disclaimer");
    footer.textContent =
      "Thông tin chỉ mang tính tham khảo. Vui lòng không nhập số CCCD, số điện thoại hay thông tin cá nhân.";

    panel.appendChild(header);
    panel.appendChild(log);
    panel.appendChild(typing);
    panel.appendChild(conn);
    panel.appendChild(form);
    panel.appendChild(note);
    panel.appendChild(footer);
    c.appendChild(panel);
    c.appendChild(launcher);

    this.launcher = launcher;
    this.panel = panel;
    this.log = log;
    this.typing = typing;
    this.conn = conn;
    this.form = form;
    this.input = input;
    this.sendBtn = sendBtn;
    this.note = note;

    launcher.addEventListener("click", function () {
      self.setOpen(true, true);
    });
    closeBtn.addEventListener("click", function () {
      self.setOpen(false, true);
    });
    resetBtn.addEventListener("click", function () {
      self.reset();
    });
    panel.addEventListener("keydown", function (ev) {
      if (ev.key === "Escape") {
        ev.preventDefault();
        self.setOpen(false, true);
      }
    });
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      self.submitInput();
    });
    input.addEventListener("keydown", function (ev) {
      // isComposing: Vietnamese IMEs (Telex/VNI) compose characters; Enter must not send mid-word.
      if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing && ev.keyCode !== 229) {
        ev.preventDefault();
        self.submitInput();
      }
    });
    input.addEventListener("input", function () {
      self.autoResize();
      self.updateNote();
    });
  };

  ChatWidget.prototype.setOpen = function (open, focus) {
    this.panel.hidden = !open;
    this.launcher.hidden = open;
    this.launcher.setAttribute("aria-expanded", open ? "true" : "false");
    this.container.classList.toggle("tthc-chat--open", open);
    storageSet("sessionStorage", OPEN_KEY, open ? "1" : "0");
    if (open) {
      this.scrollToEnd();
      if (focus) this.input.focus();
    } else if (focus) {
      this.launcher.focus();
    }
  };

  ChatWidget.prototype.autoResize = function () {
    var input = this.input;
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight, 140) + "px";
  };

  ChatWidget.prototype.updateNote = function () {
    var len = this.input.value.length;
    var max = this.config.maxLength;
    this.note.classList.remove("tthc-chat__note--warn");
    if (len > max) {
      this.note.textContent =
        "Câu hỏi dài " + formatNumber(len) + " ký tự, vượt quá giới hạn " + formatNumber(max) +
        " ký tự. Bạn vui lòng rút gọn câu hỏi giúp trợ lý nhé.";
      this.note.classList.add("tthc-chat__note--warn");
    } else if (len >= max * COUNTER_THRESHOLD) {
      this.note.textContent = formatNumber(len) + "/" + formatNumber(max) + " ký tự";
    } else {
      this.note.textContent = "";
    }
  };

  ChatWidget.prototype.scrollToEnd = function () {
    this.log.scrollTop = this.log.scrollHeight;
  };

  // --- history -------------------------------------------------------------------------------

  ChatWidget.prototype.loadHistory = function () {
    var raw = storageGet("localStorage", HISTORY_KEY);
    if (!raw) return [];
    try {
      var data = JSON.parse(raw);
      return Array.isArray(data) ? data : [];
    } catch (e) {
      return [];
    }
  };

  ChatWidget.prototype.saveHistory = function () {
    if (this.history.length > MAX_STORED_MESSAGES) {
      this.history = this.history.slice(this.history.length - MAX_STORED_MESSAGES);
    }
    // Keys starting with "_" hold DOM references and must not be persisted.
    var json = JSON.stringify(this.history, function (key, value) {
      return key.charAt(0) === "_" ? undefined : value;
    });
    storageSet("localStorage", HISTORY_KEY, json);
  };

  ChatWidget.prototype.restore = function () {
    // The welcome bubble is not part of the stored history; it always opens the log.
    this.renderWelcome();
    for (var i = 0; i < this.history.length; i++) this.renderEntry(this.history[i]);
  };

  ChatWidget.prototype.reset = function () {
    this.history = [];
    storageRemove("localStorage", HISTORY_KEY);
    // A new session (sender id) makes Rasa start a fresh tracker for the new conversation.
    forgetSession();
    if (typeof this.transport.senderChanged === "function") this.transport.senderChanged();
    while (this.log.firstChild) this.log.removeChild(this.log.firstChild);
    this.renderWelcome();
    this.input.focus();
  };

  // --- rendering -----------------------------------------------------------------------------

  ChatWidget.prototype.bubble = function (role, extraClass) {
    var wrap = el("div", "tthc-msg tthc-msg--" + role + (extraClass ? " " + extraClass : ""));
    var who = el("span", "tthc-sr-only");
    who.textContent = role === "user" ? "Bạn: " : "Trợ lý: ";
    wrap.appendChild(who);
    this.log.appendChild(wrap);
    return wrap;
  };

  ChatWidget.prototype.renderWelcome = function () {
    var self = this;
    var wrap = this.bubble("bot", "tthc-msg--local tthc-msg--welcome");
    wrap.appendChild(
      renderText(
        "Xin chào! Tôi là **" + this.config.title + "**.\n" +
          "Bạn có thể hỏi tôi về hồ sơ cần chuẩn bị, lệ phí, thời hạn giải quyết và nơi nộp " +
          "của các thủ tục hành chính."
      )
    );
    var group = el("div", "tthc-chat__suggestions");
    group.setAttribute("role", "group");
    group.setAttribute("aria-label", "Câu hỏi gợi ý");
    SUGGESTIONS.forEach(function (q) {
      var b = el("button", "tthc-chat__chip");
      b.type = "button";
      b.textContent = q;
      b.addEventListener("click", function () {
        if (self.busy) return;
        self.send(q, q, null);
      });
      group.appendChild(b);
    });
    wrap.appendChild(group);
  };

  /** Render one stored history entry ({role, text?, image?, buttons?, used?, failed?}). */
  ChatWidget.prototype.renderEntry = function (entry) {
    var self = this;
    if (entry.role === "user") {
      var u = this.bubble("user", entry.failed ? "tthc-msg--failed" : "");
      u.appendChild(renderText(entry.text));
      if (entry.failed) {
        var fail = el("span", "tthc-msg__status");
        fail.textContent = "Chưa gửi được";
        u.appendChild(fail);
      }
      entry._node = u;
      return u;
    }
    var b = this.bubble("bot");
    if (typeof entry.text === "string" && entry.text !== "") b.appendChild(renderText(entry.text));
    var imgSrc = safeHref(entry.image);
    if (imgSrc) {
      var img = el("img", "tthc-msg__image");
      img.src = imgSrc;
      img.alt = "Hình ảnh do trợ lý gửi";
      img.loading = "lazy";
      img.referrerPolicy = "no-referrer";
      b.appendChild(img);
    }
    if (Array.isArray(entry.buttons) && entry.buttons.length) {
      var group = el("div", "tthc-msg__buttons");
      group.setAttribute("role", "group");
      group.setAttribute("aria-label", "Lựa chọn trả lời");
      entry.buttons.forEach(function (btn, idx) {
        var title = btn && btn.title != null ? String(btn.title) : "";
        var payload = btn && btn.payload != null ? String(btn.payload) : title;
        if (!title && !payload) return;
        var button = el("button", "tthc-msg__button");
        button.type = "button";
        button.textContent = title || payload;
        if (entry.used) {
          button.disabled = true;
          if (entry.chosen === idx) button.classList.add("tthc-msg__button--chosen");
        }
        button.addEventListener("click", function () {
          if (self.busy || entry.used) return;
          entry.used = true;
          entry.chosen = idx;
          Array.prototype.forEach.call(group.querySelectorAll("button"), function (other) {
            other.disabled = true;
          });
          button.classList.add("tthc-msg__button--chosen");
          self.saveHistory();
          self.send(payload, title || payload, null);
        });
        group.appendChild(button);
      });
      b.appendChild(group);
    }
    return b;
  };

  ChatWidget.prototype.addEntry = function (entry) {
    this.history.push(entry);
    this.saveHistory();
    var node = this.renderEntry(entry);
    this.scrollToEnd();
    return node;
  };

  ChatWidget.prototype.showError = function (retry) {
    var self = this;
    var wrap = this.bubble("bot", "tthc-msg--local tthc-msg--error");
    wrap.setAttribute("role", "alert");
    wrap.appendChild(
      renderText(
        "Xin lỗi, hiện không kết nối được với trợ lý. Bạn vui lòng thử lại sau ít phút" +
          hotlineHint(this.config.hotline, " hoặc gọi tổng đài ") + "."
      )
    );
    var again = el("button", "tthc-msg__button tthc-msg__retry");
    again.type = "button";
    again.textContent = "Gửi lại";
    again.addEventListener("click", function () {
      if (self.busy) return;
      if (wrap.parentNode) wrap.parentNode.removeChild(wrap);
      retry();
    });
    wrap.appendChild(again);
    this.scrollToEnd();
  };

  ChatWidget.prototype.setBusy = function (busy) {
    this.busy = busy;
    this.typing.hidden = !busy;
    this.sendBtn.disabled = busy;
    this.log.setAttribute("aria-busy", busy ? "true" : "false");
    if (busy) this.scrollToEnd();
  };

  // --- sending -------------------------------------------------------------------------------

  ChatWidget.prototype.submitInput = function () {
    if (this.busy) return;
    var text = this.input.value.trim();
    if (!text) return;
    if (text.length > this.config.maxLength) {
      this.updateNote();
      this.input.focus();
      return;
    }
    this.input.value = "";
    this.autoResize();
    this.updateNote();
    this.send(text, text, text);
  };

  /**
   * Send `message` to Rasa, showing `display` as the user's bubble. `typed` is the text the user
   * typed (restored into the input if sending fails), or null for button/suggestion clicks.
   */
  ChatWidget.prototype.send = function (message, display, typed, existingEntry) {
    var self = this;
    var entry = existingEntry;
    if (!entry) {
      entry = { role: "user", text: display };
      this.addEntry(entry);
    }
    this.setBusy(true);
    return this.sendWithRetry(message)
      .then(function (responses) {
        if (entry.failed) {
          entry.failed = false;
          if (entry._node) {
            entry._node.classList.remove("tthc-msg--failed");
            var status = entry._node.querySelector(".tthc-msg__status");
            if (status) status.parentNode.removeChild(status);
          }
          self.saveHistory();
        }
        self.setBusy(false);
        self.renderResponses(responses);
      })
      .catch(function () {
        self.setBusy(false);
        if (!entry.failed) {
          entry.failed = true;
          if (entry._node) {
            entry._node.classList.add("tthc-msg--failed");
            var status = el("span", "tthc-msg__status");
            status.textContent = "Chưa gửi được";
            entry._node.appendChild(status);
          }
          self.saveHistory();
        }
        // Keep the user's text: put it back into the input unless they already typed something new.
        if (typed && !self.input.value) {
          self.input.value = typed;
          self.autoResize();
          self.updateNote();
        }
        self.showError(function () {
          if (typed && self.input.value === typed) {
            self.input.value = "";
            self.autoResize();
            self.updateNote();
          }
          self.send(message, display, typed, entry);
        });
      });
  };

  /** Show the connection state: "retrying" (with attempt number), "restored" (briefly), or null (hidden). */
  ChatWidget.prototype.setConnection = function (state, attempt, delayMs) {
    var conn = this.conn;
    clearTimeout(this.connTimer);
    conn.classList.toggle("tthc-chat__conn--ok", state === "restored");
    if (state === "retrying") {
      conn.textContent =
        "Mất kết nối tới trợ lý. Đang thử kết nối lại sau " + Math.max(1, Math.round(delayMs / 1000)) +
        " giây (lần " + attempt + ")…";
      conn.hidden = false;
    } else if (state === "restored") {
      conn.textContent = "Đã kết nối lại với trợ lý.";
      conn.hidden = false;
      this.connTimer = setTimeout(function () {
        conn.hidden = true;
        conn.textContent = "";
      }, 4000);
    } else {
      conn.hidden = true;
      conn.textContent = "";
    }
  };

  /** The JSON body of a fetch() response; an HTTP error status rejects with an Error carrying `status`. */
  function jsonOrHttpError(res) {
    if (!res.ok) {
      var httpError = new Error("HTTP " + res.status);
      httpError.status = res.status;
      throw httpError;
    }
    return res.json();
  }

  function isRetryable(err) {
    // fetch() rejects with a TypeError when the server cannot be reached; 502/503/504 come from proxies
    // while the server restarts. A timeout (AbortError) or another HTTP error is not retried: the server
    // may have processed the message already.
    if (!err) return false;
    if (err.name === "TypeError") return true;
    return err.status === 502 || err.status === 503 || err.status === 504;
  }

  /** Send through the transport, retrying network failures with exponential backoff and a visible status. */
  ChatWidget.prototype.sendWithRetry = function (message) {
    var self = this;
    var cfg = this.config;
    var started = Date.now();
    var attempt = 0;
    function tryOnce() {
      return self.transport.send(message).then(
        function (responses) {
          if (attempt > 0) self.setConnection("restored");
          return responses;
        },
        function (err) {
          var delay = Math.min(cfg.retryBaseMs * Math.pow(2, attempt), cfg.retryMaxDelayMs);
          if (!isRetryable(err) || Date.now() - started + delay > cfg.retryTotalMs) {
            self.setConnection(null);
            throw err;
          }
          attempt += 1;
          self.setConnection("retrying", attempt, delay);
          return new Promise(function (resolve) {
            setTimeout(resolve, delay);
          }).then(tryOnce);
        }
      );
    }
    return tryOnce();
  };

  /** Render bot messages the server pushed without a question (e.g. a staff member's reply). */
  ChatWidget.prototype.receive = function (messages) {
    this.renderResponses(Array.isArray(messages) ? messages : [messages], true);
  };

  // ---------------------------------------------------------------------------------------------
  // Transport: Rasa REST channel
  // ---------------------------------------------------------------------------------------------

  function RestTransport(config) {
    this.config = config;
    this.socket = null;
    this.pushCallback = null;
    // "off" | "connecting" | "joined" (Rasa confirmed the room) | "disconnected" | "unavailable" (no client).
    this.pushState = "off";
    this.seenPushes = {}; // server timestamps of the pushed messages shown by this page
  }

  /**
   * Whether the pushed message stamped `stamp` (server time) is shown for the first time: records it and moves the
   * stored cursor forward. Messages without a stamp are always shown.
   */
  RestTransport.prototype.firstSight = function (stamp) {
    if (typeof stamp !== "number" || !isFinite(stamp)) return true;
    var key = String(stamp);
    if (this.seenPushes[key]) return false;
    this.seenPushes[key] = true;
    this.moveCursor(stamp);
    return true;
  };

  RestTransport.prototype.moveCursor = function (stamp) {
    var cursor = parseFloat(storageGet("localStorage", PUSH_CURSOR_KEY));
    if (!(cursor >= stamp)) storageSet("localStorage", PUSH_CURSOR_KEY, String(stamp));
  };

  /**
   * Fetch and show the messages pushed after the stored cursor (sent while this page was closed or its socket
   * disconnected). The first time, with no cursor, the server only sets one. Best effort: a failure waits for the
   * next (re)connection.
   */
  RestTransport.prototype.catchUp = function () {
    var self = this;
    var callback = this.pushCallback;
    if (!callback) return;
    this.session().then(function (session) {
      var after = storageGet("localStorage", PUSH_CURSOR_KEY);
      var url = self.config.rasaUrl + "/webhooks/rest/pushed?sender=" + encodeURIComponent(session.sender) +
        (after ? "&after=" + encodeURIComponent(after) : "");
      return fetch(url, {
        method: "GET",
        headers: { Accept: "application/json", "X-Sender-Id": session.sender, "X-Chat-Session": session.token },
        mode: "cors",
        credentials: "omit"
      });
    }).then(function (res) {
      return res.ok ? res.json() : null;
    }).then(function (data) {
      if (!data || !Array.isArray(data.messages)) return;
      var fresh = [];
      data.messages.forEach(function (m) {
        var msg = m && self.firstSight(m.timestamp) ? fromSocketMessage(m) : null;
        if (msg) fresh.push(msg);
      });
      if (typeof data.cursor === "number" && isFinite(data.cursor)) self.moveCursor(data.cursor);
      if (fresh.length) callback(fresh);
    }).catch(function () { /* the next (re)connection asks again */ });
  };

  /**
   * Load the vendored socket.io client (next to widget.js) once; resolves with `io` or null when unavailable.
   * A page that already has a compatible `window.io` (socket.io-client 3.x/4.x) is used as is.
   */
  var socketClientPromise = null;
  function loadSocketClient() {
    if (socketClientPromise) return socketClientPromise;
    socketClientPromise = new Promise(function (resolve) {
      if (typeof global.io === "function") return resolve(global.io);
      var src = CURRENT_SCRIPT && CURRENT_SCRIPT.src;
      if (!src) return resolve(null);
      var tag = document.createElement("script");
      tag.src = new URL(SOCKET_IO_CLIENT, src).href;
      tag.async = true;
      tag.setAttribute("data-tthc-chat-socketio", "");
      tag.onload = function () {
        resolve(typeof global.io === "function" ? global.io : null);
      };
      tag.onerror = function () {
        resolve(null);
      };
      (document.head || document.documentElement).appendChild(tag);
    });
    return socketClientPromise;
  }

  /** Convert a socket.io `bot_uttered` payload (SocketIOOutput's shape) to the REST channel's shape. */
  function fromSocketMessage(data) {
    if (!data || typeof data !== "object") return null;
    var msg = {};
    if (typeof data.text === "string") msg.text = data.text;
    var replies = Array.isArray(data.quick_replies) ? data.quick_replies : data.buttons;
    if (Array.isArray(replies) && replies.length) {
      msg.buttons = replies.map(function (b) {
        return { title: b && b.title, payload: b && b.payload };
      });
    }
    var att = data.attachment;
    if (att && att.type === "image" && att.payload && typeof att.payload.src === "string") msg.image = att.payload.src;
    else if (typeof data.image === "string") msg.image = data.image;
    return msg;
  }

  /**
   * Register `callback` for bot messages pushed on Rasa's socket.io channel (each one in REST shape). The socket
   * is opened only for a visitor who has a conversation: now if one is stored, otherwise with the first message.
   */
  RestTransport.prototype.onPush = function (callback) {
    this.pushCallback = callback;
    if (storageGet("localStorage", HISTORY_KEY)) this.listen();
  };

  /**
   * The conversation's session {sender, token}: the stored one, or a new one issued by the server
   * (POST {rasaUrl}/webhooks/rest/session). Concurrent callers share one request.
   */
  RestTransport.prototype.session = function () {
    var stored = storedSession();
    if (stored) return Promise.resolve(stored);
    if (this.pendingSession) return this.pendingSession;
    var self = this;
    this.pendingSession = fetch(this.config.rasaUrl + "/webhooks/rest/session", {
      method: "POST",
      headers: { Accept: "application/json" },
      mode: "cors",
      credentials: "omit"
    })
      .then(jsonOrHttpError)
      .then(function (data) {
        if (!data || typeof data.sender !== "string" || typeof data.session_token !== "string") {
          throw new Error("Unexpected session shape");
        }
        var session = { sender: data.sender, token: data.session_token };
        keepSession(session);
        return session;
      })
      .finally(function () {
        self.pendingSession = null;
      });
    return this.pendingSession;
  };

  /** Open the listen-only socket.io connection once (no-op without a push callback or with `push: false`). */
  RestTransport.prototype.listen = function () {
    var self = this;
    var callback = this.pushCallback;
    if (!callback || !this.config.push || this.listening) return;
    this.listening = true;
    var base;
    try {
      base = new URL(this.config.rasaUrl, global.location.href);
    } catch (e) {
      this.pushState = "unavailable";
      return;
    }
    this.pushState = "connecting";
    Promise.all([loadSocketClient(), this.session()]).then(function (loaded) {
      var io = loaded[0];
      if (!io) self.pushState = "unavailable";
      if (!io || self.socket) return;
      var socket;
      try {
        socket = io(base.origin, {
          path: base.pathname.replace(/\/+$/, "") + "/socket.io",
          // The sender id lets a load balancer keep this socket on the conversation's replica (deploy/nginx).
          query: { sender: loaded[1].sender },
          withCredentials: false
        });
      } catch (e) {
        self.pushState = "unavailable";
        return; /* push is optional: REST keeps working */
      }
      self.socket = socket;
      socket.on("session_confirm", function () {
        self.pushState = "joined";
        self.catchUp();
      });
      socket.on("session_refused", function () {
        self.pushState = "refused";
      });
      socket.on("disconnect", function () {
        self.pushState = "disconnected";
      });
      // "connect" fires after every (re)connection: each new socket joins the conversation's room again,
      // proving it holds the conversation's session token.
      socket.on("connect", function () {
        self.session().then(function (session) {
          socket.emit("session_request", { session_id: session.sender, session_token: session.token });
        }, function () {
          self.pushState = "disconnected";
        });
      });
      socket.on("bot_uttered", function (data) {
        var msg = data && self.firstSight(data.timestamp) ? fromSocketMessage(data) : null;
        if (msg) callback([msg]);
      });
    }, function () {
      // No session yet (server unreachable): listen again with the next message.
      self.listening = false;
      self.pushState = "off";
    });
  };

  /** The session changed (new conversation): reconnect so the socket leaves the old conversation's room. */
  RestTransport.prototype.senderChanged = function () {
    var self = this;
    if (!this.socket) return;
    this.session().then(function (session) {
      if (self.socket.io && self.socket.io.opts) self.socket.io.opts.query = { sender: session.sender };
      self.socket.disconnect().connect();
    });
  };

  RestTransport.prototype.send = function (message) {
    var self = this;
    return this.session().then(function (session) {
      self.listen();
      return self.post(message, session).catch(function (err) {
        if (!err || err.status !== 403) throw err;
        // The server no longer accepts this session (its secret changed): start a new one, once.
        forgetSession();
        return self.session().then(function (fresh) {
          self.senderChanged();
          return self.post(message, fresh);
        });
      });
    });
  };

  /** POST one message of `session` to Rasa's REST channel; resolves with the bot messages. */
  RestTransport.prototype.post = function (message, session) {
    var url = this.config.rasaUrl + "/webhooks/rest/webhook";
    var sender = session.sender;
    var body = JSON.stringify({
      sender: sender,
      message: message,
      metadata: { channel: "web" }
    });
    var controller = typeof AbortController === "function" ? new AbortController() : null;
    var timer = controller
      ? setTimeout(function () {
        controller.abort();
      }, this.config.timeoutMs)
      : null;
    return fetch(url, {
      method: "POST",
      // X-Sender-Id: the load balancer of the scaled profile keeps a conversation on one Rasa replica with it.
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-Sender-Id": sender,
        "X-Chat-Session": session.token
      },
      body: body,
      mode: "cors",
      credentials: "omit",
      signal: controller ? controller.signal : undefined
    })
      .then(jsonOrHttpError)
      .then(function (data) {
        if (!Array.isArray(data)) throw new Error("Unexpected response shape");
        return data;
      })
      .finally(function () {
        if (timer) clearTimeout(timer);
      });
  };

  ChatWidget.prototype.renderResponses = function (responses, pushed) {
    var rendered = 0;
    for (var i = 0; i < responses.length; i++) {
      var r = responses[i] || {};
      var entry = { role: "bot" };
      if (typeof r.text === "string" && r.text.trim() !== "") entry.text = r.text;
      else if (r.custom && typeof r.custom.text === "string") entry.text = r.custom.text;
      if (typeof r.image === "string" && safeHref(r.image)) entry.image = r.image;
      if (Array.isArray(r.buttons) && r.buttons.length) {
        entry.buttons = r.buttons.map(function (b) {
          return { title: b && b.title, payload: b && b.payload };
        });
      }
      if (entry.text || entry.image || entry.buttons) {
        this.addEntry(entry);
        rendered++;
      }
    }
    if (rendered === 0 && !pushed) {
      this.addEntry({
        role: "bot",
        text: "Xin lỗi, tôi chưa có câu trả lời cho câu hỏi này. Bạn có thể diễn đạt lại" +
          (hotlineHint(this.config.hotline, ", hoặc gọi tổng đài ") || " câu hỏi") + "."
      });
    }
  };

  // ---------------------------------------------------------------------------------------------
  // Bootstrapping
  // ---------------------------------------------------------------------------------------------

  /** Add chat.css (next to this script) unless the page already links it. */
  function ensureStylesheet() {
    if (document.querySelector("link[data-tthc-chat-css], link[href$='chat.css']")) return;
    var src = CURRENT_SCRIPT && CURRENT_SCRIPT.src;
    if (!src) return;
    var link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = new URL("chat.css", src).href;
    link.setAttribute("data-tthc-chat-css", "");
    document.head.appendChild(link);
  }

  function init(container) {
    var target = container || document.getElementById("tthc-chat");
    if (!target && !container && CURRENT_SCRIPT) {
      // Embedded with a single <script> tag: create our own container at the end of <body>.
      target = document.createElement("div");
      target.id = "tthc-chat";
      document.body.appendChild(target);
    }
    if (!target || target.__tthcChat) return target ? target.__tthcChat : null;
    ensureStylesheet();
    var widget = new ChatWidget(target, readConfig(target));
    target.__tthcChat = widget;
    return widget;
  }

  global.TTHCChat = {
    renderText: renderText,
    safeHref: safeHref,
    init: init,
    RestTransport: RestTransport
  };

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () {
      init();
    });
  } else {
    init();
  }
})(window);
