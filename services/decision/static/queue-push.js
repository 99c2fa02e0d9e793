// New urgent cases (a 第25条 deadline at risk, a credible threat) announced on an open queue
// page: it asks /queue/urgent every few seconds for cases that arrived since it was drawn.
(function () {
  var table = document.getElementById("queue");
  var box = document.getElementById("urgent-push");
  if (!table || !box || !window.fetch) return;
  var url = table.dataset.urgentUrl + "?since=" + encodeURIComponent(table.dataset.since);
  var every = Math.max(2, parseInt(table.dataset.pollSeconds, 10) || 20) * 1000;
  function show(data) {
    if (!data.count) return;
    document.getElementById("urgent-count").textContent = data.count;
    var list = document.getElementById("urgent-list");
    list.textContent = "";
    data.cases.forEach(function (c) {
      var li = document.createElement("li");
      var a = document.createElement("a");
      a.href = c.url; a.textContent = c.text || c.id;  // text, never markup
      li.appendChild(a);
      li.appendChild(document.createTextNode(" — " + c.category + " (" + c.priority.toFixed(1) + ")"));
      list.appendChild(li);
    });
    document.getElementById("urgent-reload").href = window.location.href;
    box.hidden = false;
  }
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { if (data) show(data); })
      .catch(function () {})
      .then(function () { window.setTimeout(poll, every); });
  }
  window.setTimeout(poll, every);
  document.documentElement.dataset.urgentPush = "on";
})();
