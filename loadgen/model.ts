import { Faker, base, en } from "@faker-js/faker";
import { Prng } from "./prng";

/**
 * The session model (SPEC section 8): synthetic users (seed: ids 50–280), devices
 * mobile:computer:tablet = 2:2:1, the six `beer_*` events as a navigation chain that starts on
 * the shop window or a product list and ends in the cart, the checkout or an abandonment, with
 * think times. @faker-js/faker supplies the synthetic detail (a beer catalogue, user IPs); every
 * draw comes from the run's seed: the catalogue from a faker seeded once, each user's choices
 * from that user's own PRNG stream, so a user's behaviour does not depend on scheduling.
 */

export const SEED_USER_ID_MIN = 50;
export const SEED_USER_ID_MAX = 280;

export const DEVICE_WEIGHTS = [
  ["mobile", 2],
  ["computer", 2],
  ["tablet", 1],
] as const;

export const CLIENT_EVENTS = [
  "beer_vitrine_nav",
  "beer_products",
  "beer_product_detail",
  "beer_selection",
  "beer_cart",
  "beer_checkout",
] as const;
export type ClientEvent = (typeof CLIENT_EVENTS)[number];

const END = "end" as const;
type Next = ClientEvent | typeof END;

/** Where a session starts: the shop window or a product list. */
export const ENTRY: readonly (readonly [ClientEvent, number])[] = [
  ["beer_vitrine_nav", 6],
  ["beer_products", 4],
];

/** The navigation chain; `end` from any page but the checkout is an abandonment. */
export const TRANSITIONS: Record<ClientEvent, readonly (readonly [Next, number])[]> = {
  beer_vitrine_nav: [["beer_products", 50], ["beer_product_detail", 30], ["beer_vitrine_nav", 5], [END, 15]],
  beer_products: [["beer_product_detail", 60], ["beer_products", 10], ["beer_vitrine_nav", 10], [END, 20]],
  beer_product_detail: [["beer_selection", 40], ["beer_products", 25], ["beer_product_detail", 10], [END, 25]],
  beer_selection: [["beer_cart", 60], ["beer_product_detail", 20], [END, 20]],
  beer_cart: [["beer_checkout", 50], ["beer_products", 10], [END, 40]],
  beer_checkout: [[END, 100]],
};

export const MAX_SESSION_STEPS = 40;

/** Expected number of steps of a session (solved from the chain; the step cap is ignored). */
export function meanSessionSteps(): number {
  const e: Record<string, number> = {};
  for (const s of CLIENT_EVENTS) e[s] = 1;
  for (let iter = 0; iter < 500; iter++) {
    for (const s of CLIENT_EVENTS) {
      const choices = TRANSITIONS[s];
      const total = choices.reduce((t, [, w]) => t + w, 0);
      e[s] = 1 + choices.reduce((t, [n, w]) => t + (n === END ? 0 : (w / total) * e[n]), 0);
    }
  }
  const total = ENTRY.reduce((t, [, w]) => t + w, 0);
  return ENTRY.reduce((t, [s, w]) => t + (w / total) * e[s], 0);
}

/** Think time = scale × a log-normal factor (σ = 0.6, median 1, clipped to 0.1–8). */
const THINK_SIGMA = 0.6;
const THINK_FACTOR_MEAN = Math.exp((THINK_SIGMA * THINK_SIGMA) / 2);
/** Between two sessions of a user: this many think times. */
const SESSION_GAP_THINKS = 3;

/**
 * The think-time scale (ms) at which `users` produce about `headroom` × `rate` records a second,
 * so that the rate limiter, not the model, holds the rate.
 */
export function thinkScaleMs(users: number, rate: number, headroom = 1.2): number {
  const L = meanSessionSteps();
  const meanIntervalInScales = (THINK_FACTOR_MEAN * (L - 1 + SESSION_GAP_THINKS)) / L;
  return (users / (rate * headroom) / meanIntervalInScales) * 1000;
}

export const MALFORMED_KINDS = [
  "truncated_json",
  "json_array",
  "missing_field",
  "wrong_type",
  "out_of_range",
  "bad_timestamp",
] as const;
export type MalformedKind = (typeof MALFORMED_KINDS)[number];

export interface Product {
  readonly sku: string;
  readonly name: string;
  readonly price: number;
}

/** The shop's beer catalogue, from faker seeded with the run's seed. */
export function makeCatalogue(seed: number, size = 120): Product[] {
  const faker = new Faker({ locale: [en, base] });
  faker.seed(new Prng(seed, "catalogue").uint32());
  const styles = ["IPA", "Stout", "Lager", "Pilsner", "Porter", "Saison", "Sour", "Weissbier", "Bock", "Pale Ale"];
  return Array.from({ length: size }, () => ({
    sku: faker.string.alphanumeric({ length: 8, casing: "upper" }),
    name: `${faker.word.adjective()} ${faker.helpers.arrayElement(styles)}`.replace(/^./, (c) => c.toUpperCase()),
    price: Number(faker.commerce.price({ min: 2, max: 14, dec: 2 })),
  }));
}

/** User ids: a seeded sample of the seed's 50–280 when it has room, else 50, 51, … */
export function pickUserIds(users: number, seed: number): number[] {
  const span = SEED_USER_ID_MAX - SEED_USER_ID_MIN + 1;
  if (users <= span) {
    const all = Array.from({ length: span }, (_, i) => SEED_USER_ID_MIN + i);
    return new Prng(seed, "user-ids").shuffle(all).slice(0, users);
  }
  return Array.from({ length: users }, (_, i) => SEED_USER_ID_MIN + i);
}

export interface Step {
  readonly client_event: ClientEvent;
  /** Wait after this step before the next one (the think time, or the gap before the next session). */
  readonly waitMs: number;
  /** How far the client's clock is behind the send time. */
  readonly lagMs: number;
  /** Synthetic detail; kept in the raw lake, ignored by the windowing. */
  readonly extras: Readonly<Record<string, string | number>>;
  /** `extras` as JSON members (`,"ip":"…",…`), made once: the payload is the fields' JSON plus these. */
  readonly extrasJson: string;
  /** Send this step as a malformed record of this kind. */
  readonly malformed?: MalformedKind;
  /** Try to deliver this step late (after its key's window closed). */
  readonly late: boolean;
}

export interface Session {
  readonly device_id: string;
  readonly steps: Step[];
}

export interface UserModelOptions {
  readonly seed: number;
  readonly thinkScaleMs: number;
  readonly lateFraction: number;
  readonly malformedFraction: number;
  /** Upper bound of the client clock lag, ms. */
  readonly maxLagMs: number;
}

export class SyntheticUser {
  readonly prng: Prng;
  readonly ip: string;
  sessions = 0;

  constructor(
    readonly index: number,
    readonly userId: number,
    private readonly catalogue: readonly Product[],
    private readonly options: UserModelOptions,
  ) {
    this.prng = new Prng(options.seed, "user", index);
    this.ip = [10, this.prng.int(0, 255), this.prng.int(0, 255), this.prng.int(1, 254)].join(".");
  }

  /** Delay before the user's first session: spreads the start over one think scale. */
  firstDelayMs(): number {
    return Math.round(this.prng.next() * this.options.thinkScaleMs * SESSION_GAP_THINKS);
  }

  private think(): number {
    const factor = Math.min(8, Math.max(0.1, Math.exp(THINK_SIGMA * this.prng.normal())));
    return Math.max(1, Math.round(this.options.thinkScaleMs * factor));
  }

  nextSession(): Session {
    const p = this.prng;
    this.sessions++;
    const device_id = p.weighted(DEVICE_WEIGHTS);
    const steps: Step[] = [];
    let page: Next = p.weighted(ENTRY);
    let product: Product | undefined;
    let cartItems = 0;
    let cartTotal = 0;
    while (page !== END && steps.length < MAX_SESSION_STEPS) {
      const extras: Record<string, string | number> = { ip: this.ip };
      if (page === "beer_product_detail" || page === "beer_selection") {
        if (page === "beer_product_detail" || product === undefined) product = p.pick(this.catalogue);
        extras.product_sku = product.sku;
        extras.product_name = product.name;
        extras.price = product.price;
        if (page === "beer_selection") {
          const qty = p.int(1, 6);
          extras.quantity = qty;
          cartItems += qty;
          cartTotal = Math.round((cartTotal + qty * product.price) * 100) / 100;
        }
      } else if (page === "beer_cart" || page === "beer_checkout") {
        extras.cart_items = cartItems;
        extras.cart_total = cartTotal;
      }
      const malformed = p.chance(this.options.malformedFraction) ? p.pick(MALFORMED_KINDS) : undefined;
      const late = malformed === undefined && p.chance(this.options.lateFraction);
      const lagMs = p.int(0, this.options.maxLagMs);
      const extrasJson = JSON.stringify(extras).slice(1, -1);
      steps.push({ client_event: page, waitMs: 0, lagMs, extras, extrasJson: extrasJson && `,${extrasJson}`, malformed, late });
      page = p.weighted(TRANSITIONS[page]);
    }
    // waits: a think time after each step, a longer gap after the last one
    return {
      device_id,
      steps: steps.map((s, i) => ({
        ...s,
        waitMs: i < steps.length - 1 ? this.think() : this.think() * SESSION_GAP_THINKS,
      })),
    };
  }
}

export type TimestampFormat = "seed" | "iso" | "epoch";

/** client_timestamp in one of the forms SPEC section 3 accepts (seed: `2018-11-02 19:36:39.427`, UTC). */
export function formatTimestamp(ms: number, format: TimestampFormat): string | number {
  if (format === "epoch") return ms;
  const iso = new Date(ms).toISOString();
  return format === "iso" ? iso : iso.slice(0, 23).replace("T", " ");
}

export interface EventFields {
  readonly user_id: number;
  readonly device_id: string;
  readonly client_event: string;
  readonly client_timestamp: string | number;
}

/** The record: the event's fields, then the extras (the same text as JSON.stringify({ ...fields, ...extras })). */
export function eventPayload(fields: EventFields, extrasJson: string): string {
  return JSON.stringify(fields).slice(0, -1) + extrasJson + "}";
}

/**
 * A malformed payload of the given kind, built from a valid event. What the parser makes of it
 * (the reason code) is decided by the core's parser, not here: see computeExpected.
 */
export function malformedPayload(kind: MalformedKind, fields: EventFields, extras: Readonly<Record<string, string | number>>, p: Prng): string {
  const obj: Record<string, unknown> = { ...fields, ...extras };
  switch (kind) {
    case "truncated_json": {
      const text = JSON.stringify(obj);
      return text.slice(0, p.int(1, text.length - 2));
    }
    case "json_array":
      return JSON.stringify([fields.user_id, fields.device_id, fields.client_event, fields.client_timestamp]);
    case "missing_field": {
      delete obj[p.pick(["user_id", "device_id", "client_event", "client_timestamp"])];
      return JSON.stringify(obj);
    }
    case "wrong_type": {
      const which = p.int(0, 2);
      if (which === 0) obj.user_id = String(fields.user_id);
      else if (which === 1) obj.device_id = 7;
      else obj.client_event = null;
      return JSON.stringify(obj);
    }
    case "out_of_range": {
      const which = p.int(0, 2);
      if (which === 0) obj.user_id = -fields.user_id - 1;
      else if (which === 1) obj.device_id = "smart-television";
      else obj.client_event = "";
      return JSON.stringify(obj);
    }
    case "bad_timestamp": {
      const which = p.int(0, 2);
      obj.client_timestamp = which === 0 ? "2018-13-02 19:36:39.427" : which === 1 ? "yesterday at noon" : 1.5;
      return JSON.stringify(obj);
    }
  }
}
