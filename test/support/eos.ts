import { it } from 'vitest';
import { createLogger } from '../../topology/api/log.ts';
import { clientFactory } from '../../topology/runtimes/kafka/client/select.ts';
import { TEST_CLIENT } from './client.ts';

// What the adapter itself says about exactly-once (making a client connects nothing).
const { exactlyOnce } = (await clientFactory(TEST_CLIENT))({ clientId: 'capabilities', brokers: ['127.0.0.1:1'], log: createLogger('capabilities', 'error') });

/**
 * `it` for an exactly-once test: skipped on an adapter where exactly-once refuses to start
 * (kafkajs: README, Kafka clients; the refusal itself has its own test), run on every other.
 */
export const itExactlyOnce = typeof exactlyOnce === 'object' ? it.skip : it;
