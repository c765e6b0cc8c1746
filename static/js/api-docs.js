// /api/docs: render the OpenAPI document with the vendored Swagger UI (no inline script, so
// the page runs under the site's Content-Security-Policy).
window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    deepLinking: true,
    // Calls from "Try it out" carry the page's session cookie; unsafe methods need the CSRF token.
    requestInterceptor: function (request) {
      var match = document.cookie.match(/(?:^|; )csrftoken=([^;]*)/);
      if (match) request.headers["X-CSRFToken"] = decodeURIComponent(match[1]);
      return request;
    },
  });
});
