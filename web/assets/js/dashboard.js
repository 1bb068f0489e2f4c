// The console's numbers, computed from the room's orders (GET /v1/rooms/{id}/orders) and what
// the room's WebSocket says. Pure functions: the console renders what they return.

/** Orders that hold or took stock: a reservation or a payment. */
const LIVE_STATUSES = new Set(['reserved', 'paid']);

/**
 * Per listing: orders and units that hold stock (reserved or paid), and paid revenue.
 * `listings` is the room's listings (for their order and title); orders of a listing the console
 * does not know yet still count, under their id.
 */
export function perListing(listings, orders) {
  const rows = new Map(listings.map((l) => [l.id, { listing: l, orders: 0, units: 0, revenue: 0 }]));
  for (const order of orders) {
    if (!rows.has(order.listing_id)) {
      rows.set(order.listing_id, { listing: { id: order.listing_id, title: order.listing_id.slice(0, 8) }, orders: 0, units: 0, revenue: 0 });
    }
    const row = rows.get(order.listing_id);
    if (LIVE_STATUSES.has(order.status)) {
      row.orders += 1;
      row.units += order.quantity;
    }
    if (order.status === 'paid') row.revenue += order.total_cents;
  }
  return [...rows.values()];
}

/** The room's totals: orders that hold stock, and paid revenue. */
export function totals(orders) {
  let count = 0;
  let revenue = 0;
  for (const order of orders) {
    if (LIVE_STATUSES.has(order.status)) count += 1;
    if (order.status === 'paid') revenue += order.total_cents;
  }
  return { orders: count, revenue };
}

/**
 * The funnel from a pin to a paid order: the most viewers watching while a listing was pinned
 * (as the console saw it since it opened), the distinct buyers who ordered a listing, and those
 * who paid. Each step with its share of the step before.
 */
export function funnel(peakPinnedViewers, orders) {
  const ordered = new Set(orders.map((o) => o.user_id));
  const paid = new Set(orders.filter((o) => o.status === 'paid').map((o) => o.user_id));
  const steps = [
    { key: 'console.funnel.pinned', n: peakPinnedViewers },
    { key: 'console.funnel.ordered', n: ordered.size },
    { key: 'console.funnel.paid', n: paid.size },
  ];
  return steps.map((step, i) => ({
    ...step,
    share: i === 0 || steps[i - 1].n === 0 ? null : Math.round((100 * step.n) / steps[i - 1].n),
  }));
}
