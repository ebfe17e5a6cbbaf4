/* global console */
// The Worker of the "alarm" fault case: Stepline's own entry (src/index.ts) with its
// ExecutionObject wrapped so that the first FAULT_ALARM_THROWS alarm invocations of each object
// throw before the production alarm runs — as if the object crashed in its alarm. The platform
// retries a failed alarm (with backoff); Stepline must then finish every execution as if nothing
// happened. Each injected failure logs one `fault_injected` line (with the platform's retryCount),
// which the harness counts.
//
// Only the fault case serves this (bench/faults/alarm.mjs generates a wrangler config whose
// `main` is this file, and sets FAULT_ALARM_THROWS in its own vars file): the production classes
// carry no fault hook (src/durable/ARCHITECTURE.md, "Dependencies").
import worker from "../../src/index";
import { ExecutionObject as ProductionExecutionObject } from "../../src/durable/execution/execution-object";

export { BudgetObject, BulkObject, ConcurrencyObject, RateLimitObject } from "../../src/index";

export class ExecutionObject extends ProductionExecutionObject {
  thrown = 0;

  async alarm(alarmInfo) {
    const k = Number(this.env.FAULT_ALARM_THROWS ?? 0);
    if (this.thrown < k) {
      this.thrown++;
      console.log(JSON.stringify({ message: "fault_injected", fault: "alarm_throw", object: this.ctx.id.name ?? this.ctx.id.toString(), n: this.thrown, of: k, retry_count: alarmInfo?.retryCount ?? null }));
      throw new Error(`fault injected: alarm failure ${this.thrown} of ${k}`);
    }
    return super.alarm(alarmInfo);
  }
}

export default worker;
