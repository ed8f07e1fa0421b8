/* leakpress default theme: small progressive enhancements. Every page works without this file.
   Plain script (no modules, no fetch), so it runs from file:// as well as from a server.
   - "/" focuses the search box (the search page's own box first, else the header's).
   - A "Copy" button beside each element marked data-copy (the SHA-256 on document pages). */
(function () {
  'use strict';

  function isTyping(target) {
    if (!target || !target.tagName) return false;
    var tag = target.tagName.toLowerCase();
    return tag === 'input' || tag === 'textarea' || tag === 'select' || target.isContentEditable;
  }

  function searchBox() {
    return (
      document.querySelector('main input[type="search"]') ||
      document.querySelector('.site-header input[type="search"]')
    );
  }

  document.addEventListener('keydown', function (event) {
    if (event.key !== '/' || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.defaultPrevented || isTyping(event.target)) return;
    var box = searchBox();
    if (!box) return;
    event.preventDefault();
    box.focus();
    if (box.select) box.select();
  });

  // Hint the shortcut to sighted keyboard users without changing the accessible name.
  var headerBox = document.querySelector('.site-header input[type="search"]');
  if (headerBox) {
    headerBox.setAttribute('aria-keyshortcuts', '/');
    if (headerBox.placeholder) headerBox.placeholder = headerBox.placeholder + ' (press /)';
  }

  function copyText(text, done) {
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(
        function () { done(true); },
        function () { done(fallbackCopy(text)); }
      );
    } else {
      done(fallbackCopy(text));
    }
  }

  function fallbackCopy(text) {
    var area = document.createElement('textarea');
    area.value = text;
    area.setAttribute('readonly', '');
    area.className = 'visually-hidden';
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try {
      ok = document.execCommand('copy');
    } catch (e) {
      ok = false;
    }
    document.body.removeChild(area);
    return ok;
  }

  var targets = document.querySelectorAll('[data-copy]');
  for (var i = 0; i < targets.length; i++) {
    addCopyButton(targets[i]);
  }

  function addCopyButton(target) {
    var what = target.getAttribute('data-copy') || 'text';
    var button = document.createElement('button');
    var label = 'Copy ' + what;
    button.type = 'button';
    button.className = 'copy-button';
    button.textContent = 'Copy';
    button.setAttribute('aria-label', label);
    var status = document.createElement('span');
    status.className = 'visually-hidden';
    status.setAttribute('role', 'status');
    var timer = null;
    button.addEventListener('click', function () {
      copyText((target.textContent || '').trim(), function (ok) {
        button.textContent = ok ? 'Copied' : 'Select and copy';
        status.textContent = ok ? what + ' copied to the clipboard' : 'Copying failed; select the text to copy it';
        if (!ok) selectText(target);
        if (timer) clearTimeout(timer);
        timer = setTimeout(function () {
          button.textContent = 'Copy';
          status.textContent = '';
        }, 2000);
      });
    });
    var parent = target.parentNode;
    var br = document.createElement('br');
    parent.insertBefore(br, target.nextSibling);
    parent.insertBefore(button, br.nextSibling);
    parent.insertBefore(status, button.nextSibling);
  }

  function selectText(node) {
    var selection = window.getSelection && window.getSelection();
    if (!selection || !document.createRange) return;
    var range = document.createRange();
    range.selectNodeContents(node);
    selection.removeAllRanges();
    selection.addRange(range);
  }
})();
