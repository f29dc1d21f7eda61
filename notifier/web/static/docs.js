// /docs: Swagger UI over this API's own schema, from files this app serves (no CDN, so it
// works offline; no inline script, so a Content-Security-Policy of 'self' allows it).
window.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.schema,
    dom_id: "#swagger-ui",
    deepLinking: true,
    layout: "BaseLayout",
    presets: [SwaggerUIBundle.presets.apis],
    validatorUrl: null, // the default sends the schema to an outside validator
  });
});
