// Sending a command over REST and saying how it went, in words for a notice line.

import { post } from "./api";
import { errorText } from "./format";

interface CommandAnswer {
  success?: boolean;
  errors?: { detail?: string }[];
}

/** POST a command; what became of it: done, refused (with RMF's reasons), sent, or the error. */
export async function sendCommand(path: string, body: unknown, what: string): Promise<string> {
  try {
    const answer = await post<CommandAnswer>(path, body);
    const refused = answer.data?.success === false;
    const why = (answer.data?.errors ?? []).map((e) => e.detail).join("; ");
    return refused ? `${what}: refused (${why})` : answer.status === 202 ? `${what}: sent, waiting for RMF` : `${what}: done`;
  } catch (err) {
    return `${what}: ${errorText(err)}`;
  }
}
