import { it } from 'vitest';
import { TEST_CLIENT } from './client.ts';

/**
 * `it` for an exactly-once test: skipped on kafkajs, where exactly-once refuses to start (README,
 * Kafka clients; the refusal itself has its own test), run on every adapter that offers it.
 */
export const itExactlyOnce = TEST_CLIENT === 'kafkajs' ? it.skip : it;
