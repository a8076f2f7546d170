/**
 * A one-way gate: `wait()` resolves once `open()` has been called, for every
 * waiter before or after. Opening twice is harmless; a latch never closes.
 */
export class Latch {
  private release: () => void = () => undefined;
  private readonly opened = new Promise<void>((resolve) => (this.release = resolve));

  open(): void {
    this.release();
  }

  wait(): Promise<void> {
    return this.opened;
  }
}
