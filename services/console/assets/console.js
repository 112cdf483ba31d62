// procgate console: keyboard navigation of lists (j/k to move, Enter to open), and focus
// management after htmx swaps. No inline script anywhere: the page's CSP forbids it.
(function () {
  'use strict';

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll('[data-row]'));
  }

  function current(list) {
    return list.findIndex(function (row) { return row.classList.contains('selected'); });
  }

  function select(list, index) {
    list.forEach(function (row) {
      row.classList.remove('selected');
      row.removeAttribute('aria-selected');
    });
    var row = list[index];
    if (!row) return;
    row.classList.add('selected');
    row.setAttribute('aria-selected', 'true');
    var link = row.querySelector('a');
    if (link) link.focus();
  }

  document.addEventListener('keydown', function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    var target = event.target;
    var typing = target && (target.isContentEditable ||
      /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
    if (typing) return;
    var list = rows();
    if (list.length === 0) return;
    var at = current(list);
    if (event.key === 'j') {
      select(list, Math.min(at + 1, list.length - 1));
      event.preventDefault();
    } else if (event.key === 'k') {
      select(list, Math.max(at - 1, 0));
      event.preventDefault();
    } else if (event.key === 'Enter' && at >= 0 && target === document.body) {
      var link = list[at].querySelector('a');
      if (link) link.click();
      event.preventDefault();
    }
  });

  // After a boosted navigation, focus the new page's heading region so screen readers and
  // keyboard users start at the content, as after a full page load.
  document.addEventListener('htmx:afterSettle', function (event) {
    if (event.detail && event.detail.boosted) {
      var main = document.getElementById('main');
      if (main) main.focus();
    }
  });
})();
