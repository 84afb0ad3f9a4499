/* Help-desk console: login, forced password change, search and procedure pages.
   All text goes into the page through textContent (never as HTML). */
(function () {
  "use strict";

  var state = { csrf: "", user: null, timer: null, seq: 0 };
  var FIELD_LABELS = {
    code: "Mã thủ tục", name: "Tên thủ tục", field: "Lĩnh vực", levels: "Cấp thực hiện", type: "Loại thủ tục",
    decision: "Quyết định công bố", agencies: "Cơ quan", submit_address: "Địa chỉ tiếp nhận",
    applicants: "Đối tượng thực hiện", channels: "Cách thức thực hiện", documents: "Thành phần hồ sơ",
    steps: "Trình tự thực hiện", legal_basis: "Căn cứ pháp lý", conditions: "Điều kiện", result: "Kết quả",
    results: "Giấy tờ kết quả", result_note: "Ghi chú kết quả", related: "Thủ tục liên quan", url: "Đường dẫn",
    ministry: "Bộ, ngành", description: "Mô tả", aliases: "Cách gọi khác"
  };

  function $(id) { return document.getElementById(id); }

  function el(tag, text, className) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    if (className) { node.className = className; }
    return node;
  }

  function clear(node) { while (node.firstChild) { node.removeChild(node.firstChild); } }

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
    $("login-view").hidden = name !== "login";
    $("password-view").hidden = name !== "password";
    $("search-view").hidden = name !== "search";
    $("user-box").hidden = name === "login";
    if (name === "login") { state.user = null; state.csrf = ""; }
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
        var item = el("li");
        var button = el("button", hit.name, "cs-result");
        button.type = "button";
        var meta = [hit.kind === "faq" ? "Hỏi đáp" : hit.code];
        if (hit.field) { meta.push(hit.field); }
        if (hit.levels && hit.levels.length) { meta.push(hit.levels.join(", ")); }
        button.appendChild(el("span", meta.join(" · "), "cs-meta"));
        if (hit.kind === "procedure") {
          button.addEventListener("click", function () { openProcedure(hit.code); });
        } else {
          button.disabled = true;
        }
        item.appendChild(button);
        results.appendChild(item);
      });
    }).catch(function (error) { if (seq === state.seq) { show(error.message, true); } });
  }

  function copy(text, button) {
    var done = function () {
      button.textContent = "Đã sao chép";
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

  document.addEventListener("DOMContentLoaded", function () {
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
