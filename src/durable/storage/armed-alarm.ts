/**
 * A Durable Object's one alarm, mirrored in memory so that re-arming writes storage only when the
 * time moves (most changes leave the next due time where it was). Used by the objects whose alarm
 * serves a book of due times: a shared budget's, a concurrency key's.
 */
export class ArmedAlarm {
  /** The alarm as set (wall-clock ms); null: none. */
  private at: number | null = null;

  constructor(private readonly storage: DurableObjectStorage) {}

  /** Reads the alarm as stored: call it in the constructor's `blockConcurrencyWhile`. */
  async load(): Promise<void> {
    this.at = await this.storage.getAlarm();
  }

  /** The alarm fired: it is spent. */
  fired(): void {
    this.at = null;
  }

  /** Points the alarm at `wall` (epoch ms), or deletes it (null). */
  async set(wall: number | null): Promise<void> {
    if (wall === this.at) return;
    this.at = wall;
    if (wall === null) await this.storage.deleteAlarm();
    else await this.storage.setAlarm(wall);
  }
}
