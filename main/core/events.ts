import type { EventName, EventPayload } from '../../preload/contract.js';

export type EngineListener = (event: EventName, payload: unknown) => void;

/** The engine's event stream: every face (window, WebSocket, CLI --wait) subscribes to it. */
export class EngineEvents {
  private readonly listeners = new Set<EngineListener>();

  emit<E extends EventName>(event: E, payload: EventPayload<E>): void {
    for (const l of [...this.listeners]) {
      try {
        l(event, payload);
      } catch {
        // A broken subscriber (a closed socket) must not stop the others or the engine.
      }
    }
  }

  subscribe(listener: EngineListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
