import { Code, ConnectError, type Interceptor } from '@connectrpc/connect';
import type { Metrics } from '../pipeline/metrics.js';

/** Connect code names as the Connect protocol spells them (`NotFound` → `not_found`). */
const codeName = (code: Code): string => Code[code].replace(/[A-Z]/g, (c, i: number) => (i > 0 ? '_' : '') + c.toLowerCase());

/**
 * Outermost: counts every call by RPC (`Service/Method`, never an id) and result code. REST is
 * transcoded onto the same handlers, so its requests are counted here too.
 */
export function metricsInterceptor(metrics: Metrics): Interceptor {
  return (next) => async (req) => {
    const started = performance.now();
    const rpc = `${req.service.name}/${req.method.name}`;
    try {
      const res = await next(req);
      metrics.apiRequest(rpc, 'ok', (performance.now() - started) / 1000);
      return res;
    } catch (error) {
      metrics.apiRequest(rpc, codeName(ConnectError.from(error).code), (performance.now() - started) / 1000);
      throw error;
    }
  };
}
