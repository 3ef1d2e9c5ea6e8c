import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

describe('loadConfig', () => {
  it('has the documented defaults', () => {
    const config = loadConfig({});
    expect(config.port).toBe(8080);
    expect(config.kafkaBrokers).toBeUndefined();
    expect(config.topicPrefix).toBe('humiris');
    expect(config.eventPartitions).toBe(3);
    expect(config.retrySchedule.map((s) => s.label)).toEqual(['30s', '5m', '30m', '2h', '24h']);
    expect(config.retrySchedule.map((s) => s.delayMs)).toEqual([30_000, 300_000, 1_800_000, 7_200_000, 86_400_000]);
    expect(config.requestTimeoutMs).toBe(10_000);
    expect(config.maxInFlight).toBe(500);
    expect(config.allowPrivateUrls).toBe(false);
    expect(config.maxWebhooksPerWorkspace).toBe(10_000);
    expect(config.metricsPort).toBeUndefined();
  });

  it('reads and freezes what is set', () => {
    const config = loadConfig({
      KAFKA_BROKERS: 'a:9092, b:9093',
      MONGODB_URI: 'mongodb://db:27017/',
      WEBHOOKS_RETRY_SCHEDULE: '1s,2s',
      WEBHOOKS_ALLOW_PRIVATE_URLS: 'true',
    });
    expect(config.kafkaBrokers).toEqual(['a:9092', 'b:9093']);
    expect(config.retrySchedule).toEqual([
      { label: '1s', delayMs: 1_000 },
      { label: '2s', delayMs: 2_000 },
    ]);
    expect(config.allowPrivateUrls).toBe(true);
    expect(Object.isFrozen(config) && Object.isFrozen(config.retrySchedule[0])).toBe(true);
  });

  it.each([
    ['PORT', 'eighty', /PORT: got "eighty", expected a whole number/],
    ['METRICS_PORT', '70000', /METRICS_PORT: got "70000", expected a whole number/],
    ['KAFKA_BROKERS', 'localhost', /KAFKA_BROKERS: .*host:port/],
    ['MONGODB_URI', 'postgres://x', /MONGODB_URI: .*mongodb:\/\//],
    ['WEBHOOKS_RETRY_SCHEDULE', '30s,soon', /WEBHOOKS_RETRY_SCHEDULE: .*"soon" is not a duration/],
    ['WEBHOOKS_REQUEST_TIMEOUT', '10', /WEBHOOKS_REQUEST_TIMEOUT/],
    ['WEBHOOKS_ALLOW_PRIVATE_URLS', 'maybe', /expected true or false/],
    ['LOG_LEVEL', 'loud', /LOG_LEVEL: .*expected one of/],
    ['OTEL_EXPORTER_OTLP_ENDPOINT', 'collector:4318', /OTEL_EXPORTER_OTLP_ENDPOINT: .*http:\/\//],
  ])('names %s when its value %j is bad', (variable, value, message) => {
    const load = () => loadConfig({ [variable]: value });
    expect(load).toThrow(ConfigError);
    expect(load).toThrow(message);
  });

  it('exports traces only when an OTLP endpoint is set, to its v1/traces unless the traces endpoint is given', () => {
    expect(loadConfig({}).tracing).toEqual({ otlpTracesUrl: undefined, serviceName: 'humiris-webhooks' });
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/', OTEL_SERVICE_NAME: 'hooks' }).tracing).toEqual({
      otlpTracesUrl: 'http://collector:4318/v1/traces',
      serviceName: 'hooks',
    });
    const own = loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://b/otlp/traces' });
    expect(own.tracing.otlpTracesUrl).toBe('https://b/otlp/traces');
  });
});
