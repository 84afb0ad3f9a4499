/* Help-desk console: login, forced password change, search and procedure pages, handoff inbox (polled every
   few seconds), application status lookups and changes with the notifications' delivery log, feedback reports (status changes with a note), the
   review queue of questions the bot did not serve well (officers propose, supervisors approve) and the
   supervisor's analytics (charts drawn as inline SVG).
   All text goes into the page through textContent (never as HTML). */
(function () {
  "use strict";

  var state = { csrf: "", user: null, timer: null, seq: 0, poll: null, ticket: null, ticketReplies: 0, report: null,
    application: null, statuses: [], review: null, reviewGroup: null, reviewCode: null, reviewDrafts: {},
    reviewSeq: 0 };
  var POLL_MS = 4000;
  var SVG_NS = "http://www.w3.org/2000/svg";
  var OUTCOMES = [
    { key: "answered", label: "Trợ lý tự trả lời", color: "#2f855a" },
    { key: "handed_off", label: "Chuyển cán bộ", color: "#a3111f" },
    { key: "abstained", label: "Không trả lời được", color: "#f4c430" }
  ];
  var FIELD_LABELS = {
    code: "Mã thủ tục", name: "Tên thủ tục", field: "Lĩnh vực", levels: "Cấp thực hiện", type: "Loại thủ tục",
    decision: "Quyết định công bố", agencies: "Cơ quan", submit_address: "Địa chỉ tiếp nhận",
    applicants: "Đối tượng thực hiện", channels: "Cách thức thực hiện", documents: "Thành phần hồ sơ",
    steps: "Trình tự thực hiện", legal_basis: "Căn cứ pháp lý", conditions: "Điều kiện", result: "Kết quả",
    results: "Giấy tờ kết quả", result_note: "Ghi chú kết quả", related: "Thủ tục liên quan", url: "Đường dẫn",
    ministry: "Bộ, ngành", description: "Mô tả", aliases: "Cách gọi khác"
  };

  // The status-change notifications' delivery log: channels, outcomes, outbox states and the worker's reasons.
  var CHANNEL_LABELS = { zalo: "Zalo", socketio: "Trò chuyện trên web", rest: "Trò chuyện trên web (REST)" };
  var ROUTE_LABELS = { cs: "tin nhắn tư vấn", template: "tin nhắn mẫu" };
  var OUTCOME_LABELS = {
    sent: "Đã gửi", retry: "Lỗi, sẽ gửi lại", failed: "Không gửi được (đã dừng)", held: "Tạm hoãn",
    cancelled: "Đã hủy (người dân hủy đăng ký)",
    reconciled: "Đã gửi (xác nhận với kênh sau khi lần gửi bị ngắt, không gửi lại)",
    interrupted: "Lần gửi bị ngắt giữa chừng, gửi lại"
  };
  var OUTBOX_LABELS = [["pending", "Đang chờ gửi"], ["sending", "Đang gửi"], ["sent", "Đã gửi"],
    ["failed", "Không gửi được"]];
  var REASON_LABELS = {
    "quiet hours": "Giờ nghỉ (21:00–7:00), gửi lại vào buổi sáng", "rate limit": "Vượt giới hạn số thông báo mỗi giờ",
    unsubscribed: "Người dân đã hủy đăng ký",
    "interrupted attempt not delivered (checked with the channel)": "Kênh xác nhận tin chưa đến, gửi lại",
    "interrupted attempt: the channel cannot tell whether it arrived; sent again":
      "Kênh không cho biết tin đã đến chưa, gửi lại (có thể trùng)"
  };

  // The review queue (core/review): why a question is there, where it stands, what was proposed.
  var REVIEW_REASONS = {
    fallback: "Trợ lý không hiểu câu hỏi", abstained: "Trợ lý không đủ tin cậy để trả lời",
    handed_off: "Người dân chuyển sang gặp cán bộ", low_rating: "Người dân chấm 1–2 sao sau câu trả lời",
    low_confidence: "Trợ lý đã trả lời nhưng độ tin cậy thấp"
  };
  var REVIEW_STATUSES = { open: "Chưa xử lý", proposed: "Chờ duyệt", approved: "Đã duyệt", rejected: "Đã từ chối" };
  var REVIEW_KINDS = { link: "Liên kết với thủ tục", out_of_scope: "Ngoài phạm vi",
    faq: "Cần câu hỏi thường gặp mới" };
  var DECISION_STATES = { pending: "chờ giám sát viên duyệt", approved: "đã duyệt", rejected: "đã từ chối",
    replaced: "đã thay bằng đề xuất khác" };

  function $(id) { return document.getElementById(id); }

  function el(tag, text, className) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    if (className) { node.className = className; }
    return node;
  }

  function clear(node) { while (node.firstChild) { node.removeChild(node.firstChild); } }

  // One row of a clickable result list (search hits, tickets, reports, review groups): appends
  // <li><button class="cs-result">text</button></li> to the list and returns the button for its details.
  function resultButton(list, text, onClick) {
    var item = el("li");
    var button = el("button", text, "cs-result");
    button.type = "button";
    if (onClick) { button.addEventListener("click", onClick); }
    item.appendChild(button);
    list.appendChild(item);
    return button;
  }

  function show(message, isError) {
    var box = $("message");
    box.textContent = message || "";
    box.hidden = !message;
    box.classList.toggle("cs-error", !!isError);
  }

  function api(method, path, body) {
    var headers = { "Accept": "application/json" };
    if (method !== "GET") {
      headers["Content-Type"] = "application/json";
      headers["X-CSRF-Token"] = state.csrf;
    }
    return fetch(path, {
      method: method, headers: headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (response.status === 401 && path !== "/api/login") { view("login"); }
        if (!response.ok) {
          var error = new Error(data.message || "Có lỗi xảy ra, hãy thử lại.");
          error.status = response.status;
          error.code = data.error;
          throw error;
        }
        return data;
      });
    }, function () {
      throw new Error("Không kết nối được tới máy chủ.");
    });
  }

  function view(name) {
    ["login", "password", "search", "inbox", "status", "feedback", "review", "analytics"].forEach(function (v) {
      $(v + "-view").hidden = name !== v;
    });
    var inApp = ["search", "inbox", "status", "feedback", "review", "analytics"].indexOf(name) >= 0;
    $("nav").hidden = !inApp;
    Array.prototype.forEach.call(document.querySelectorAll(".cs-tab"), function (tab) {
      if (tab.getAttribute("data-view") === name) { tab.setAttribute("aria-current", "page"); }
      else { tab.removeAttribute("aria-current"); }
    });
    $("user-box").hidden = name === "login";
    clearInterval(state.poll);
    state.poll = null;
    if (inApp) {
      refreshInbox();  // also keeps the badge on the tab up to date
      state.poll = setInterval(refreshInbox, POLL_MS);
    }
    if (name === "analytics") { loadAnalytics(); }
    if (name === "feedback") { loadReports(); }
    if (name === "review") { loadReview(); }
    if (name === "status") { loadDeliveries(); }
    if (name === "login") {
      state.user = null;
      state.csrf = "";
      state.review = null;
      state.reviewDrafts = {};
      $("review-item").hidden = true;
    }
  }

  function enter(data) {
    state.user = data.user;
    state.csrf = data.csrf_token;
    $("user-name").textContent = data.user.name + " (" +
      (data.user.role === "supervisor" ? "giám sát viên" : "cán bộ") + ")";
    if (data.user.must_change_password) {
      view("password");
      return;
    }
    $("tab-analytics").hidden = data.user.role !== "supervisor";
    view("search");
    loadFacets();
    $("search-q").focus();
  }

  function fillSelect(select, values) {
    var first = select.options[0];
    clear(select);
    select.appendChild(first);
    values.forEach(function (value) {
      var option = el("option", value);
      option.value = value;
      select.appendChild(option);
    });
  }

  function loadFacets() {
    api("GET", "/api/facets").then(function (data) {
      fillSelect($("search-field"), data.fields || []);
      fillSelect($("search-level"), data.levels || []);
    }).catch(function (error) { show(error.message, true); });
  }

  function search() {
    var q = $("search-q").value.trim();
    var results = $("results");
    if (!q) { clear(results); return; }
    var params = new URLSearchParams({ q: q });
    if ($("search-field").value) { params.set("field", $("search-field").value); }
    if ($("search-level").value) { params.set("level", $("search-level").value); }
    var seq = ++state.seq;
    api("GET", "/api/search?" + params.toString()).then(function (data) {
      if (seq !== state.seq) { return; }  // a newer query is on its way
      show("");
      clear(results);
      if (!data.results.length) {
        results.appendChild(el("li", "Không tìm thấy thủ tục phù hợp.", "cs-empty"));
        return;
      }
      if (data.abstain) {
        results.appendChild(el("li", "Trợ lý sẽ không tự trả lời câu này (độ tin cậy thấp); " +
          "các kết quả gần nhất:", "cs-empty"));
      }
      data.results.forEach(function (hit) {
        var procedure = hit.kind === "procedure";
        var button = resultButton(results, hit.name, procedure ? function () { openProcedure(hit.code); } : null);
        var meta = [hit.kind === "faq" ? "Hỏi đáp" : hit.code];
        if (hit.field) { meta.push(hit.field); }
        if (hit.levels && hit.levels.length) { meta.push(hit.levels.join(", ")); }
        button.appendChild(el("span", meta.join(" · "), "cs-meta"));
        button.disabled = !procedure;
      });
    }).catch(function (error) { if (seq === state.seq) { show(error.message, true); } });
  }

  function copy(text, button) {
    var done = function () {
      button.textContent = "Đã sao chép";
      button.setAttribute("data-copied", "true");
      setTimeout(function () { button.textContent = "Sao chép"; }, 1500);
    };
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(text).then(done, function () { show("Không sao chép được.", true); });
    } else {
      var area = el("textarea");
      area.value = text;
      document.body.appendChild(area);
      area.select();
      try { document.execCommand("copy"); done(); } catch (e) { show("Không sao chép được.", true); }
      document.body.removeChild(area);
    }
  }

  function describe(value) {
    if (value === null || value === undefined || value === "") { return null; }
    if (Array.isArray(value)) {
      if (!value.length) { return null; }
      var list = el("ul");
      value.forEach(function (item) {
        var text = typeof item === "object" ? flatten(item) : String(item);
        if (text) { list.appendChild(el("li", text)); }
      });
      return list;
    }
    if (typeof value === "object") {
      var flat = flatten(value);
      return flat ? el("span", flat) : null;
    }
    return el("span", String(value));
  }

  function flatten(obj) {
    var parts = [];
    Object.keys(obj).forEach(function (key) {
      var value = obj[key];
      if (value === null || value === undefined || value === "" || value === false) { return; }
      if (Array.isArray(value)) {
        if (value.length) {
          parts.push(value.map(function (v) { return typeof v === "object" ? flatten(v) : String(v); }).join("; "));
        }
      } else if (typeof value === "object") {
        var inner = flatten(value);
        if (inner) { parts.push(inner); }
      } else if (value !== true) {
        parts.push(String(value));
      }
    });
    return parts.join(" — ");
  }

  function openProcedure(code) {
    api("GET", "/api/procedures/" + encodeURIComponent(code)).then(function (data) {
      var proc = data.procedure;
      $("procedure").hidden = false;
      $("proc-name").textContent = proc.name;
      $("proc-meta").textContent = [proc.code, proc.field, (proc.levels || []).join(", ")]
        .filter(Boolean).join(" · ");
      var link = $("proc-link");
      var url = data.portal_url || "";
      link.hidden = !/^https?:\/\//.test(url);
      link.href = link.hidden ? "#" : url;
      var answers = $("proc-answers");
      clear(answers);
      data.answers.forEach(function (answer) {
        var box = el("section", null, "cs-answer");
        var head = el("div", null, "cs-answer-head");
        head.appendChild(el("h3", answer.label));
        var button = el("button", "Sao chép", "cs-copy");
        button.type = "button";
        button.setAttribute("aria-label", "Sao chép câu trả lời: " + answer.label);
        button.addEventListener("click", function () { copy(answer.text, button); });
        head.appendChild(button);
        box.appendChild(head);
        box.appendChild(el("pre", answer.text));
        answers.appendChild(box);
      });
      var fields = $("proc-fields");
      clear(fields);
      Object.keys(proc).forEach(function (key) {
        var described = describe(proc[key]);
        if (!described) { return; }
        fields.appendChild(el("dt", FIELD_LABELS[key] || key));
        var dd = el("dd");
        dd.appendChild(described);
        fields.appendChild(dd);
      });
      $("procedure").scrollIntoView({ block: "start" });
    }).catch(function (error) { show(error.message, true); });
  }

  // ---- handoff inbox ----------------------------------------------------------------------------------
  function waiting(minutes) {
    if (minutes < 1) { return "vừa gửi"; }
    if (minutes < 60) { return "chờ " + minutes + " phút"; }
    return "chờ " + Math.floor(minutes / 60) + " giờ " + (minutes % 60) + " phút";
  }

  function refreshInbox() {
    api("GET", "/api/handoffs").then(function (data) {
      var tickets = data.tickets || [];
      var badge = $("inbox-count");
      badge.textContent = String(tickets.length);
      badge.hidden = !tickets.length;
      if ($("inbox-view").hidden) { return; }
      var list = $("tickets");
      clear(list);
      $("inbox-updated").textContent = "Cập nhật lúc " + new Date().toLocaleTimeString("vi-VN");
      if (!tickets.length) { list.appendChild(el("li", "Không có yêu cầu nào đang chờ.", "cs-empty")); }
      tickets.forEach(function (ticket) {
        var button = resultButton(list, ticket.last_user_message || "(không có tin nhắn)",
          function () { openTicket(ticket.id); });
        button.setAttribute("data-ticket", ticket.id);
        if (ticket.id === state.ticket) { button.classList.add("cs-selected"); }
        button.appendChild(el("span", [ticket.id, ticket.channel, waiting(ticket.waiting_minutes),
          ticket.replies ? ticket.replies + " trả lời" : "chưa trả lời"].join(" · "), "cs-meta"));
      });
      // Re-read the open ticket only when it changed (each read is audited): another officer replied or closed it.
      if (state.ticket) {
        var current = tickets.filter(function (t) { return t.id === state.ticket; })[0];
        if (!current) {
          $("ticket").hidden = true;
          show("Yêu cầu " + state.ticket + " đã được đóng.");
          state.ticket = null;
        } else if (current.replies !== state.ticketReplies) {
          openTicket(state.ticket, true);
        }
      }
    }).catch(function (error) { if (error.status !== 401) { show(error.message, true); } });
  }

  function openTicket(id, quiet) {
    state.ticket = id;
    api("GET", "/api/handoffs/" + encodeURIComponent(id)).then(function (ticket) {
      if (state.ticket !== id) { return; }
      state.ticketReplies = (ticket.replies || []).length;
      $("ticket").hidden = false;
      $("ticket-title").textContent = "Yêu cầu " + ticket.id;
      $("ticket-meta").textContent = [ticket.channel, ticket.status === "open" ? "đang mở" : "đã đóng",
        new Date(ticket.created_at).toLocaleString("vi-VN")].join(" · ");
      var lines = (ticket.transcript || []).map(function (turn) {
        return { cls: turn.role === "user" ? "cs-from-user" : "", text: turn.text || "" };
      }).concat((ticket.replies || []).map(function (reply) {
        return { cls: "cs-from-staff", text: reply.staff + ": " + reply.text };
      }));
      var box = $("transcript");
      clear(box);
      lines.forEach(function (line) { if (line.text) { box.appendChild(el("li", line.text, line.cls)); } });
      box.scrollTop = box.scrollHeight;
      $("reply-form").hidden = ticket.status !== "open";
    }).catch(function (error) { if (!quiet) { show(error.message, true); } });
  }

  // ---- status lookups (staff are trusted after login; every lookup is audited server-side) ------------
  function dateTime(iso) {
    if (!iso) { return "—"; }
    var d = new Date(iso);
    return isNaN(d.getTime()) ? iso : d.toLocaleString("vi-VN", { timeZone: "Asia/Ho_Chi_Minh" });
  }

  function fillFields(dl, pairs) {
    clear(dl);
    pairs.forEach(function (pair) {
      if (pair[1] === null || pair[1] === undefined || pair[1] === "") { return; }
      dl.appendChild(el("dt", pair[0]));
      dl.appendChild(el("dd", String(pair[1])));
    });
  }

  function lookupStatus() {
    var code = $("status-code").value.trim();
    if (!code) { return; }
    $("application").hidden = true;
    state.application = null;
    api("GET", "/api/status/" + encodeURIComponent(code)).then(function (data) {
      show("");
      state.statuses = data.statuses || [];
      showApplication(data.application);
    }).catch(function (error) { show(error.message, true); });
  }

  function showApplication(a) {
    state.application = a.code;
    $("app-title").textContent = a.code + " — " + a.status;
    fillFields($("app-fields"), [
      ["Thủ tục", a.procedure_name + (a.procedure_code ? " (" + a.procedure_code + ")" : "")],
      ["Người nộp", a.applicant_name], ["Ngày tiếp nhận", dateTime(a.received_at)],
      ["Hẹn trả kết quả", dateTime(a.due_at)], ["Trạng thái", a.status + " (từ " + dateTime(a.status_since) + ")"],
      ["Cơ quan đang xử lý", a.agency],
      ["Giấy tờ cần bổ sung", (a.missing_documents || []).join("; ")],
      ["Nơi nhận kết quả", a.result_pickup], ["Lý do từ chối", a.rejection_reason]
    ]);
    var history = $("app-history");
    clear(history);
    (a.history || []).forEach(function (e) {
      history.appendChild(el("li", dateTime(e.at) + ": " + e.status + (e.agency ? " — " + e.agency : "") +
        (e.note ? " (" + e.note + ")" : "")));
    });
    var select = $("app-new-status");
    clear(select);
    (state.statuses || []).forEach(function (s) { select.appendChild(new Option(s, s)); });
    select.value = a.status;
    $("application").hidden = false;
  }

  function lines(text) {
    return text.split("\n").map(function (line) { return line.trim(); }).filter(function (line) { return line; });
  }

  // The change as the API takes it: the new status and the optional fields the officer filled in.
  function statusChange() {
    var change = { status: $("app-new-status").value };
    var note = $("app-note").value.trim(), missing = lines($("app-missing").value);
    var pickup = $("app-pickup").value.trim(), reason = $("app-rejection").value.trim();
    if (note) { change.note = note; }
    if (missing.length) { change.missing_documents = missing; }
    if (pickup) { change.result_pickup = pickup; }
    if (reason) { change.rejection_reason = reason; }
    return change;
  }

  function queuedText(queued) {
    if (typeof queued !== "number") { return "."; }
    return queued ? "; đã xếp " + queued + " thông báo để gửi tới người dân đã đăng ký." :
      "; chưa có người dân nào đăng ký nhận thông báo cho hồ sơ này.";
  }

  function changeStatus() {
    var code = state.application, change = statusChange();
    if (!code) { return; }
    api("POST", "/api/status/" + encodeURIComponent(code), change).then(function (data) {
      ["app-note", "app-missing", "app-pickup", "app-rejection"].forEach(function (id) { $(id).value = ""; });
      if (data.application) { showApplication(data.application); }
      show("Đã chuyển hồ sơ " + code + " sang trạng thái “" +
        (data.application ? data.application.status : change.status) + "”" + queuedText(data.notifications_queued));
      loadDeliveries();
    }).catch(function (error) { show(error.message, true); });
  }

  function loadDeliveries() {
    var counts = $("delivery-counts"), table = $("delivery-table"), rows = $("delivery-rows");
    api("GET", "/api/notifications/log?limit=50").then(function (data) {
      counts.textContent = OUTBOX_LABELS.map(function (s) {
        return s[1] + ": " + ((data.outbox || {})[s[0]] || 0);
      }).join(" · ");
      clear(rows);
      data.log.forEach(function (r) {
        var row = el("tr");
        row.setAttribute("data-outcome", r.outcome);
        [dateTime(r.at), (CHANNEL_LABELS[r.channel] || r.channel) + (ROUTE_LABELS[r.route] ?
          " (" + ROUTE_LABELS[r.route] + ")" : ""), r.code, OUTCOME_LABELS[r.outcome] || r.outcome,
          String(r.attempt), r.error ? (REASON_LABELS[r.error] || r.error) : "—"
        ].forEach(function (text) { row.appendChild(el("td", text)); });
        rows.appendChild(row);
      });
      if (!data.log.length) {
        var empty = el("td", "Chưa có thông báo nào được gửi.", "cs-empty");
        empty.colSpan = 6;
        rows.appendChild(el("tr")).appendChild(empty);
      }
      table.hidden = false;
    }).catch(function (error) {
      table.hidden = true;
      counts.textContent = error.message;
    });
  }

  // ---- feedback reports: list, read, change status with a note ----------------------------------------
  function loadReports() {
    var filter = $("feedback-filter").value;
    api("GET", "/api/feedback" + (filter ? "?status=" + encodeURIComponent(filter) : "")).then(function (data) {
      if ($("feedback-filter").options.length <= 1) {
        (data.statuses || []).forEach(function (s) { $("feedback-filter").appendChild(new Option(s, s)); });
        clear($("report-status"));
        (data.statuses || []).forEach(function (s) { $("report-status").appendChild(new Option(s, s)); });
      }
      var list = $("reports");
      clear(list);
      if (!data.reports.length) { list.appendChild(el("li", "Không có phản ánh nào.", "cs-empty")); }
      data.reports.forEach(function (r) {
        var button = resultButton(list, null, function () { openReport(r.code); });
        button.setAttribute("data-code", r.code);
        button.appendChild(el("strong", r.code + " — " + r.status));
        button.appendChild(el("span", r.topic + " · " + dateTime(r.created_at), "cs-meta"));
      });
    }).catch(function (error) { show(error.message, true); });
  }

  function openReport(code) {
    api("GET", "/api/feedback/" + encodeURIComponent(code)).then(function (r) {
      state.report = r.code;
      $("report-title").textContent = r.code + " — " + r.status;
      fillFields($("report-fields"), [
        ["Chủ đề", r.topic], ["Nội dung", r.content], ["Địa điểm", r.location],
        ["Liên hệ", r.consent ? r.contact : "Người dân không đồng ý để liên hệ lại"], ["Kênh", r.channel],
        ["Gửi lúc", dateTime(r.created_at)], ["Cập nhật", dateTime(r.updated_at)]
      ]);
      var history = $("report-history");
      clear(history);
      (r.history || []).forEach(function (e) {
        history.appendChild(el("li", dateTime(e.at) + ": " + e.status + (e.note ? " — " + e.note : "") +
          (e.staff ? " (" + e.staff + ")" : "")));
      });
      $("report-status").value = r.status;
      $("report").hidden = false;
    }).catch(function (error) { show(error.message, true); });
  }

  // ---- review queue: questions the bot did not serve well; officers propose, supervisors decide ----------
  function reviewReasons(group) {
    return group.reasons.map(function (r) { return REVIEW_REASONS[r] || r; }).join("; ");
  }

  function decisionText(d) {
    if (!d) { return "Chưa có đề xuất"; }
    var what = REVIEW_KINDS[d.kind] || d.kind;
    if (d.kind === "link") { what += " " + d.code; }
    return what + " — " + d.proposed_by + ", " + dateTime(d.proposed_at) + " — " + (DECISION_STATES[d.state] || d.state) +
      (d.decided_by ? " (" + d.decided_by + ", " + dateTime(d.decided_at) + ")" : "");
  }

  function loadReview() {
    var filter = $("review-filter").value;
    var seq = ++state.reviewSeq;
    // Each read makes the server pick up the new conversations of Rasa's tracker store first.
    return api("GET", "/api/review" + (filter ? "?status=" + encodeURIComponent(filter) : "")).then(function (data) {
      if (seq !== state.reviewSeq) { return; }
      var list = $("review-groups");
      clear(list);
      $("review-updated").textContent = "Cập nhật lúc " +
        new Date().toLocaleTimeString("vi-VN", { timeZone: "Asia/Ho_Chi_Minh" }) +
        (data.source_available ? "" : " — chưa đọc được nhật ký hội thoại của trợ lý (tracker store)");
      if (!data.groups.length) { list.appendChild(el("li", "Không có câu hỏi nào cần xem lại.", "cs-empty")); }
      data.groups.forEach(function (g) {
        var button = resultButton(list, null, function () { openReview(g); });
        button.setAttribute("data-review", g.id);
        button.setAttribute("data-status", g.status);
        if (g.id === state.review) { button.classList.add("cs-selected"); }
        button.appendChild(el("strong", g.question));
        var others = g.variants.filter(function (v) { return v !== g.question; });
        if (others.length) { button.appendChild(el("span", "Cách hỏi khác: " + others.join(" | "), "cs-meta")); }
        button.appendChild(el("span", [g.count + " lượt", reviewReasons(g), REVIEW_STATUSES[g.status] || g.status]
          .join(" · "), "cs-meta"));
        if (g.decision && g.decision.state === "pending") {
          button.appendChild(el("span", "Đề xuất: " + decisionText(g.decision), "cs-meta"));
        }
      });
      if (state.review !== null) {  // the open group changed meanwhile (another officer, a supervisor)
        var current = data.groups.filter(function (g) { return g.id === state.review; })[0];
        if (current && JSON.stringify(current) !== JSON.stringify(state.reviewGroup)) { openReview(current); }
      }
    }).catch(function (error) { if (seq === state.reviewSeq) { show(error.message, true); } });
  }

  function keepReviewDrafts() {
    if (state.review === null) { return; }
    state.reviewDrafts[state.review] = { q: $("review-search-q").value, code: state.reviewCode,
      reason: $("review-reason").value, draft: $("review-draft").value };
  }

  function openReview(group) {
    if (state.review !== group.id) {
      keepReviewDrafts();  // what was typed for another group stays there
      var drafts = state.reviewDrafts[group.id] || {};
      $("review-search-q").value = drafts.q || "";
      $("review-reason").value = drafts.reason || "";
      $("review-draft").value = drafts.draft || "";
      clear($("review-search-results"));
      state.reviewCode = null;
      $("review-preview").hidden = true;
      if (drafts.code) { previewProcedure(drafts.code); }
      if (drafts.q) { reviewSearch(); }
    }
    state.review = group.id;
    state.reviewGroup = group;
    Array.prototype.forEach.call(document.querySelectorAll("#review-groups .cs-result"), function (b) {
      b.classList.toggle("cs-selected", b.getAttribute("data-review") === String(group.id));
    });
    $("review-item").hidden = false;
    $("review-title").textContent = group.question;
    var d = group.decision;
    var fields = [["Số lượt hỏi", String(group.count)], ["Lý do", reviewReasons(group)],
      ["Trạng thái", REVIEW_STATUSES[group.status] || group.status], ["Các cách hỏi", group.variants.join("\n")],
      ["Lần đầu", dateTime(group.first_seen)], ["Gần nhất", dateTime(group.last_seen)],
      ["Đề xuất gần nhất", decisionText(d)]];
    if (d && d.kind === "out_of_scope") { fields.push(["Lý do ngoài phạm vi", d.reason]); }
    if (d && d.kind === "faq") { fields.push(["Bản nháp câu trả lời", d.draft]); }
    fillFields($("review-fields"), fields);
    if (d && d.kind === "link") {
      api("GET", "/api/procedures/" + encodeURIComponent(d.code)).then(function (page) {
        if (state.review !== group.id) { return; }
        var dd = document.querySelector("#review-fields [data-linked-name]") || el("dd");
        dd.setAttribute("data-linked-name", d.code);
        dd.textContent = page.procedure.name + " (" + d.code + ")";
        if (!dd.parentNode) {
          $("review-fields").appendChild(el("dt", "Thủ tục được liên kết"));
          $("review-fields").appendChild(dd);
        }
      }).catch(function () { return null; });
    }
    var pending = !!(d && d.state === "pending");
    $("review-decide").hidden = !(pending && state.user && state.user.role === "supervisor");
    $("review-forms").hidden = group.status === "approved";
    var live = $("review-live");
    live.hidden = !(group.status === "approved" && d && d.kind === "link");
    if (!live.hidden) { loadBotAnswers(group.id); }
  }

  function botAnswerText(a) {
    var text;
    if (a.kind === "answer") { text = "Trả lời bằng thủ tục " + a.name + " (" + a.code + ")"; }
    else if (a.kind === "faq") { text = "Trả lời bằng câu hỏi thường gặp: " + a.name; }
    else if (a.kind === "several") {
      text = "Trả lời từng thủ tục: " + a.candidates.map(function (c) { return c.name; }).join("; ");
    } else if (a.kind === "choose") {
      text = "Chưa trả lời ngay, hỏi lại người dân chọn: " + a.candidates.map(function (c) { return c.name; })
        .join("; ");
    } else if (a.kind === "ask_topic") { text = "Chưa trả lời, hỏi lại người dân muốn hỏi thủ tục nào"; }
    else { text = "Không trả lời (chưa đủ tin cậy), mời người dân gặp cán bộ"; }
    if (a.answers) { text += a.linked ? " — đúng thủ tục đã duyệt" : " — khác thủ tục đã duyệt"; }
    return "«" + a.question + "»: " + text + ".";
  }

  function loadBotAnswers(id) {
    var list = $("review-live-answers");
    clear(list);
    list.appendChild(el("li", "Đang thử câu hỏi với trợ lý…", "cs-empty"));
    api("GET", "/api/review/" + id + "/answer").then(function (data) {
      if (state.review !== id) { return; }
      clear(list);
      data.answers.forEach(function (a) {
        var item = el("li", botAnswerText(a));
        item.setAttribute("data-answers", a.answers ? "true" : "false");
        item.setAttribute("data-linked", a.linked ? "true" : "false");
        list.appendChild(item);
      });
    }).catch(function (error) {
      if (state.review !== id) { return; }
      clear(list);
      list.appendChild(el("li", error.message, "cs-empty"));
    });
  }

  function reviewSearch() {
    var q = $("review-search-q").value.trim();
    var results = $("review-search-results");
    if (!q) { clear(results); return; }
    var seq = ++state.seq;
    api("GET", "/api/search?" + new URLSearchParams({ q: q }).toString()).then(function (data) {
      if (seq !== state.seq) { return; }
      clear(results);
      var procedures = data.results.filter(function (hit) { return hit.kind === "procedure"; });
      if (!procedures.length) { results.appendChild(el("li", "Không tìm thấy thủ tục phù hợp.", "cs-empty")); }
      procedures.forEach(function (hit) {
        var button = resultButton(results, hit.name, function () { previewProcedure(hit.code); });
        button.setAttribute("data-code", hit.code);
        if (hit.code === state.reviewCode) { button.classList.add("cs-selected"); }
        button.appendChild(el("span", [hit.code, hit.field].filter(Boolean).join(" · "), "cs-meta"));
      });
    }).catch(function (error) { if (seq === state.seq) { show(error.message, true); } });
  }

  // The chosen procedure and the answer the bot gives for it (the console's procedure page, core.answers).
  function previewProcedure(code) {
    var id = state.review;
    api("GET", "/api/procedures/" + encodeURIComponent(code)).then(function (data) {
      if (state.review !== id) { return; }
      state.reviewCode = code;
      Array.prototype.forEach.call(document.querySelectorAll("#review-search-results .cs-result"), function (b) {
        b.classList.toggle("cs-selected", b.getAttribute("data-code") === code);
      });
      $("review-preview").hidden = false;
      $("review-preview-name").textContent = data.procedure.name;
      $("review-preview-meta").textContent = [data.procedure.code, data.procedure.field].filter(Boolean).join(" · ");
      $("review-preview-text").textContent = data.answers[0].text;
    }).catch(function (error) { show(error.message, true); });
  }

  function propose(kind, body, done) {
    var id = state.review;
    if (id === null) { return; }
    api("POST", "/api/review/" + id + "/" + kind, body).then(function (group) {
      done();
      delete state.reviewDrafts[id];
      show("Đã gửi đề xuất «" + (REVIEW_KINDS[kind] || kind) + "» cho câu hỏi «" + group.question +
        "»; chờ giám sát viên duyệt.");
      openReview(group);
      loadReview();
    }).catch(function (error) { show(error.message, true); });  // the fields keep what was typed
  }

  function decideReview(approve) {
    var id = state.review;
    if (id === null) { return; }
    api("POST", "/api/review/" + id + "/" + (approve ? "approve" : "reject")).then(function (group) {
      show((approve ? "Đã duyệt" : "Đã từ chối") + " đề xuất cho câu hỏi «" + group.question + "».");
      openReview(group);
      loadReview();
    }).catch(function (error) { show(error.message, true); });
  }

  // ---- analytics (supervisor) -------------------------------------------------------------------------
  function svg(tag, attrs, text) {
    var node = document.createElementNS(SVG_NS, tag);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, String(attrs[key])); });
    if (text !== undefined) { node.textContent = String(text); }
    return node;
  }

  function legend() {
    var box = el("div", null, "cs-legend");
    OUTCOMES.forEach(function (o) {
      var item = el("span", o.label);
      var swatch = el("i");
      swatch.style.background = o.color;
      item.insertBefore(swatch, item.firstChild);
      box.appendChild(item);
    });
    return box;
  }

  function dayChart(perDay) {
    var width = 640, height = 260, left = 36, bottom = 40, top = 12;
    var max = Math.max(1, Math.max.apply(null, perDay.map(function (d) { return d.conversations; })));
    var chart = svg("svg", { viewBox: "0 0 " + width + " " + height, role: "img",
      "aria-label": "Biểu đồ cột số cuộc trò chuyện mỗi ngày" });
    var plotH = height - bottom - top, slot = (width - left) / perDay.length, barW = Math.max(4, slot * 0.7);
    [0, 0.5, 1].forEach(function (f) {
      var y = top + plotH * (1 - f);
      chart.appendChild(svg("line", { x1: left, x2: width, y1: y, y2: y, stroke: "#d9dee3" }));
      chart.appendChild(svg("text", { x: left - 6, y: y + 4, "text-anchor": "end", "font-size": 11,
        fill: "#52606d" }, Math.round(max * f)));
    });
    perDay.forEach(function (d, i) {
      var x = left + i * slot + (slot - barW) / 2, y = top + plotH;
      OUTCOMES.forEach(function (o) {
        var h = plotH * d[o.key] / max;
        if (h <= 0) { return; }
        y -= h;
        var bar = svg("rect", { x: x, y: y, width: barW, height: h, fill: o.color, "data-day": d.day,
          "data-outcome": o.key });
        bar.appendChild(svg("title", {}, d.day + " — " + o.label + ": " + d[o.key]));
        chart.appendChild(bar);
      });
      if (perDay.length <= 14 || i % Math.ceil(perDay.length / 14) === 0) {
        chart.appendChild(svg("text", { x: x + barW / 2, y: height - bottom + 16, "text-anchor": "middle",
          "font-size": 11, fill: "#52606d" }, d.day.slice(8, 10) + "/" + d.day.slice(5, 7)));
      }
    });
    return chart;
  }

  function shareChart(shares) {
    var width = 640, height = 70;
    var chart = svg("svg", { viewBox: "0 0 " + width + " " + height, role: "img",
      "aria-label": "Biểu đồ tỉ lệ kết quả các cuộc trò chuyện" });
    var x = 0;
    OUTCOMES.forEach(function (o) {
      var w = width * (shares[o.key] || 0);
      if (w <= 0) { return; }
      var bar = svg("rect", { x: x, y: 10, width: w, height: 36, fill: o.color, "data-outcome": o.key });
      bar.appendChild(svg("title", {}, o.label + ": " + Math.round((shares[o.key] || 0) * 100) + "%"));
      chart.appendChild(bar);
      if (w > 40) {
        chart.appendChild(svg("text", { x: x + w / 2, y: 33, "text-anchor": "middle", "font-size": 13,
          fill: o.key === "abstained" ? "#1f2933" : "#fff" }, Math.round((shares[o.key] || 0) * 100) + "%"));
      }
      x += w;
    });
    if (x === 0) {
      chart.appendChild(svg("rect", { x: 0, y: 10, width: width, height: 36, fill: "#f1f3f5" }));
      chart.appendChild(svg("text", { x: width / 2, y: 33, "text-anchor": "middle", "font-size": 13,
        fill: "#52606d" }, "Chưa có dữ liệu"));
    }
    return chart;
  }

  function ratingChart(satisfaction) {
    var width = 640, height = 200, left = 120, barH = 26, gap = 8;
    var dist = satisfaction.distribution || {};
    var max = Math.max(1, Math.max.apply(null, [1, 2, 3, 4, 5].map(function (s) { return dist[String(s)] || 0; })));
    var chart = svg("svg", { viewBox: "0 0 " + width + " " + height, role: "img",
      "aria-label": "Biểu đồ phân bố điểm hài lòng" });
    var labels = { 1: "1 – Rất không hài lòng", 2: "2 – Không hài lòng", 3: "3 – Bình thường", 4: "4 – Hài lòng",
      5: "5 – Rất hài lòng" };
    [5, 4, 3, 2, 1].forEach(function (score, i) {
      var n = dist[String(score)] || 0, y = 6 + i * (barH + gap), w = (width - left - 60) * n / max;
      chart.appendChild(svg("text", { x: left - 8, y: y + barH * 0.7, "text-anchor": "end", "font-size": 12,
        fill: "#1f2933" }, labels[score]));
      var bar = svg("rect", { x: left, y: y, width: Math.max(w, 1), height: barH, fill: score >= 4 ? "#2f855a" :
        (score === 3 ? "#f4c430" : "#a3111f"), "data-rating": score, "data-count": n });
      bar.appendChild(svg("title", {}, labels[score] + ": " + n));
      chart.appendChild(bar);
      chart.appendChild(svg("text", { x: left + Math.max(w, 1) + 6, y: y + barH * 0.7, "font-size": 12,
        fill: "#52606d" }, n));
    });
    return chart;
  }

  // The answer rate of each ISO week: one bar per week, the rate written above it ("—" for a week without any).
  function weekChart(perWeek) {
    var width = 640, height = 220, left = 36, bottom = 40, top = 20;
    var chart = svg("svg", { viewBox: "0 0 " + width + " " + height, role: "img",
      "aria-label": "Biểu đồ tỉ lệ trợ lý tự trả lời theo tuần" });
    var plotH = height - bottom - top, slot = (width - left) / Math.max(1, perWeek.length);
    var barW = Math.max(4, slot * 0.6);
    [0, 0.5, 1].forEach(function (f) {
      var y = top + plotH * (1 - f);
      chart.appendChild(svg("line", { x1: left, x2: width, y1: y, y2: y, stroke: "#d9dee3" }));
      chart.appendChild(svg("text", { x: left - 6, y: y + 4, "text-anchor": "end", "font-size": 11,
        fill: "#52606d" }, Math.round(f * 100) + "%"));
    });
    perWeek.forEach(function (w, i) {
      var x = left + i * slot + (slot - barW) / 2, rate = w.answer_rate;
      var h = rate === null ? 0 : plotH * rate;
      var bar = svg("rect", { x: x, y: top + plotH - h, width: barW, height: Math.max(h, rate === null ? 0 : 1),
        fill: "#2f855a", "data-week": w.week, "data-rate": rate === null ? "" : rate,
        "data-conversations": w.conversations });
      bar.appendChild(svg("title", {}, w.week + " (từ " + w.start.slice(8, 10) + "/" + w.start.slice(5, 7) + "): " +
        (rate === null ? "chưa có cuộc trò chuyện" : percent(rate) + " của " + w.conversations + " cuộc")));
      chart.appendChild(bar);
      chart.appendChild(svg("text", { x: x + barW / 2, y: top + plotH - h - 4, "text-anchor": "middle",
        "font-size": 11, fill: "#1f2933" }, rate === null ? "—" : percent(rate)));
      chart.appendChild(svg("text", { x: x + barW / 2, y: height - bottom + 16, "text-anchor": "middle",
        "font-size": 11, fill: "#52606d" }, w.start.slice(8, 10) + "/" + w.start.slice(5, 7)));
    });
    return chart;
  }

  function percent(value) { return value === null || value === undefined ? "—" : Math.round(value * 1000) / 10 + "%"; }

  function loadAnalytics() {
    var days = $("analytics-days").value;
    $("analytics-csv").href = "/api/analytics?days=" + encodeURIComponent(days) + "&format=csv";
    api("GET", "/api/analytics?days=" + encodeURIComponent(days)).then(function (data) {
      var conv = data.conversations;
      var kpis = $("kpis");
      clear(kpis);
      [["Cuộc trò chuyện", String(conv.total_conversations)],
       ["Trợ lý tự trả lời", percent(conv.shares.answered)],
       ["Chuyển cán bộ", percent(conv.shares.handed_off)],
       ["Không trả lời được", percent(conv.shares.abstained)],
       ["Tỉ lệ không hiểu câu hỏi", percent(conv.fallback_rate)],
       ["Yêu cầu đang chờ", String(data.handoffs.open)],
       ["Mức hài lòng (1–5)", data.satisfaction.average === null ? "—" :
         String(data.satisfaction.average).replace(".", ",") + " / " + data.satisfaction.count + " lượt"]
      ].forEach(function (kpi) {
        var box = el("div", kpi[0], "cs-kpi");
        box.insertBefore(el("strong", kpi[1]), box.firstChild);
        kpis.appendChild(box);
      });
      var days_ = $("chart-days");
      clear(days_);
      days_.appendChild(dayChart(conv.per_day));
      days_.appendChild(legend());
      var shares = $("chart-shares");
      clear(shares);
      shares.appendChild(shareChart(conv.shares));
      shares.appendChild(legend());
      var weeks = $("chart-weeks");
      clear(weeks);
      weeks.appendChild(weekChart(conv.per_week || []));
      var ratings = $("chart-ratings");
      clear(ratings);
      ratings.appendChild(ratingChart(data.satisfaction));
      var byOutcome = $("rating-by-outcome");
      clear(byOutcome);
      [["answered", "Trợ lý tự trả lời"], ["handed_off", "Chuyển cán bộ"], ["abstained", "Không trả lời được"]]
        .forEach(function (o) {
          var r = (conv.rating_by_outcome || {})[o[0]] || { count: 0, average: null };
          var item = el("li", o[1] + ": " + (r.average === null ? "chưa có đánh giá" :
            String(r.average).replace(".", ",") + " điểm (" + r.count + " lượt)"));
          item.setAttribute("data-outcome", o[0]);
          byOutcome.appendChild(item);
        });
      var procs = $("top-procedures");
      clear(procs);
      conv.top_procedures.forEach(function (p) {
        procs.appendChild(el("li", (p.name || p.code) + " (" + p.code + "): " + p.conversations + " cuộc"));
      });
      if (!conv.top_procedures.length) { procs.appendChild(el("li", "Chưa có dữ liệu.", "cs-empty")); }
      var questions = $("top-unanswered");
      clear(questions);
      conv.top_unanswered.forEach(function (q) {
        questions.appendChild(el("li", q.question + " — " + q.count + " lần"));
      });
      if (!conv.top_unanswered.length) { questions.appendChild(el("li", "Chưa có dữ liệu.", "cs-empty")); }
      if (!conv.source_available) { show("Chưa đọc được nhật ký hội thoại của trợ lý (tracker store).", true); }
    }).catch(function (error) { show(error.message, true); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll(".cs-tab"), function (tab) {
      tab.addEventListener("click", function () { show(""); view(tab.getAttribute("data-view")); });
    });
    $("analytics-days").addEventListener("change", loadAnalytics);
    $("status-form").addEventListener("submit", function (event) { event.preventDefault(); lookupStatus(); });
    $("app-change-form").addEventListener("submit", function (event) { event.preventDefault(); changeStatus(); });
    $("delivery-refresh").addEventListener("click", loadDeliveries);
    $("feedback-filter").addEventListener("change", loadReports);
    $("review-filter").addEventListener("change", loadReview);
    $("review-refresh").addEventListener("click", loadReview);
    $("review-search-q").addEventListener("input", function () {
      clearTimeout(state.timer);
      state.timer = setTimeout(reviewSearch, 250);
    });
    $("review-search-q").addEventListener("keydown", function (event) {
      if (event.key === "Enter") { event.preventDefault(); reviewSearch(); }
    });
    $("review-link-form").addEventListener("submit", function (event) {
      event.preventDefault();
      if (!state.reviewCode) {
        show("Hãy tìm và chọn thủ tục cần liên kết trong kết quả tìm kiếm.", true);
        return;
      }
      propose("link", { code: state.reviewCode }, function () {
        $("review-search-q").value = "";
        clear($("review-search-results"));
        $("review-preview").hidden = true;
        state.reviewCode = null;
      });
    });
    $("review-scope-form").addEventListener("submit", function (event) {
      event.preventDefault();
      propose("out_of_scope", { reason: $("review-reason").value }, function () { $("review-reason").value = ""; });
    });
    $("review-faq-form").addEventListener("submit", function (event) {
      event.preventDefault();
      propose("faq", { draft: $("review-draft").value }, function () { $("review-draft").value = ""; });
    });
    $("review-approve").addEventListener("click", function () { decideReview(true); });
    $("review-reject").addEventListener("click", function () { decideReview(false); });
    $("report-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var code = state.report;
      if (!code) { return; }
      api("POST", "/api/feedback/" + encodeURIComponent(code) + "/status",
          { status: $("report-status").value, note: $("report-note").value.trim() || null }).then(function (r) {
        $("report-note").value = "";
        show("Đã cập nhật phản ánh " + r.code + ": " + r.status + ".");
        openReport(code);
        loadReports();
      }).catch(function (error) { show(error.message, true); });
    });
    $("reply-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var id = state.ticket, text = $("reply-text").value.trim();
      if (!id || !text) { return; }
      api("POST", "/api/handoffs/" + encodeURIComponent(id) + "/reply", { text: text }).then(function (data) {
        $("reply-text").value = "";
        show(data.delivery === "sent" ? "Đã gửi trả lời tới người dân." :
          "Đã lưu trả lời; sẽ gửi khi người dân kết nối lại.");
        openTicket(id);
      }).catch(function (error) { show(error.message, true); });
    });
    $("ticket-close").addEventListener("click", function () {
      var id = state.ticket;
      if (!id) { return; }
      api("POST", "/api/handoffs/" + encodeURIComponent(id) + "/close").then(function () {
        show("Đã đóng yêu cầu " + id + "; trợ lý tiếp tục trò chuyện với người dân.");
        state.ticket = null;
        $("ticket").hidden = true;
        refreshInbox();
      }).catch(function (error) { show(error.message, true); });
    });
    $("login-form").addEventListener("submit", function (event) {
      event.preventDefault();
      api("POST", "/api/login", { name: $("login-name").value, password: $("login-password").value })
        .then(function (data) { $("login-password").value = ""; show(""); enter(data); })
        .catch(function (error) { show(error.message, true); });
    });
    $("password-form").addEventListener("submit", function (event) {
      event.preventDefault();
      if ($("new-password").value !== $("new-password-2").value) {
        show("Hai lần nhập mật khẩu mới không khớp.", true);
        return;
      }
      api("POST", "/api/password", { current_password: $("current-password").value,
                                     new_password: $("new-password").value })
        .then(function () {
          ["current-password", "new-password", "new-password-2"].forEach(function (id) { $(id).value = ""; });
          show("Đã đổi mật khẩu.");
          return api("GET", "/api/me").then(enter);
        })
        .catch(function (error) { show(error.message, true); });
    });
    $("logout").addEventListener("click", function () {
      api("POST", "/api/logout").catch(function () { return null; }).then(function () { view("login"); });
    });
    $("search-form").addEventListener("submit", function (event) { event.preventDefault(); search(); });
    $("search-q").addEventListener("input", function () {
      clearTimeout(state.timer);
      state.timer = setTimeout(search, 250);
    });
    $("search-field").addEventListener("change", search);
    $("search-level").addEventListener("change", search);
    api("GET", "/api/me").then(enter).catch(function () { view("login"); });
  });
})();
