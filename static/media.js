// Lesson player: starts on the light rendition unless the learner chose another quality
// (remembered in localStorage), and always light when the browser says it saves data. Choosing
// changes the source without fetching anything until play is pressed (preload="none").
(function () {
  'use strict';
  var KEY = 'aula.calidad';
  function saved() {
    try { return window.localStorage.getItem(KEY); } catch (e) { return null; }
  }
  function remember(value) {
    try { window.localStorage.setItem(KEY, value); } catch (e) { /* private mode: no memory */ }
  }
  var saveData = !!(navigator.connection && navigator.connection.saveData);

  function setUp(figure) {
    var video = figure.querySelector('video');
    var choices = figure.querySelector('.media-quality');
    if (!video || !choices) return;
    var radios = Array.prototype.slice.call(choices.querySelectorAll('input[name="calidad"]'));
    function find(value) {
      for (var i = 0; i < radios.length; i++) if (radios[i].value === value) return radios[i];
      return null;
    }
    function use(radio) {
      radio.checked = true;
      if (video.getAttribute('src') === radio.dataset.src) return;
      var at = video.currentTime;
      var playing = !video.paused;
      // A src attribute wins over the <source> list, and setting it restarts the element's
      // loading, which preload="none" stops before any byte is fetched. (An explicit load()
      // makes Chromium fetch the start of the file anyway.)
      video.setAttribute('src', radio.dataset.src);
      if (at > 0 || playing) {
        video.addEventListener('loadedmetadata', function () {
          if (at > 0) video.currentTime = at;
          if (playing) video.play();
        }, { once: true });
        if (playing) video.play();
      }
    }
    var light = find('liviano');
    var wanted = saveData ? 'liviano' : saved();
    var start = (wanted && find(wanted)) || light || radios[0];
    // The light source is already first in the page: only another choice needs a change.
    if (start && start !== light) use(start);
    else if (start) start.checked = true;
    choices.hidden = false;
    choices.addEventListener('change', function (event) {
      var radio = event.target;
      if (!radio || radio.name !== 'calidad') return;
      remember(radio.value);
      use(radio);
    });
  }

  var figures = document.querySelectorAll('figure[data-player]');
  for (var i = 0; i < figures.length; i++) setUp(figures[i]);
})();
