// Imported first, for its effect: kafkajs's filter of aborted transactions is replaced before
// anything loads kafkajs (see aborted-filter.ts). The Kafka runtime warns when it came too late.
import { installAbortedFilter } from './aborted-filter.ts';

installAbortedFilter();
