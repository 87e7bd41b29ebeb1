(function () {
  "use strict";
  var errors = [];
  function note(text) {
    errors.push(String(text));
    document.body.setAttribute("data-errors", String(errors.length));
    document.body.setAttribute("data-error-text", errors.join(" | "));
  }
  window.addEventListener("error", function (e) { note(e.message || "error"); }, true);
  window.addEventListener("unhandledrejection", function (e) { note("rejection: " + e.reason); });
  document.addEventListener("securitypolicyviolation", function (e) {
    note("blocked " + e.blockedURI + " by " + e.violatedDirective);
  });
  var consoleError = console.error;
  console.error = function () {
    note(Array.prototype.join.call(arguments, " "));
    consoleError.apply(console, arguments);
  };

  function sortBy(table, column, th) {
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var dir = th.getAttribute("data-dir") === "asc" ? "desc" : "asc";
    table.querySelectorAll("th").forEach(function (h) { h.removeAttribute("data-dir"); });
    th.setAttribute("data-dir", dir);
    function key(row) {
      var cell = row.cells[column];
      return cell.hasAttribute("data-v") ? cell.getAttribute("data-v") : null;
    }
    rows.sort(function (a, b) {
      var x = key(a), y = key(b);
      if (x === null || y === null) { return (x === null) - (y === null); }  // empty last
      var nx = Number(x), ny = Number(y);
      var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
      return dir === "asc" ? c : -c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    table.querySelectorAll("th").forEach(function (th, i) {
      th.addEventListener("click", function () { sortBy(table, i, th); });
    });
  });
  // report.html#sort=N sorts the per-recording table by its N-th column (from 0) at load,
  // #sort=N-desc the other way: a link to the ranking one wants to show
  var sorted = /(?:^#|&)sort=([0-9]+)(-desc)?/.exec(window.location.hash);
  var files = document.getElementById("files");
  if (sorted && files && files.querySelectorAll("th")[Number(sorted[1])]) {
    var th = files.querySelectorAll("th")[Number(sorted[1])];
    if (sorted[2]) { th.setAttribute("data-dir", "asc"); }
    sortBy(files, Number(sorted[1]), th);
  }

  function clock(t) {
    var m = Math.floor(t / 60), s = t - 60 * m;
    return m + ":" + (s < 10 ? "0" : "") + s.toFixed(1);
  }
  var seekers = [];
  document.querySelectorAll("section.timeline").forEach(function (section) {
    var duration = Number(section.getAttribute("data-duration"));
    var height = 10 * Number(section.getAttribute("data-rows"));
    var span = Math.min(30, duration);
    var overview = section.querySelector("svg.overview");
    var detail = section.querySelector("svg.detail");
    var heads = section.querySelectorAll(".playhead");
    var label = section.querySelector(".window");
    var audio = section.querySelector("audio");
    var start = 0;
    function show(t) {
      t = Math.max(0, Math.min(duration, t));
      heads.forEach(function (h) { h.setAttribute("x1", t); h.setAttribute("x2", t); });
      start = Math.max(0, Math.min(duration - span, t - span / 2));
      detail.setAttribute("viewBox", start + " 0 " + span + " " + height);
      label.textContent = clock(t) + " (showing " + clock(start) + "–" + clock(start + span) + ")";
    }
    function seek(t) {
      if (audio) { audio.currentTime = t; }
      show(t);
    }
    function fraction(svg, event) {
      var box = svg.getBoundingClientRect();
      return box.width > 0 ? (event.clientX - box.left) / box.width : 0;
    }
    overview.addEventListener("click", function (e) { seek(fraction(overview, e) * duration); });
    detail.addEventListener("click", function (e) { seek(start + fraction(detail, e) * span); });
    if (audio) {
      audio.addEventListener("error", function () {
        note("audio of " + section.querySelector("h3").textContent + " cannot be played");
      });
      var frame = function () {
        show(audio.currentTime);
        if (!audio.paused) { window.requestAnimationFrame(frame); }
      };
      audio.addEventListener("play", function () { window.requestAnimationFrame(frame); });
      audio.addEventListener("seeked", function () { show(audio.currentTime); });
    }
    show(0);
    seekers.push(seek);
  });
  // report.html#t=SECONDS opens every timeline (and its player) at that time
  var linked = /(?:^#|&)t=([0-9]+(?:\.[0-9]+)?)/.exec(window.location.hash);
  if (linked) { seekers.forEach(function (seek) { seek(Number(linked[1])); }); }
  document.body.setAttribute("data-errors", String(errors.length));
  document.body.setAttribute("data-ready", "1");
})();
