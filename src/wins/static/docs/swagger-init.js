/* Starts the vendored Swagger UI on /docs. A file rather than an inline script: the pages' CSP allows script
 * from our own origin only. The options are FastAPI's defaults, plus no validator badge (it would load an image
 * from validator.swagger.io, which a site without internet cannot reach and the CSP refuses anyway). */
"use strict";

window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
});
