// Pinch, drag and wheel zoom of an SVG's viewBox, with pointer events (touch, pen and mouse alike).
//
// The view is written straight onto the <svg> element, as the map writes its robots' transforms,
// so a gesture re-renders nothing. A single pointer only pans once it moved a few pixels: a tap
// stays a click on whatever it landed on (a robot).

import { useLayoutEffect, useMemo } from "preact/hooks";

export type Box = [number, number, number, number];

const MOVE_PX = 6;
const MOST_ZOOM = 20;
const WHEEL_STEP = 1.15;

interface Point {
  x: number;
  y: number;
}

export interface PanZoom {
  /** Callback ref for the <svg>. */
  ref: (node: SVGSVGElement | null) => void;
  /** Back to the whole level. */
  reset: () => void;
}

export function usePanZoom(base: Box): PanZoom {
  const gestures = useMemo(() => new Gestures(), []);
  const key = base.join(" ");
  useLayoutEffect(() => gestures.setBase(base), [gestures, key]);
  return gestures;
}

class Gestures implements PanZoom {
  private svg: SVGSVGElement | null = null;
  private base: Box = [0, 0, 1, 1];
  private view: Box = [0, 0, 1, 1];
  private readonly pointers = new Map<number, Point>();
  private dragging = false;
  private origin: Point | null = null;

  readonly ref = (node: SVGSVGElement | null): void => {
    if (node === this.svg) return;
    const old = this.svg;
    if (old) {
      old.removeEventListener("pointerdown", this.onDown);
      old.removeEventListener("pointermove", this.onMove);
      old.removeEventListener("pointerup", this.onUp);
      old.removeEventListener("pointercancel", this.onUp);
      old.removeEventListener("click", this.onClick, true);
      old.removeEventListener("wheel", this.onWheel);
    }
    this.svg = node;
    if (!node) return;
    node.addEventListener("pointerdown", this.onDown);
    node.addEventListener("pointermove", this.onMove);
    node.addEventListener("pointerup", this.onUp);
    node.addEventListener("pointercancel", this.onUp);
    node.addEventListener("click", this.onClick, true);
    node.addEventListener("wheel", this.onWheel, { passive: false });
    this.write(this.view);
  };

  readonly reset = (): void => this.write(this.base);

  setBase(base: Box): void {
    this.base = base;
    this.write(base);
  }

  private write(box: Box): void {
    this.view = box;
    this.svg?.setAttribute("viewBox", box.map((v) => v.toFixed(3)).join(" "));
  }

  /** Screen pixels to the SVG's own units (meters, y down). */
  private toUser(p: Point): Point | null {
    const matrix = this.svg?.getScreenCTM();
    if (!matrix) return null;
    const u = new DOMPoint(p.x, p.y).matrixTransform(matrix.inverse());
    return { x: u.x, y: u.y };
  }

  /** Zoom by `factor` (> 1: closer) keeping the point at `at` (screen) where it is. */
  private zoom(factor: number, at: Point): void {
    const p = this.toUser(at);
    if (!p) return;
    const [x, y, w, h] = this.view;
    const widest = this.base[2];
    const f = Math.min(Math.max(factor, w / widest), (w * MOST_ZOOM) / widest);
    this.write([p.x - (p.x - x) / f, p.y - (p.y - y) / f, w / f, h / f]);
  }

  private pan(from: Point, to: Point): void {
    const a = this.toUser(from);
    const b = this.toUser(to);
    if (!a || !b) return;
    const [x, y, w, h] = this.view;
    this.write([x - (b.x - a.x), y - (b.y - a.y), w, h]);
  }

  private readonly onDown = (e: PointerEvent): void => {
    this.pointers.set(e.pointerId, { x: e.clientX, y: e.clientY });
    if (this.pointers.size === 1) {
      this.origin = { x: e.clientX, y: e.clientY };
      this.dragging = false;
    }
  };

  private readonly onMove = (e: PointerEvent): void => {
    const before = this.pointers.get(e.pointerId);
    if (!before) return;
    const now = { x: e.clientX, y: e.clientY };
    if (this.pointers.size >= 2) {
      const [a, b] = [...this.pointers.values()];
      const other = a === before ? b : a;
      const span = Math.hypot(before.x - other.x, before.y - other.y);
      const newSpan = Math.hypot(now.x - other.x, now.y - other.y);
      if (span > 0 && newSpan > 0) this.zoom(newSpan / span, { x: (now.x + other.x) / 2, y: (now.y + other.y) / 2 });
      this.dragging = true;
    } else {
      const start = this.origin;
      if (!this.dragging && start && Math.hypot(now.x - start.x, now.y - start.y) < MOVE_PX) return;
      if (!this.dragging) this.svg?.setPointerCapture(e.pointerId);
      this.dragging = true;
      this.pan(before, now);
    }
    this.pointers.set(e.pointerId, now);
  };

  private readonly onUp = (e: PointerEvent): void => {
    this.pointers.delete(e.pointerId);
    if (!this.pointers.size) this.origin = null;
  };

  /** A click that ended a drag is not a tap on what lies under it. */
  private readonly onClick = (e: MouseEvent): void => {
    if (!this.dragging) return;
    this.dragging = false;
    e.stopPropagation();
  };

  private readonly onWheel = (e: WheelEvent): void => {
    e.preventDefault();
    this.zoom(e.deltaY < 0 ? WHEEL_STEP : 1 / WHEEL_STEP, { x: e.clientX, y: e.clientY });
  };
}
