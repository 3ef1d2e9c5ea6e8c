import type { UniversalHandler, UniversalServerResponse } from '@connectrpc/connect/protocol';
import { ERROR_CODE_HEADER } from './errors.js';
import { MAX_BODY_BYTES } from './routes.js';

/*
 * Connect's runtime answers request bytes that do not decode as the request message ("parse
 * binary: …") with `internal`, before any of our code runs. It is the client's mistake, so each
 * protocol's answer is rewritten to `invalid_argument`: the Connect JSON error body and status,
 * the gRPC status header or trailer, and the gRPC-Web trailer frame.
 *
 * A body over readMaxBytes is `resource_exhausted`, which the Connect protocol sends as HTTP 429
 * ("try again later"); it is rewritten to 413 like REST, with the code kept and the finer
 * payload_too_large on the error-code header.
 */
const UNDECODABLE = /^parse binary(:|%3A)/i;
const GRPC_INTERNAL = '13';
const GRPC_INVALID_ARGUMENT = '3';
const TRAILER_FRAME = 0x80;
const OVER_READ_LIMIT = /is larger than configured readMaxBytes/;

function fixGrpcStatus(headers: Headers | undefined): void {
  if (!headers || headers.get('grpc-status') !== GRPC_INTERNAL) return;
  let message = headers.get('grpc-message') ?? '';
  try {
    message = decodeURIComponent(message);
  } catch {
    // Not percent-encoded after all.
  }
  if (UNDECODABLE.test(message)) headers.set('grpc-status', GRPC_INVALID_ARGUMENT);
}

async function* once(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}

/** A Connect error is a small JSON body with the HTTP status of its code. */
async function fixConnectBody(response: UniversalServerResponse): Promise<void> {
  if ((response.status !== 500 && response.status !== 429) || !response.body) return;
  const chunks: Uint8Array[] = [];
  for await (const chunk of response.body) chunks.push(chunk);
  const bytes = Buffer.concat(chunks);
  response.body = once(bytes);
  let error: { code?: string; message?: string };
  try {
    error = JSON.parse(bytes.toString('utf8'));
  } catch {
    return;
  }
  if (error.code === 'resource_exhausted' && OVER_READ_LIMIT.test(error.message ?? '')) {
    response.status = 413;
    response.body = once(new TextEncoder().encode(JSON.stringify({ ...error, message: `request body is larger than ${MAX_BODY_BYTES} bytes` })));
    response.header?.delete('content-length');
    response.header?.set(ERROR_CODE_HEADER, 'payload_too_large');
    return;
  }
  if (error.code !== 'internal' || !UNDECODABLE.test(error.message ?? '')) return;
  response.status = 400;
  response.body = once(new TextEncoder().encode(JSON.stringify({ ...error, code: 'invalid_argument' })));
  response.header?.delete('content-length');
}

/** gRPC-Web carries its status in a final body frame (flag 0x80, 4-byte length, header lines). */
async function* fixGrpcWebTrailer(body: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  for await (const chunk of body) {
    if (chunk.length >= 5 && chunk[0] === TRAILER_FRAME) {
      const text = new TextDecoder().decode(chunk.subarray(5));
      if (/^grpc-status: ?13\r?$/m.test(text) && /^grpc-message: ?parse(%20| )binary/im.test(text)) {
        const fixed = new TextEncoder().encode(text.replace(/^grpc-status: ?13/m, `grpc-status: ${GRPC_INVALID_ARGUMENT}`));
        const frame = new Uint8Array(5 + fixed.length);
        frame[0] = TRAILER_FRAME;
        new DataView(frame.buffer).setUint32(1, fixed.length);
        frame.set(fixed, 5);
        yield frame;
        continue;
      }
    }
    yield chunk;
  }
}

export function clientErrorForUndecodable(handler: UniversalHandler): UniversalHandler {
  const wrapped = async (request: Parameters<UniversalHandler>[0]): Promise<UniversalServerResponse> => {
    const response = await handler(request);
    const contentType = response.header?.get('content-type') ?? '';
    if (contentType.startsWith('application/grpc-web')) {
      if (response.body) response.body = fixGrpcWebTrailer(response.body);
    } else if (contentType.startsWith('application/grpc')) {
      fixGrpcStatus(response.header);
      // The trailer is filled in while the body is sent.
      const body = response.body;
      response.body = (async function* () {
        if (body) yield* body;
        fixGrpcStatus(response.trailer);
      })();
    } else {
      await fixConnectBody(response);
    }
    return response;
  };
  return Object.assign(wrapped, handler);
}
