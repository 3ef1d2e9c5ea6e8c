import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CONFIG_VARIABLES, loadConfig } from '../src/config/config.js';

const compose = parse(await readFile(new URL('../docker-compose.yml', import.meta.url), 'utf8'));

describe('docker-compose.yml', () => {
  const service = compose.services.webhooks;
  const env: Record<string, string> = service.environment;

  it('runs Kafka, MongoDB and the service built from the Dockerfile, with health checks', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['kafka', 'mongo', 'webhooks']);
    expect(service.build).toBe('.');
    for (const name of ['kafka', 'mongo', 'webhooks']) expect(compose.services[name].healthcheck.test).toBeTruthy();
    expect(service.depends_on.kafka.condition).toBe('service_healthy');
  });

  it('gives the service only variables the config loader reads, and values it accepts', () => {
    expect(Object.keys(env).filter((name) => !(CONFIG_VARIABLES as readonly string[]).includes(name))).toEqual([]);
    const config = loadConfig(env);
    expect(config.kafkaBrokers).toEqual(['kafka:9092']);
    expect(config.mongodbUri).toBe('mongodb://mongo:27017/');
    expect(String(config.port)).toBe(service.ports[0].split(':')[1]);
  });

  it('keeps every internal Kafka topic at replication factor 1 for the single broker', () => {
    const kafkaEnv = compose.services.kafka.environment;
    const factors = Object.entries(kafkaEnv).filter(([k]) => /REPLICATION_FACTOR$/.test(k));
    expect(factors.length).toBeGreaterThanOrEqual(3);
    expect(factors.every(([, v]) => v === '1')).toBe(true);
  });
});
