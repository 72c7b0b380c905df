"use strict";
// The login page: posts the credentials as JSON, the server answers with an HttpOnly session cookie,
// then the browser goes back where it came from (a path on this server only).
(function () {
  function target() {
    var next = new URLSearchParams(window.location.search).get("next") || "";
    if (next.charAt(0) !== "/" || next.charAt(1) === "/" || next.charAt(1) === "\\") {
      return "./";
    }
    return next;
  }
  function showError(text) {
    var box = document.getElementById("login-error");
    box.textContent = text;
    box.hidden = false;
  }
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("login-form");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var body = JSON.stringify({
        username: document.getElementById("username").value,
        password: document.getElementById("password").value
      });
      fetch("ajax-api/2.0/fluvial/users/login", {
        method: "POST", credentials: "same-origin", headers: {"Content-Type": "application/json"}, body: body
      }).then(function (response) {
        if (response.ok) {
          window.location.assign(target());
        } else if (response.status === 429) {
          showError("Too many failed attempts. Wait a few minutes and try again.");
        } else {
          showError("Wrong username or password.");
        }
      }, function () {
        showError("The server did not answer.");
      });
    });
  });
})();
