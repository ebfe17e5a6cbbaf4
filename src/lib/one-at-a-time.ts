/**
 * Runs async work one call at a time: a call made while another runs waits for it to end, then
 * runs (it sees what the earlier one left). How the outbox's deliveries (to D1, to a concurrency
 * key's object, to other executions) keep from sending the same message twice at once.
 */
export class OneAtATime<T> {
  private running: Promise<T> | null = null;

  async run(work: () => Promise<T>): Promise<T> {
    while (this.running) await this.running.catch(() => undefined);
    const current = work().finally(() => {
      if (this.running === current) this.running = null;
    });
    this.running = current;
    return current;
  }
}
