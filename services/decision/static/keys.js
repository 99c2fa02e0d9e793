// Keyboard shortcuts: j/k move in the queue, Enter opens, n next case, / search, c claim, d decide, g criteria.
(function () {
  function typing(e) { var t = e.target.tagName; return t === "INPUT" || t === "TEXTAREA" || t === "SELECT"; }
  var rows = Array.prototype.slice.call(document.querySelectorAll("#queue tbody tr[data-href]"));
  var index = -1;
  function select(i) {
    if (!rows.length) return;
    index = Math.max(0, Math.min(rows.length - 1, i));
    rows.forEach(function (r) { r.classList.remove("selected"); });
    rows[index].classList.add("selected");
    rows[index].scrollIntoView({ block: "nearest" });
  }
  document.addEventListener("keydown", function (e) {
    if (typing(e) || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "j") select(index + 1);
    else if (e.key === "k") select(index - 1);
    else if (e.key === "Enter" && index >= 0) window.location = rows[index].dataset.href;
    else if (e.key === "n") { var n = document.querySelector("a[accesskey=n]"); if (n) window.location = n.href; }
    else if (e.key === "c") { var c = document.getElementById("claim-form"); if (c) c.submit(); }
    else if (e.key === "d") { var d = document.querySelector("#decision-form input[name=measure]"); if (d) { d.focus(); e.preventDefault(); } }
    else if (e.key === "g") { window.location = "/criteria"; }
    else if (e.key === "/") { var q = document.getElementById("search"); if (q) { q.focus(); e.preventDefault(); } }
  });
  // lets tests (and other scripts) know the shortcuts are live
  document.documentElement.dataset.shortcuts = "on";
})();
