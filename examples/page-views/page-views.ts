import { Serdes, StreamsBuilder, TimeWindows, type Serde, type Topology, type Windowed } from 'retail-streams';

/** One page view, as JSON on the input topic; the key is the user. */
export interface PageView {
  readonly page: string;
  readonly user: string;
}

/** The number of views of one page in one window, written once, when the window closes. */
export interface PageViewCount {
  readonly page: string;
  /** Window start and end (exclusive), ISO-8601 UTC. */
  readonly windowStart: string;
  readonly windowEnd: string;
  readonly views: number;
}

export interface PageViewOptions {
  readonly input?: string;
  readonly output?: string;
  /** Window size; one minute by default. */
  readonly windowMs?: number;
  /** How long after its end a window still takes records; ten seconds by default. */
  readonly graceMs?: number;
}

export const PAGE_VIEWS = 'page-views';
export const PAGE_VIEW_COUNTS = 'page-view-counts';

export const pageViewSerde: Serde<PageView> = Serdes.json<PageView>();
export const pageViewCountSerde: Serde<PageViewCount> = Serdes.json<PageViewCount>();

/**
 * Views per page in event-time tumbling windows. Records are re-keyed by page (a repartition
 * topic on Kafka), counted per window, and held back until the window closes (stream time past
 * its end plus grace): each page and window is written once, with its final count. A view that
 * arrives after its window closed is late: it is not counted (see the `late-records` metric).
 */
export function pageViewTopology(options: PageViewOptions = {}): Topology {
  const windowMs = options.windowMs ?? 60_000;
  const graceMs = options.graceMs ?? 10_000;
  const builder = new StreamsBuilder();
  builder
    .stream<string | null, PageView>(options.input ?? PAGE_VIEWS, { keySerde: Serdes.string, valueSerde: pageViewSerde })
    .filter((_user, view) => typeof view?.page === 'string' && view.page.length > 0)
    .groupBy((_user, view) => view.page, { name: 'page-views-by-page', keySerde: Serdes.string as Serde<string> })
    .windowedBy(TimeWindows.tumbling(windowMs, graceMs))
    .count({ storeName: 'page-view-counts-store' })
    .suppressUntilWindowCloses()
    .toStream()
    .map((window: Windowed<string>, views: number) => [window.key, toCount(window, views)] as const)
    .to(options.output ?? PAGE_VIEW_COUNTS, { keySerde: Serdes.string as Serde<string>, valueSerde: pageViewCountSerde });
  return builder.build();
}

const toCount = (window: Windowed<string>, views: number): PageViewCount => ({
  page: window.key,
  windowStart: new Date(window.start).toISOString(),
  windowEnd: new Date(window.end).toISOString(),
  views,
});
