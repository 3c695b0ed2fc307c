// The HTML report's filters: by severity and by host, in the browser, without a network.
(function () {
  var root = document.querySelector('.mailtls');
  var boxes = root.querySelectorAll('input[data-severity]');
  var host = root.querySelector('select[name=host]');
  function apply() {
    var wanted = {};
    boxes.forEach(function (b) { wanted[b.dataset.severity] = b.checked; });
    var shown = 0;
    root.querySelectorAll('details.finding').forEach(function (f) {
      var visible = wanted[f.dataset.severity] && (!host.value || f.dataset.host === host.value);
      f.hidden = !visible;
      if (visible) { shown += 1; }
    });
    root.querySelectorAll('section.host').forEach(function (s) {
      s.hidden = (host.value && s.dataset.host !== host.value) ||
        (s.querySelector('details.finding') !== null && s.querySelector('details.finding:not([hidden])') === null);
    });
    root.querySelectorAll('tr[data-host]').forEach(function (r) {
      r.hidden = Boolean(host.value) && r.dataset.host !== host.value;
    });
    root.querySelector('#shown').textContent = String(shown);
  }
  boxes.forEach(function (b) { b.addEventListener('change', apply); });
  host.addEventListener('change', apply);
  apply();
})();
