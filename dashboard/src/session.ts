// Who is logged in, and what they may do: POST /auth/token, then GET /user and /permissions.
//
// A fleethub with auth off answers /user without a token (an anonymous administrator); the page
// then shows "auth off" and no login. Either way the API stays the judge of every action: the
// page only hides controls the user's roles do not grant.

import { ApiError, get, getToken, post, setToken } from "./api";

export interface User {
  username: string;
  isAdmin: boolean;
  /** Permission names the user's roles grant on some security group. */
  permissions: Set<string>;
  /** The server runs without authentication. */
  authOff: boolean;
}

interface TokenAnswer {
  access_token: string;
  token_type: string;
  expires_in: number;
}

/** The current user, or null when the server wants a login first. */
export async function currentUser(): Promise<User | null> {
  let user: { username: string; is_admin: boolean };
  try {
    user = (await get<typeof user>("/user")).data;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return null;
    throw err;
  }
  const granted = (await get<{ authz_grp: string; action: string }[]>("/permissions")).data;
  return {
    username: user.username,
    isAdmin: user.is_admin,
    permissions: new Set(granted.map((p) => p.action)),
    authOff: getToken() === null,
  };
}

export async function login(username: string, password: string): Promise<string> {
  const { data } = await post<TokenAnswer>("/auth/token", { username, password });
  setToken(data.access_token);
  return data.access_token;
}

export function logout(): void {
  setToken(null);
  location.reload();
}

export function may(user: User, permission: string): boolean {
  return user.isAdmin || user.permissions.has(permission);
}
