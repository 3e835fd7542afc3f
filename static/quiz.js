// Aula: autosave and countdown of a quiz attempt page.
// The page works without this script (each page of questions is a form that saves on "next");
// this only saves every answer in the background as it is given, and shows the time left as
// the server counts it. The server's clock decides; this countdown is resynchronised with the
// server's remaining seconds on every save.
(function () {
  'use strict';
  var form = document.getElementById('intento');
  if (!form || !window.fetch) return;
  var url = form.getAttribute('data-guardar');
  var status = document.getElementById('guardado');
  var clock = document.getElementById('restante');
  var dirty = {};          // slots changed since the last successful save
  var inFlight = false;
  var again = false;
  var timer = null;
  var retryDelay = 2000;
  var closed = false;

  function say(text) { if (status && status.textContent !== text) status.textContent = text; }

  function slotOf(el) {
    var f = el.closest ? el.closest('fieldset[data-slot]') : null;
    return f ? f.getAttribute('data-slot') : null;
  }

  function schedule(delay) {
    if (timer) clearTimeout(timer);
    timer = setTimeout(save, delay);
  }

  // The whole page's fields, naming the questions changed: only those are saved, so this
  // page cannot overwrite answers given meanwhile on another phone.
  function body(slots) {
    var data = new FormData(form);
    var params = new URLSearchParams();
    data.forEach(function (v, k) { params.append(k, v); });
    slots.forEach(function (s) { params.append('slot', s); });
    return params.toString();
  }

  function save() {
    timer = null;
    if (closed) return;
    if (inFlight) { again = true; return; }
    var slots = Object.keys(dirty);
    if (!slots.length) return;
    dirty = {};
    inFlight = true;
    say('Guardando…');
    fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: body(slots)
    }).then(function (r) {
      return r.json().then(function (j) { return { ok: r.ok, status: r.status, json: j }; },
                           function () { return { ok: false, status: r.status, json: null }; });
    }).then(function (res) {
      inFlight = false;
      if (res.ok && res.json) {
        retryDelay = 2000;
        say('Guardado ' + res.json.guardado);
        slots.forEach(function (s) {
          var el = form.querySelector('[data-estado="' + s + '"]');
          if (el) el.textContent = 'Guardado ' + res.json.guardado;
        });
        if (clock && typeof res.json.restante === 'number') setRemaining(res.json.restante);
        if (again || Object.keys(dirty).length) { again = false; schedule(0); }
      } else if (res.status === 409 && res.json) {
        closed = true;
        say(res.json.error);
        setTimeout(function () { window.location.href = res.json.ir; }, 2500);
      } else {
        fail(slots);
      }
    }, function () { inFlight = false; fail(slots); });
  }

  function fail(slots) {
    slots.forEach(function (s) { dirty[s] = true; });
    say('Sin conexión: tus respuestas se guardan apenas vuelva. No cierres esta página.');
    schedule(retryDelay);
    retryDelay = Math.min(retryDelay * 2, 30000);
  }

  function changed(e) {
    var s = slotOf(e.target);
    if (s === null) return;
    dirty[s] = true;
    var el = form.querySelector('[data-estado="' + s + '"]');
    if (el) el.textContent = 'Sin guardar';
    if (!closed) say('Hay cambios sin guardar…');
    // Typing waits for a pause; a click saves at once.
    schedule(e.type === 'input' && e.target.tagName !== 'SELECT' ? 1200 : 200);
  }

  form.addEventListener('change', changed);
  form.addEventListener('input', changed);
  window.addEventListener('online', function () { if (Object.keys(dirty).length) schedule(0); });
  window.addEventListener('beforeunload', function (e) {
    if (!closed && (Object.keys(dirty).length || inFlight)) { e.preventDefault(); e.returnValue = ''; }
  });
  // Navigating with the form's own buttons saves through the form: nothing to warn about.
  form.addEventListener('submit', function () { closed = true; });

  // Countdown.
  var deadline = null;
  var announced = {};
  var alertBox = document.getElementById('aviso-tiempo');
  function setRemaining(seconds) { deadline = Date.now() + seconds * 1000; tick(); }
  function tick() {
    if (deadline === null) return;
    var left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
    var m = Math.floor(left / 60), s = left % 60;
    clock.textContent = m + ':' + (s < 10 ? '0' : '') + s;
    if (left <= 60) clock.parentNode.classList.add('timer-low');
    // The clock itself is not a live region (it would be read every second): screen readers
    // hear the remaining time at 5 minutes and at 1 minute.
    [300, 60].forEach(function (mark) {
      if (left <= mark && !announced[mark] && alertBox) {
        announced[mark] = true;
        alertBox.textContent = mark === 60 ? 'Queda 1 minuto.' : 'Quedan 5 minutos.';
      }
    });
    if (left === 0 && !closed) {
      closed = true;
      say('Se terminó el tiempo: entregando tus respuestas…');
      var go = document.createElement('input');
      go.type = 'hidden'; go.name = 'ir'; go.value = 'entregar';
      form.appendChild(go);
      form.submit();
    }
  }
  if (clock) {
    setRemaining(parseInt(clock.getAttribute('data-restante'), 10) || 0);
    setInterval(tick, 1000);
  }
})();
