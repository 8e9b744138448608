// Small display helpers shared by the panels.

export function time(ms: number | null | undefined): string {
  return ms ? new Date(ms).toLocaleTimeString() : "–";
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
