import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ALL_ROLES } from '../../src/config/config.js';
import { signatureHeader } from '../../src/domain/signing.js';
import { startTestApi } from '../helpers/api.js';
import { spawnLogged } from '../helpers/child.js';
import { until } from '../helpers/wait.js';

/*
 * `humiris-webhooks listen` as a user runs it (the built CLI, a child process), receiving real
 * deliveries from the whole service on the test servers.
 */
const api = await startTestApi('listen-cli', { WEBHOOKS_RETRY_SCHEDULE: '1s' }, [...ALL_ROLES]);

async function listen(key: string, args: string[] = []) {
  const child = spawnLogged('node', ['bin/humiris-webhooks.js', 'listen', '--port', '0', ...args], {
    env: { ...process.env, HUMIRIS_API_URL: api.baseUrl, HUMIRIS_API_KEY: key },
  });
  const port = Number(/localhost:(\d+)/.exec(await child.line(/^Listening on /, 20_000))![1]);
  return { ...child, url: `http://localhost:${port}/` };
}

const deliveryLine = (type: string, attempt: number, rest: string) => new RegExp(`  ${type.replace('.', '\\.')}  dlv_\\w+  attempt ${attempt}  ${rest}`);

describe('humiris-webhooks listen', () => {
  it('prints each delivery, verified with its webhook’s secret read from the API, and answers 200', async () => {
    const key = await api.newKey();
    const listener = await listen(key);
    expect(listener.output()).toContain('Signatures are checked with the secret of each delivery’s webhook');
    const hook = (await api.rest('POST', '/v1/webhooks', key, { url: listener.url, events: ['email.received'] })).json;
    const standard = (await api.rest('POST', '/v1/webhooks', key, { url: listener.url, events: ['sms.received'], signature_scheme: 'standard' })).json;

    await api.rest('POST', '/v1/events', key, { type: 'email.received', data: { from: 'a@example.com' } });
    const line = await listener.line(deliveryLine('email.received', 1, 'signature valid  → 200$'), 30_000);
    const deliveryId = /dlv_\w+/.exec(line)![0];
    await api.rest('POST', '/v1/events', key, { type: 'sms.received', data: {} });
    await listener.line(deliveryLine('sms.received', 1, 'signature valid  → 200$'), 30_000);

    const detail = await until('the delivery to be recorded', async () => {
      const res = await api.rest('GET', `/v1/webhooks/${hook.id}/deliveries/${deliveryId}`, key);
      return res.json.status === 'succeeded' ? res.json : undefined;
    });
    expect(detail.attempts[0]).toMatchObject({ response_status: 200, response_body_excerpt: 'humiris-webhooks listen answered 200\n' });

    // Forged: the right webhook, a signature made with some other secret.
    const t = Math.floor(Date.now() / 1000);
    const forged = { 'x-humiris-event': 'email.received', 'x-humiris-delivery': 'dlv_forged', 'x-humiris-attempt': '1', 'x-humiris-webhook': hook.id };
    const body = '{"id":"evt_1"}';
    await fetch(listener.url, { method: 'POST', body, headers: { ...forged, 'x-humiris-signature': signatureHeader(body, ['whsec_other'], t) } });
    await listener.line(/dlv_forged  attempt 1  signature INVALID \(X-Humiris-Signature\)  → 200$/, 5_000);
    // Standard Webhooks headers are checked too.
    await fetch(listener.url, {
      method: 'POST',
      body,
      headers: { 'webhook-id': 'dlv_std', 'webhook-timestamp': String(t), 'webhook-signature': 'v1,AAAA', 'x-humiris-webhook': standard.id },
    });
    await listener.line(/dlv_std  attempt \?  signature INVALID \(webhook-signature\)/, 5_000);
    // A webhook the key does not see.
    await fetch(listener.url, { method: 'POST', body, headers: { ...forged, 'x-humiris-delivery': 'dlv_elsewhere', 'x-humiris-webhook': `whk_${'Z'.repeat(24)}` } });
    await listener.line(/dlv_elsewhere  attempt 1  signature not checked: could not read the secret of whk_Z+: 404 not_found/, 5_000);
    // Sent again: said so.
    const again = await fetch(listener.url, { method: 'POST', body, headers: { ...forged, 'x-humiris-signature': signatureHeader(body, ['whsec_other'], t) } });
    expect(again.status).toBe(200);
    await listener.line(/dlv_forged  attempt 1 .* \(again: same delivery and attempt\)$/, 5_000);
  });

  it('--status 500 fails every attempt, and the attempts record its answer', async () => {
    const key = await api.newKey();
    const hook = (await api.rest('POST', '/v1/webhooks', key, { url: 'http://localhost:1/', events: ['card.authorization'] })).json;
    const listener = await listen(key, ['--status', '500', '--webhook', hook.id]);
    expect(listener.output()).toContain(`Signatures are checked with the secret of ${hook.id}.`);
    await api.rest('PATCH', `/v1/webhooks/${hook.id}`, key, { url: listener.url });

    await api.rest('POST', '/v1/events', key, { type: 'card.authorization', data: {} });
    await listener.line(deliveryLine('card.authorization', 1, 'signature valid  → 500$'), 30_000);
    // The schedule has one retry: attempt 2 is the last.
    await listener.line(deliveryLine('card.authorization', 2, 'signature valid  → 500$'), 30_000);
    const failed = await until('the delivery to fail', async () => (await api.rest('GET', `/v1/webhooks/${hook.id}/deliveries?status=failed`, key)).json.data[0]);
    const detail = (await api.rest('GET', `/v1/webhooks/${hook.id}/deliveries/${failed.id}`, key)).json;
    expect(detail.attempts.map((a: any) => [a.response_status, a.response_body_excerpt])).toEqual([
      [500, 'humiris-webhooks listen answered 500\n'],
      [500, 'humiris-webhooks listen answered 500\n'],
    ]);
  });

  it('refuses at once a --webhook the key does not see, and bad flags', async () => {
    const key = await api.newKey();
    const owner = await api.newKey();
    const theirs = (await api.rest('POST', '/v1/webhooks', owner, { url: 'https://example.com/', events: ['*'] })).json;
    const child = spawnLogged('node', ['bin/humiris-webhooks.js', 'listen', '--port', '0', '--webhook', theirs.id], {
      env: { ...process.env, HUMIRIS_API_URL: api.baseUrl, HUMIRIS_API_KEY: key },
    });
    expect((await child.exited).code).toBe(1);
    expect(child.output()).toContain(`Cannot start the listener: could not read the secret of ${theirs.id}: 404 not_found`);

    for (const [args, message] of [
      [['--status', '99'], '--status takes an HTTP status from 200 to 599'],
      [['--secret', 'whsec_a', '--webhook', theirs.id], 'give --secret or --webhook, not both'],
      [['--port', 'x'], '--port takes a port number'],
    ] as const) {
      const bad = spawnLogged('node', ['bin/humiris-webhooks.js', 'listen', ...args]);
      expect((await bad.exited).code, args.join(' ')).toBe(2);
      expect(bad.output()).toContain(message);
    }
  });

  it('in a terminal, f switches between the chosen status and 500, and q quits', async () => {
    // `script` gives the listener a pseudo-terminal whose keyboard is this pipe.
    const child = spawn('script', ['-qfec', 'node bin/humiris-webhooks.js listen --port 0 --secret whsec_local', '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
    try {
      await until('the key help', () => (output.includes('Keys: f = answer 500 / 200 (switch), q = quit') ? true : undefined), 20_000);
      const url = `http://localhost:${/localhost:(\d+)/.exec(output)![1]}/`;
      const body = '{"id":"evt_2"}';
      const send = async (delivery: string) => {
        const headers = { 'x-humiris-delivery': delivery, 'x-humiris-attempt': '1', 'x-humiris-event': 'email.sent' };
        return (await fetch(url, { method: 'POST', body, headers: { ...headers, 'x-humiris-signature': signatureHeader(body, ['whsec_local'], Math.floor(Date.now() / 1000)) } })).status;
      };
      expect(await send('dlv_one')).toBe(200);
      child.stdin.write('f');
      await until('the switch to 500', () => (output.includes('Now answering 500.') ? true : undefined), 5_000);
      expect(await send('dlv_two')).toBe(500);
      child.stdin.write('f');
      await until('the switch back', () => (output.includes('Now answering 200.') ? true : undefined), 5_000);
      expect(await send('dlv_three')).toBe(200);
      // Printed before answering, but the terminal may pass it on a moment later.
      await until('the third line', () => (/dlv_three[^\n]*\n/.test(output) ? true : undefined), 5_000);
      expect(output).toMatch(/email\.sent  dlv_one  attempt 1  signature valid  → 200\r?\n/);
      expect(output).toMatch(/email\.sent  dlv_two  attempt 1  signature valid  → 500\r?\n/);
      expect(output).toMatch(/email\.sent  dlv_three  attempt 1  signature valid  → 200\r?\n/);
      child.stdin.write('q');
      expect(await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000, 'still running'))])).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
