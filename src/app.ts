/**
 * createApp(): every router under /v1, the OpenAPI document, the docs page, and the one place
 * errors become problem+json.
 */
import { Scalar } from "@scalar/hono-api-reference";
import { NotFoundError } from "./services/errors";
import { auditTrail } from "./api/middleware/audit";
import { boundedJsonBody } from "./api/middleware/body";
import { requestId } from "./api/middleware/request-id";
import { rateLimitHeaders } from "./api/middleware/rate-limit-headers";
import { requestLog } from "./api/middleware/request-log";
import { renderProblem } from "./api/problem";
import { TAG_DESCRIPTIONS, withAnswerHeaders } from "./api/openapi";
import { createRouter } from "./api/router";
import { apiKeysRouter } from "./api/routes/api-keys/api-keys.index";
import { auditRouter } from "./api/routes/audit/audit.index";
import { budgetsRouter } from "./api/routes/budgets/budgets.index";
import { executionsRouter } from "./api/routes/executions/executions.index";
import { metaRouter } from "./api/routes/meta/meta.index";
import { pricesRouter } from "./api/routes/prices/prices.index";
import { telemetryRouter } from "./api/routes/telemetry/telemetry.index";
import { concurrencyRouter } from "./api/routes/concurrency/concurrency.index";
import { signalsRouter } from "./api/routes/signals/signals.index";
import { mapItemsRouter } from "./api/routes/map-items/map-items.index";
import { inboxRouter } from "./api/routes/inbox/inbox.index";
import { redriveRouter } from "./api/routes/redrive/redrive.index";
import { bulkRouter } from "./api/routes/bulk/bulk.index";
import { dryRunRouter } from "./api/routes/dry-run/dry-run.index";
import { workflowsRouter } from "./api/routes/workflows/workflows.index";

/** Scalar's standalone bundle (MIT), vendored in public/ and served as a static asset. */
export const SCALAR_BUNDLE_PATH = "/vendor/scalar/standalone.js";

export const API_INFO = {
  title: "Stepline API",
  version: "0.1.0",
  description:
    "Durable workflow executions on Cloudflare's edge. Authenticate with `Authorization: Bearer <key>` or `X-API-Key: <key>`. " +
    "Errors are RFC 9457 problem details with a stable `code`.",
};

export function createApp() {
  const app = createRouter();

  app.use("*", requestId, requestLog);
  app.use("/v1/*", rateLimitHeaders, boundedJsonBody, auditTrail);

  app.route("/", metaRouter);
  app.route("/v1", workflowsRouter);
  // Before the executions router: `POST /v1/executions/bulk` is not an execution id.
  app.route("/v1", bulkRouter);
  app.route("/v1", executionsRouter);
  app.route("/v1", apiKeysRouter);
  app.route("/v1", auditRouter);
  app.route("/v1", pricesRouter);
  app.route("/v1", budgetsRouter);
  app.route("/v1", telemetryRouter);
  app.route("/v1", concurrencyRouter);
  app.route("/v1", signalsRouter);
  app.route("/v1", mapItemsRouter);
  app.route("/v1", inboxRouter);
  app.route("/v1", redriveRouter);
  app.route("/v1", dryRunRouter);

  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", {
    type: "http",
    scheme: "bearer",
    description: "An API key as a bearer token.",
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "apiKeyHeader", {
    type: "apiKey",
    in: "header",
    name: "X-API-Key",
    description: "An API key in the X-API-Key header.",
  });
  app.get("/openapi.json", (c) =>
    c.json(
      withAnswerHeaders(
        app.getOpenAPI31Document({
          openapi: "3.1.0",
          info: API_INFO,
          servers: [{ url: new URL(c.req.url).origin, description: "This service" }],
          tags: TAG_DESCRIPTIONS,
        }),
      ),
    ),
  );
  // The reference UI is served from our own static assets (public/vendor/scalar), not a CDN.
  app.get("/docs", Scalar({ url: "/openapi.json", pageTitle: "Stepline API reference", cdn: SCALAR_BUNDLE_PATH }));

  app.notFound((c) => renderProblem(new NotFoundError("ROUTE_NOT_FOUND", `No route for ${c.req.method} ${c.req.path}.`), c));
  app.onError((err, c) => renderProblem(err, c));
  return app;
}
