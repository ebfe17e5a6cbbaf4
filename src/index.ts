/** Worker entry: the HTTP app and the Durable Object classes (one per execution, one per shared budget). */
import { createApp } from "./app";

export { ExecutionObject } from "./durable/execution/execution-object";
export { BudgetObject } from "./durable/budget/budget-object";
export { RateLimitObject } from "./durable/rate-limit/rate-limit-object";
export { ConcurrencyObject } from "./durable/concurrency/concurrency-object";
export { BulkObject } from "./durable/bulk/bulk-object";

const app = createApp();

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Env>;
