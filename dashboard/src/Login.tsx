// The login form: POST /auth/token with the username and password.

import { useState } from "preact/hooks";
import { errorText } from "./format";
import { login } from "./session";

export function Login({ onLoggedIn, title }: { onLoggedIn: (token: string) => void; title: string }) {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError("");
    try {
      onLoggedIn(await login(username, password));
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="login" onSubmit={submit} data-testid="login">
      <h2>{title}</h2>
      <label>
        Username
        <input name="username" autocomplete="username" value={username} onInput={(e) => setUsername(e.currentTarget.value)} required />
      </label>
      <label>
        Password
        <input name="password" type="password" autocomplete="current-password" value={password} onInput={(e) => setPassword(e.currentTarget.value)} required />
      </label>
      <button type="submit" disabled={busy}>
        Log in
      </button>
      {error && <p class="error">{error}</p>}
    </form>
  );
}
