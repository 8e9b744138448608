// REST calls to rest_api on the page's own origin, with the bearer token and readable errors.

const TOKEN_KEY = "fleethub.token";

let token: string | null = sessionStorage.getItem(TOKEN_KEY);
const unauthorizedListeners = new Set<() => void>();

export function getToken(): string | null {
  return token;
}

export function setToken(value: string | null): void {
  token = value;
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/** Called when a request answers 401: the token is missing, expired or revoked. */
export function onUnauthorized(listener: () => void): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Where a REST snapshot stands in the hub's stream: subscribe with `since` it to miss nothing. */
export interface Position {
  seq: number | null;
  epoch: number | null;
}

export interface Answer<T> {
  status: number;
  data: T;
  position: Position;
}

function headerNumber(response: Response, name: string): number | null {
  const raw = response.headers.get(name);
  return raw === null || raw === "" ? null : Number(raw);
}

function describe(body: unknown, fallback: string): string {
  const detail = (body as { detail?: unknown } | null)?.detail;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail
      .map((d: { loc?: unknown[]; msg?: string }) => `${(d.loc ?? []).join(".")}: ${d.msg ?? ""}`)
      .join("; ");
  }
  const errors = (body as { errors?: { detail?: string }[] } | null)?.errors;
  if (Array.isArray(errors) && errors.length) return errors.map((e) => e.detail ?? "").join("; ");
  return fallback;
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<Answer<T>> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = text;
  }
  if (response.status === 401 && !path.startsWith("/auth/")) {
    unauthorizedListeners.forEach((listener) => listener());
  }
  if (!response.ok) {
    throw new ApiError(response.status, describe(data, `${response.status} ${response.statusText}`));
  }
  return {
    status: response.status,
    data: data as T,
    position: {
      seq: headerNumber(response, "X-Fleethub-Seq"),
      epoch: headerNumber(response, "X-Fleethub-Epoch"),
    },
  };
}

export const get = <T>(path: string) => api<T>("GET", path);
export const post = <T>(path: string, body?: unknown) => api<T>("POST", path, body);

export const q = encodeURIComponent;
