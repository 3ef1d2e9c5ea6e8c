import type { Config } from '../config/config.js';
import { stackDown, stackStatus, stackUp } from '../stack/stack.js';

const say = (line: string) => process.stdout.write(`${line}\n`);

export async function stackCommand(config: Config, args: string[]): Promise<number> {
  const [action] = args;
  switch (action) {
    case 'up': {
      const started = Date.now();
      const info = await stackUp(config.stack, say);
      say(`Kafka:   ${info.kafkaVersion} at ${info.kafkaBrokers.join(',')}`);
      say(`MongoDB: ${info.mongoVersion} at ${info.mongodbUri}`);
      say(`Ready in ${((Date.now() - started) / 1000).toFixed(1)} s. Use:`);
      say(`export KAFKA_BROKERS=${info.kafkaBrokers.join(',')}`);
      say(`export MONGODB_URI=${info.mongodbUri}`);
      return 0;
    }
    case 'down': {
      const stopped = await stackDown(config.stack);
      say(stopped.length ? `Stopped ${stopped.join(' and ')}.` : 'Nothing was running.');
      return 0;
    }
    case 'status': {
      const status = await stackStatus(config.stack);
      for (const [name, s] of Object.entries(status)) {
        const where = s.address ? ` ${s.version} at ${s.address}` : '';
        say(`${name.padEnd(6)} ${s.running ? `running (pid ${s.pid})` : 'stopped'}${where}  log: ${s.logFile}`);
      }
      return status.kafka.running && status.mongo.running ? 0 : 3;
    }
    default:
      process.stderr.write('Usage: humiris-webhooks stack up|down|status\n');
      return 2;
  }
}
