import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const source = (path: string) => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  // examples/ import the package by its name, as a user would: here that is the sources (what
  // package.json's `retail-streams-source` export condition gives `tsc` and `node --conditions`).
  resolve: {
    alias: [
      { find: /^retail-streams$/, replacement: source('./index.ts') },
      { find: /^retail-streams\/retail$/, replacement: source('./retail.ts') },
    ],
  },
  test: {
    setupFiles: ['test/support/quiet-warnings.ts'],
    // Integration tests start real servers: they run one file at a time, after the unit tests.
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/**/*.test.ts'], exclude: ['test/integration/**'] } },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          fileParallelism: false,
          testTimeout: 300_000,
          hookTimeout: 180_000,
        },
      },
      // The suites whose outcome depends on the Kafka client, again on kafkajs (the default is
      // @platformatic/kafka), after the first group so that brokers never overlap. Exactly-once
      // tests are skipped there: exactly-once refuses to start on kafkajs (a unit test pins it).
      {
        extends: true,
        test: {
          name: 'integration-kafkajs',
          include: ['kafka-run', 'state', 'conformance', 'checkpoint', 'watermark'].map((f) => `test/integration/${f}.test.ts`),
          env: { RS_KAFKA_CLIENT: 'kafkajs' },
          sequence: { groupOrder: 1 },
          fileParallelism: false,
          testTimeout: 300_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
