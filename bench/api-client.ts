/*
 * The bench's calls to the service's REST API: keep-alive requests through one undici pool, as a
 * service publishing through the API would make them. `fetch` builds a WHATWG Request, Response and
 * body stream per call, and on a 2-core machine that client CPU is taken from the service it measures.
 */
import { Agent } from 'undici';

const agent = new Agent({ keepAliveTimeout: 30_000, headersTimeout: 30_000, bodyTimeout: 30_000 });

export interface ApiAnswer {
  status: number;
  ok: boolean;
  text: string;
}

/** POSTs `body` (JSON) with the workspace key, and reads the whole answer. */
export async function postJson(url: string, key: string, body: string): Promise<ApiAnswer> {
  const { origin, pathname, search } = new URL(url);
  const response = await agent.request({
    origin,
    path: pathname + search,
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body,
  });
  const text = await response.body.text();
  return { status: response.statusCode, ok: response.statusCode >= 200 && response.statusCode < 300, text };
}
