import { Random } from './random.ts';

/** Country mix of the RetailCorp feed: mostly the United Kingdom, a long tail of others. */
export const COUNTRIES: readonly (readonly [string, number])[] = [
  ['United Kingdom', 820], ['Germany', 24], ['France', 22], ['EIRE', 20], ['Spain', 8], ['Netherlands', 8],
  ['Belgium', 6], ['Switzerland', 6], ['Portugal', 5], ['Australia', 4], ['Norway', 4], ['Italy', 4],
  ['Channel Islands', 3], ['Finland', 3], ['Cyprus', 2], ['Sweden', 2], ['Austria', 2], ['Denmark', 2],
  ['Japan', 2], ['Poland', 2], ['Israel', 1], ['USA', 1], ['Hong Kong', 1], ['Singapore', 1], ['Iceland', 1],
  ['Canada', 1], ['Greece', 1], ['Malta', 1], ['United Arab Emirates', 1], ['Brazil', 1], ['Lithuania', 1],
  ['Czech Republic', 1], ['Bahrain', 1], ['Saudi Arabia', 1], ['RSA', 1], ['Lebanon', 1],
];

const ADJECTIVES = ['RETROSPOT', 'VINTAGE', 'REGENCY', 'PAISLEY', 'WHITE', 'RED', 'PINK', 'BLUE', 'JUMBO', 'SET OF 3', 'HANGING', 'WOODEN', 'GLASS', 'ENAMEL', 'FELTCRAFT', 'SPOTTY', 'HEART', 'CHRISTMAS', 'ASSORTED', 'LARGE', 'SMALL', 'ANTIQUE', 'GREEN', 'IVORY'];
const NOUNS = ['HOT WATER BOTTLE', 'LUNCH BAG', 'CAKE STAND', 'TEA CUP', 'T-LIGHT HOLDER', 'DOORMAT', 'BUNTING', 'CANDLE', 'STORAGE JAR', 'ALARM CLOCK', 'NOTEBOOK', 'GIFT WRAP', 'CUSHION COVER', 'PHOTO FRAME', 'MUG', 'CHOPSTICKS', 'PARASOL', 'WALL ART', 'BAKING SET', 'JEWELLERY BOX', 'PAPER CHAIN KIT', 'COAT RACK'];

export interface Product {
  readonly sku: string;
  readonly title: string;
  /** Price in pence, so generated prices have exactly two decimals. */
  readonly pence: number;
}

/** A few thousand SKUs with titles and prices, the same for a given seed. */
export function makeCatalog(seed: number, size = 3000): Product[] {
  const rnd = new Random(seed ^ 0x5eed);
  const products: Product[] = [];
  for (let i = 0; i < size; i++) {
    const title = `${rnd.pick(ADJECTIVES)} ${rnd.pick(ADJECTIVES)} ${rnd.pick(NOUNS)}`;
    // Mostly cheap items, some expensive ones: a skewed price from 0.19 to about 40.
    const pence = Math.max(19, Math.round(Math.exp(rnd.next() * 5.3) * 19) - (rnd.next() < 0.5 ? 4 : 0));
    products.push({ sku: String(20000 + i * 7), title, pence });
  }
  return products;
}
