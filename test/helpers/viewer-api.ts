// Requests to the viewer's HTTP server (lib/server/server.ts) as its page sends them.

/** POST /api/lens with `body` (sent as it is when a string, else as JSON) and these headers. */
export function postLens(server: { url: string }, body: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }): Promise<Response> {
  return fetch(new URL('api/lens', server.url), { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
}

/** GET /api/info, parsed. */
export async function getInfo<T>(server: { url: string }): Promise<T> {
  return (await (await fetch(new URL('api/info', server.url))).json()) as T;
}
