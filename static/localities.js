// Aula: «Localidad» offers only the localities of the chosen «Departamento».
// Without this script the page still works: the list shows every locality grouped by
// department, and the server refuses a locality of another department at its field.
(function () {
  'use strict';
  var departments = document.querySelectorAll('select[data-localities]');
  Array.prototype.forEach.call(departments, function (department) {
    var locality = document.getElementById(department.getAttribute('data-localities'));
    if (!locality) return;
    // Hidden <option>s still show on some phones, so the list is rebuilt from a copy.
    var groups = Array.prototype.map.call(locality.querySelectorAll('optgroup'), function (g) {
      return g.cloneNode(true);
    });
    function narrow() {
      var chosen = locality.value;
      var wanted = department.value;
      Array.prototype.forEach.call(locality.querySelectorAll('optgroup'), function (g) {
        locality.removeChild(g);
      });
      groups.forEach(function (g) {
        if (wanted === '' || g.getAttribute('data-department') === wanted) {
          locality.appendChild(g.cloneNode(true));
        }
      });
      // Keep the choice when it is still offered; otherwise back to «Elegí…».
      locality.value = chosen;
      if (locality.value !== chosen) locality.value = '';
    }
    department.addEventListener('change', narrow);
    narrow();
  });
})();
