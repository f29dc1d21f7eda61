// "Quitter rapidement" (after GOV.UK's "Exit this page"): one click on the control, or the
// Shift key pressed 3 times within a second, replaces this page with the control's address,
// /me/exit: it ends the code's session on the server, tells the browser to forget this site
// (Clear-Site-Data) and leads to a neutral public site. location.replace leaves no entry of
// this page in the back history. Without JavaScript the control is a plain link to /me/exit.
// Moving between the pages replaces the entry too (location.replace): after the exit, the
// back button finds none of them, not only the last one (a form's answer still adds one).
(function () {
  "use strict";
  var control = document.getElementById("quick-exit");
  if (!control) {
    return;
  }
  document.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest("a[href]") : null;
    if (!link || link === control || event.defaultPrevented || event.button !== 0 ||
        event.metaKey || event.ctrlKey || event.shiftKey || event.altKey || link.target ||
        link.origin !== window.location.origin || link.pathname.indexOf("/me/") !== 0 ||
        link.hash && link.pathname === window.location.pathname) {
      return;
    }
    event.preventDefault();
    window.location.replace(link.href);
  });
  function leave(event) {
    if (event) {
      event.preventDefault();
    }
    document.body.hidden = true; // nothing left on screen while the neutral site loads
    document.title = "";
    window.location.replace(control.href);
  }
  control.addEventListener("click", leave);
  var presses = 0;
  var timer = null;
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Shift" || event.repeat) {
      return;
    }
    presses += 1;
    window.clearTimeout(timer);
    timer = window.setTimeout(function () {
      presses = 0;
    }, 1000);
    if (presses >= 3) {
      leave();
    }
  });
})();
