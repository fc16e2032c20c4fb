/* Teamdeck: small progressive enhancements. Loaded with `defer` after htmx.
 * CSP: script-src 'self'; style-src 'self' -- no eval, no inline styles.
 * Everything is delegated on `document`, so it also works for content htmx swaps in. */
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  var MENU_SELECTOR = "details.switcher, details.user-menu, details.sidenav-fold";
  var OPEN_MENU_SELECTOR = "details.switcher[open], details.user-menu[open], details.sidenav-fold[open]";
  var TOAST_LIFETIME_MS = 6000;
  var COPIED_MS = 2000;

  /* ---------- Menus (<details>) ---------- */

  // The side navigation fold is only a menu when its summary is shown (narrow screens).
  function isMenu(details) {
    if (!details.matches(MENU_SELECTOR)) return false;
    if (details.classList.contains("sidenav-fold")) {
      var summary = details.querySelector(":scope > summary");
      return !!summary && summary.getClientRects().length > 0;
    }
    return true;
  }

  function openMenus() {
    return Array.prototype.filter.call(
      document.querySelectorAll(OPEN_MENU_SELECTOR),
      isMenu
    );
  }

  function closeMenu(details, returnFocus) {
    details.open = false;
    if (returnFocus) {
      var summary = details.querySelector(":scope > summary");
      if (summary) summary.focus();
    }
  }

  // Opening one menu closes the others (`toggle` does not bubble: listen in capture).
  document.addEventListener("toggle", function (event) {
    var details = event.target;
    if (!(details instanceof HTMLDetailsElement) || !details.open || !isMenu(details)) return;
    openMenus().forEach(function (other) {
      if (other !== details && !other.contains(details)) closeMenu(other, false);
    });
  }, true);

  // Click outside closes.
  document.addEventListener("click", function (event) {
    openMenus().forEach(function (details) {
      if (!details.contains(event.target)) closeMenu(details, false);
    });
  });

  // The narrow-screen fold starts closed; on wide screens it is always open.
  var wideQuery = window.matchMedia("(min-width: 800px)");
  var seenFolds = new WeakSet();
  function syncFolds(all) {
    document.querySelectorAll("details.sidenav-fold").forEach(function (fold) {
      if (!all && seenFolds.has(fold)) return;
      seenFolds.add(fold);
      fold.open = wideQuery.matches;
    });
  }
  if (wideQuery.addEventListener) {
    wideQuery.addEventListener("change", function () { syncFolds(true); });
  }

  /* ---------- Dialogs ---------- */

  function syncConfirm(container) {
    var expected = container.getAttribute("data-confirm-text");
    var input = container.querySelector("[data-confirm-input]");
    var value = input ? input.value : "";
    container.querySelectorAll("[data-confirm-submit]").forEach(function (button) {
      button.disabled = value !== expected;
    });
  }

  function syncAllConfirms(root) {
    (root || document).querySelectorAll("[data-confirm-text]").forEach(syncConfirm);
  }

  document.addEventListener("input", function (event) {
    var input = event.target.closest && event.target.closest("[data-confirm-input]");
    if (!input) return;
    var container = input.closest("[data-confirm-text]");
    if (container) syncConfirm(container);
  });

  document.addEventListener("click", function (event) {
    var opener = event.target.closest("[data-dialog-open]");
    if (opener) {
      var dialog = document.getElementById(opener.getAttribute("data-dialog-open"));
      // Without a dialog (or without showModal) the link/form fallback goes ahead.
      if (dialog && typeof dialog.showModal === "function") {
        event.preventDefault();
        openMenus().forEach(function (details) { closeMenu(details, false); });
        // A dialog shared by many rows takes its subject and its form's action from the
        // control that opened it (the action from data-dialog-action, else the link's href).
        var action = opener.getAttribute("data-dialog-action") ||
          (dialog.hasAttribute("data-dialog-shared") ? opener.getAttribute("href") : null);
        var form = dialog.querySelector("form");
        if (action && form) form.setAttribute("action", action);
        var subject = opener.getAttribute("data-dialog-subject");
        if (subject !== null) {
          dialog.querySelectorAll("[data-dialog-subject]").forEach(function (slot) { slot.textContent = subject; });
        }
        if (dialog.hasAttribute("data-confirm-text")) {
          var input = dialog.querySelector("[data-confirm-input]");
          if (input) input.value = "";
          syncConfirm(dialog);
        }
        if (!dialog.open) dialog.showModal();
      }
      return;
    }
    var closer = event.target.closest("[data-dialog-close]");
    if (closer) {
      var owner = closer.closest("dialog");
      if (owner) {
        event.preventDefault();
        owner.close();
      }
    }
  });

  /* ---------- Escape ---------- */

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape" || event.defaultPrevented) return;
    var menus = openMenus();
    if (!menus.length) return; // dialogs close natively
    // Close the innermost open menu that holds focus, else all of them.
    var active = document.activeElement;
    var focused = menus.filter(function (d) { return d.contains(active); });
    var targets = focused.length ? focused : menus;
    targets.forEach(function (d, i) { closeMenu(d, i === targets.length - 1); });
    event.preventDefault();
  });

  /* ---------- Copy buttons ---------- */

  var copyOriginal = new WeakMap();
  var copyTimers = new WeakMap();

  function nearestStatus(el) {
    for (var node = el.parentElement; node && node !== document.documentElement; node = node.parentElement) {
      var found = Array.prototype.find.call(node.querySelectorAll("[role=status]"), function (s) {
        return !s.closest(".toast, .toasts");
      });
      if (found) return found;
    }
    return null;
  }

  function fallbackCopy(source, text) {
    // Older browsers / non-secure contexts: select the field and let the user see it.
    if (source && typeof source.select === "function") {
      source.focus();
      source.select();
      try { return document.execCommand("copy"); } catch (e) { return false; }
    }
    return false;
  }

  function showCopyResult(button, ok) {
    if (!copyOriginal.has(button)) copyOriginal.set(button, button.textContent);
    button.textContent = ok ? "Copied" : "Copy failed";
    var status = nearestStatus(button);
    if (status) {
      status.textContent = ok ? "Copied to the clipboard." : "Could not copy. Select the text and copy it yourself.";
    }
    clearTimeout(copyTimers.get(button));
    copyTimers.set(button, setTimeout(function () {
      button.textContent = copyOriginal.get(button);
      copyOriginal.delete(button);
      if (status) status.textContent = "";
    }, COPIED_MS));
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-target]");
    if (!button) return;
    event.preventDefault();
    var source = document.getElementById(button.getAttribute("data-copy-target"));
    if (!source) return;
    var text = ("value" in source && typeof source.value === "string") ? source.value : source.textContent;
    text = text.trim();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(
        function () { showCopyResult(button, true); },
        function () { showCopyResult(button, fallbackCopy(source, text)); }
      );
    } else {
      showCopyResult(button, fallbackCopy(source, text));
    }
  });

  /* ---------- Print buttons ---------- */

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-print]");
    if (!button) return;
    event.preventDefault();
    window.print();
  });

  /* ---------- Local times ---------- */

  // The pages' own shape ("3 Dec 2026, 09:20 UTC"), in the viewer's time zone.
  var localFormat = new Intl.DateTimeFormat("en-GB", {
    day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit", timeZoneName: "short"
  });

  function localizeTimes(root) {
    (root || document).querySelectorAll("time.js-localtime[datetime]").forEach(function (el) {
      if (el.hasAttribute("data-localized")) return;
      var date = new Date(el.getAttribute("datetime"));
      if (isNaN(date.getTime())) return;
      if (!el.title) el.title = el.textContent.trim();
      el.textContent = localFormat.format(date);
      el.setAttribute("data-localized", "");
    });
  }

  /* ---------- Toasts ---------- */

  var scheduledToasts = new WeakSet();
  var observedToasts = null;
  var toastObserver = window.MutationObserver ? new MutationObserver(function () { scheduleToasts(); }) : null;

  function removeToast(toast) {
    var hadFocus = toast.contains(document.activeElement);
    var region = toast.parentElement;
    toast.remove();
    if (hadFocus) {
      var next = region && region.querySelector(".toast__close");
      if (next) next.focus({ preventScroll: true });
      else {
        var main = document.getElementById("main");
        if (main) { if (!main.hasAttribute("tabindex")) main.setAttribute("tabindex", "-1"); main.focus({ preventScroll: true }); }
      }
    }
  }

  function expire(toast) {
    if (!toast.isConnected) return;
    // Do not pull a toast from under the pointer or the keyboard focus.
    if (toast.matches(":hover") || toast.contains(document.activeElement)) {
      setTimeout(function () { expire(toast); }, 1500);
      return;
    }
    removeToast(toast);
  }

  function scheduleToasts() {
    var region = document.getElementById("toasts");
    if (toastObserver && region && region !== observedToasts) {
      toastObserver.disconnect();
      toastObserver.observe(region, { childList: true, subtree: true });
      observedToasts = region;
    }
    document.querySelectorAll(".toasts .toast, #toasts .toast").forEach(function (toast) {
      if (scheduledToasts.has(toast)) return;
      scheduledToasts.add(toast);
      setTimeout(function () { expire(toast); }, TOAST_LIFETIME_MS);
    });
  }

  document.addEventListener("click", function (event) {
    var close = event.target.closest(".toast__close");
    if (!close) return;
    var toast = close.closest(".toast");
    if (toast) { event.preventDefault(); removeToast(toast); }
  });

  /* ---------- Role changes: on purpose only ---------- */

  // Save appears once the choice differs from the member's role; moving through the options
  // sends nothing.
  document.addEventListener("change", function (event) {
    var form = event.target.closest && event.target.closest("form[data-role-form]");
    if (!form || event.target.name !== "role") return;
    var save = form.querySelector("button[type=submit]");
    if (event.target.value === form.getAttribute("data-current")) save.setAttribute("data-unchanged", "");
    else save.removeAttribute("data-unchanged");
  });

  // Granting Admin asks first, in the grant-admin dialog; "Make admin" sends the form with
  // the confirmation the server asks for.
  var pendingGrant = null;
  document.addEventListener("htmx:confirm", function (event) {
    var form = event.detail.elt;
    if (!form.matches || !form.matches("form[data-role-form]")) return;
    var role = form.querySelector("select[name=role]").value;
    if (role !== "admin" || form.getAttribute("data-current") === "admin" || form.querySelector("input[name=confirmed]")) return;
    var dialog = document.getElementById("grant-admin");
    if (!dialog || typeof dialog.showModal !== "function") return;
    event.preventDefault();
    pendingGrant = { form: form, issue: event.detail.issueRequest };
    dialog.querySelectorAll("[data-dialog-subject]").forEach(function (slot) {
      slot.textContent = form.getAttribute("data-member");
    });
    dialog.showModal();
  });
  document.addEventListener("click", function (event) {
    if (!event.target.closest("[data-grant-admin]") || !pendingGrant) return;
    var grant = pendingGrant;
    pendingGrant = null;
    var confirmed = document.createElement("input");
    confirmed.type = "hidden";
    confirmed.name = "confirmed";
    confirmed.value = "admin";
    grant.form.appendChild(confirmed);
    document.getElementById("grant-admin").close();
    grant.issue(true);
  });
  document.addEventListener("close", function (event) {
    if (event.target.id === "grant-admin") pendingGrant = null;
  }, true);

  /* ---------- htmx integration ---------- */

  // htmx 2 does not swap 4xx/5xx responses. Our server answers htmx errors with a toast
  // fragment and an HX-Retarget header: swap those (and only those).
  document.addEventListener("htmx:beforeSwap", function (event) {
    var d = event.detail;
    if (d && d.isError && d.xhr && d.xhr.getResponseHeader("HX-Retarget")) {
      d.shouldSwap = true;
    }
  });

  function enhance() {
    syncFolds(false);
    syncAllConfirms();
    localizeTimes();
    scheduleToasts();
  }

  document.body.addEventListener("htmx:afterSettle", enhance);
  document.body.addEventListener("htmx:oobAfterSwap", scheduleToasts);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", enhance);
  else enhance();
})();
