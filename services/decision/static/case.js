// The case page: the decision form shows only what the chosen measure needs, fills the reason
// templates of the chosen clause, submits with one key; media stay blurred until clicked.
(function () {
  var form = document.getElementById("decision-form");
  var media = document.getElementById("media");
  if (media) {
    media.addEventListener("click", function (e) {
      var cover = e.target.closest(".media-cover");
      if (cover) { cover.classList.toggle("shown"); e.preventDefault(); }
    });
  }
  if (!form) return;
  var radios = Array.prototype.slice.call(form.querySelectorAll("input[name=measure]"));
  var blocks = Array.prototype.slice.call(form.querySelectorAll("[data-measures]")).filter(function (b) {
    return b.tagName !== "OPTION";
  });
  var clause = form.querySelector("#clause_id");
  var templates = JSON.parse((document.getElementById("reason-templates") || {}).textContent || "{}");
  var ACTION_KEYS = ["no_action", "poster_inquiry", "refer_specialist", "delay_other"];  // casework.py
  var targets = { internal_note: "reason", requester_text: "requester_reason", poster_text: "facts" };

  function measure() { var r = form.querySelector("input[name=measure]:checked"); return r ? r.value : ""; }

  function showFields() {
    var m = measure();
    blocks.forEach(function (b) {
      var shown = !m || b.dataset.measures.split(" ").indexOf(m) >= 0;
      b.hidden = !shown;
    });
    if (clause) {  // a clause grounds only the measures it names
      Array.prototype.forEach.call(clause.options, function (o) {
        o.hidden = !!(m && o.dataset.measures && o.dataset.measures.split(" ").indexOf(m) < 0);
      });
    }
  }

  // A template fills a box only while it is empty or still holds the previous template's text,
  // so nothing the moderator typed is ever overwritten.
  function fillTemplate(key) {
    var t = templates[key];
    Object.keys(targets).forEach(function (field) {
      var box = form.querySelector("textarea[name=" + targets[field] + "]");
      if (!box) return;
      var untouched = !box.value || box.value === box.dataset.template;
      var text = t ? (t[field] || "") : "";
      if (untouched) { box.value = text; box.dataset.template = text; }
    });
  }

  radios.forEach(function (r) {
    r.addEventListener("change", function () {
      showFields();
      if (ACTION_KEYS.indexOf(r.value) >= 0) fillTemplate(r.value);
      else if (clause && clause.value) fillTemplate(clause.value);
    });
  });
  if (clause) clause.addEventListener("change", function () { fillTemplate(clause.value); });
  showFields();

  function submitWith(value) {
    var button = form.querySelector("button[name=then][value=" + value + "]");
    if (form.requestSubmit) form.requestSubmit(button); else button.click();
  }
  document.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault(); submitWith("next"); return;
    }
    var t = e.target.tagName;
    if (t === "INPUT" || t === "TEXTAREA" || t === "SELECT" || e.ctrlKey || e.metaKey || e.altKey) return;
    var n = parseInt(e.key, 10);
    if (n >= 1 && n <= radios.length) {
      radios[n - 1].checked = true; radios[n - 1].dispatchEvent(new Event("change")); radios[n - 1].focus();
      e.preventDefault();
    }
  });
  document.documentElement.dataset.caseForm = "on";
})();
