/** Worker entry: the HTTP app and the execution Durable Object class. */
import { createApp } from "./app";

export { ExecutionObject } from "./durable/execution/execution-object";

const app = createApp();

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Env>;
