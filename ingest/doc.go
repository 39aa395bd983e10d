// Package ingest owns the sources of ShopPulse events and the way they reach
// Kafka: a deterministic shop simulator, replays of real data (the UCI
// "Online Retail" transactions, the REES46 clickstream), the Kafka producer,
// and a runner that drives a source into a producer, rate-limited or paced by
// the events' own times.
//
// It must not consume from Kafka, touch PostgreSQL or Temporal, read the
// environment or config files, or hold global state other than constant
// tables. It imports only events, kafka-go, golang.org/x/time and the
// standard library. Validation rules belong to package events; ingest only
// promises that every event its own sources produce passes them.
//
// # Simulator
//
// [NewSimulator] builds a shop from [SimConfig]: a catalogue of products in
// categories, prices drawn from a ladder of retail price points (integer
// pence), and customers in three segments (loyal buyers who order often and
// rebuy favourites, occasional buyers, big spenders who buy trade quantities).
// Product popularity is a long tail, weight proportional to 1/(rank+2).
// Countries are weighted towards GB with some EU and US customers. Every
// order is in GBP, whatever the customer's country: the shop is a UK retailer
// that invoices in sterling, as the real data set does, so amounts from the
// simulator and the replay add up without exchange rates.
//
// The simulator is deterministic: the same seed and the same sequence of
// [Simulator.Next] calls give the same events, including event and order ids
// (derived from the seed and a counter, never from crypto/rand or the clock).
// It uses integer arithmetic only, so no floating-point difference between
// platforms can change a price or a pick. Seq numbers each customer's orders
// from 1. Ids carry a tag derived from the seed, so two runs with different
// seeds never share an order, event or customer id.
//
// # Online Retail replay
//
// [ReadOnlineRetail] turns the CSV (InvoiceNo, StockCode, Description,
// Quantity, InvoiceDate, UnitPrice, CustomerID, Country) into orders, one per
// invoice. Every data row ends up either as a line of exactly one order or as
// exactly one [Skipped] with a [SkipReason]. The decisions on the quirks of the
// data, in the order they are applied to each row:
//
//   - A row that cannot be parsed (wrong field count, bad number or date,
//     empty invoice or stock code) is skipped as [SkipMalformed]. A header
//     that is not the expected one, or broken CSV quoting, is an error.
//   - Invoices starting with C are cancellations (negative quantities). The
//     data set never says which invoice a C invoice cancels (most cancel
//     invoices of earlier months), so it cannot be an order_cancelled of a
//     known order: [ReadOnlineRetailEvents] makes each C invoice one
//     events.Refund (reason "cancelled") of the sum of |Quantity| x
//     UnitPrice of its kept rows, at its earliest row's time, with RefundID
//     and OrderID both the credit note's number (C536379; no order_placed
//     has that id). Its rows go through every rule below as a sale's would
//     (a D discount in a C invoice is bookkeeping, a zero price is skipped),
//     except that their quantity must be negative ([SkipQuantity]
//     otherwise). Never a negative sale: revenue per day is the sales', and
//     refunds travel on the payments topic. [ReadOnlineRetail], the
//     orders-only reader, skips these rows as [SkipCancellation].
//   - Other invoice numbers that are not all digits (A563185 "Adjust bad
//     debt" in the full data set) are accounting entries: [SkipNotSale].
//   - Stock codes: five digits and up to three letters (85123A, 15056BL) are
//     products, with no category (the data set has none). POST, DOT (dotcom
//     postage) and C2 (carriage) are kept as lines with category "postage";
//     M/m (manual) with category "manual"; BANK CHARGES with category "fee":
//     the customer paid them, so they belong to the order's total. D
//     (discount), S (samples), B (bad debt), AMAZONFEE and CRUK (commission)
//     are the retailer's bookkeeping, not something a customer bought: they
//     are skipped as [SkipAccounting]. Any other code (DCGS0003, PADS,
//     gift_0001_20 in the full data) is kept with category "other".
//   - Country names map to ISO 3166-1 alpha-2 codes (EIRE is IE, RSA is ZA,
//     USA is US). Names with no single code ("Channel Islands",
//     "European Community", "Unspecified") and names not in the table are
//     skipped as [SkipUnknownCountry], naming the country.
//   - A zero or negative quantity outside a cancellation is a stock
//     adjustment (damaged, lost, "amazon"): [SkipQuantity].
//   - UnitPrice is a decimal string converted to integer pence without
//     floats. A zero price is a free item or a stock adjustment (all such rows
//     in the sample have no customer and no description): [SkipZeroPrice]. A
//     negative price is [SkipNegativePrice]. A price with a non-zero fraction
//     of a penny (0.001 in the full data) cannot be represented exactly in
//     pence: [SkipSubPenny].
//   - CustomerID is written as a float (17850.0) and becomes "17850". An
//     empty CustomerID is a guest checkout, kept as customer
//     "guest-<invoice>": its revenue is real, but the orders of one guest
//     cannot be linked to each other.
//   - A row whose customer or country differs from the first kept row of its
//     invoice is skipped as [SkipConflict] (none in the sample).
//
// Then per invoice: InvoiceDate has no zone and is read in the location the
// caller passes (Europe/London for this retailer), in either the
// "2010-12-01 08:26:00" form of the sample or the "12/1/2010 8:26" form of
// the original file; when an invoice's rows straddle a minute (536591 does),
// the event time is the earliest. Lines keep file order and are not merged:
// the data set has exact duplicate rows that cannot be told from two scans of
// the same item. An invoice with more lines than [events.MaxOrderLines]
// (three DOTCOM invoices in the sample have over 500) is split into
// consecutive orders "<invoice>-1", "<invoice>-2", ... rather than dropped,
// so its revenue is not lost; otherwise the order id is the invoice number.
// Event ids are name-based UUIDs of the invoice number (and part), so a
// replay of the same file gives the same ids. Channel is "web" (an online
// retailer), currency GBP, Seq is left unset (a replay of one file cannot know
// a customer's earlier orders). Each order is validated with its own event
// time as the clock: historical times are never "in the future"; an order
// that still fails has all its rows skipped as [SkipInvalidOrder]. Orders
// come out sorted by event time, ties in file order.
//
// # REES46 clickstream replay
//
// [ReadRees46] turns the REES46 "eCommerce behavior data from multi category
// store" CSV (event_time, event_type, product_id, category_id,
// category_code, brand, price, user_id, user_session) into catalogue events.
// Every data row is either part of exactly one event or one [Skipped]. The
// decisions, in the order they are applied to each row:
//
//   - A row with the wrong field count, an event_time not of the form
//     "2019-10-01 00:00:00 UTC", an empty product_id, a user_id that is not
//     all digits or a price that is not a decimal is [SkipMalformed]. A header
//     that is not the expected one, or broken CSV quoting, is an error.
//   - event_type view becomes product_view, cart add_to_cart,
//     remove_from_cart remove_from_cart (each of quantity 1: the data has no
//     quantities, one row is one unit), purchase a line of an order_placed.
//     Any other type is [SkipUnknownEventType].
//   - price is a decimal of US dollars (the data set's currency, USD),
//     converted to integer cents without floats. A negative price is
//     [SkipNegativePrice], a fraction of a cent [SkipSubPenny], and a zero
//     price (the data set has some: glitches, not free products)
//     [SkipZeroPrice], whatever the event type.
//   - category_code (electronics.smartphone) becomes the category; an empty
//     one leaves the category empty (category_id, a bare number, is not a
//     category name and is dropped). brand has no field in the catalogue and
//     is dropped.
//   - An empty user_session (the data has a few) becomes
//     "u<user_id>-<YYYYMMDD>": that user's session of that UTC day, counted
//     as the correction [CorrectSessionFromUserDay].
//   - user_id is the customer id of every event.
//   - Purchases: the data has no order id. The purchase rows of one session
//     with the same event_time (to the second) form one order; a session's
//     purchases at different seconds are different orders (a customer who
//     buys, then buys again). Rows of one order with the same product and
//     price are merged into one line with their count as quantity
//     ([CorrectMergedPurchase] counts the merged rows). The order id is
//     "<session>-<unix seconds>", country "ZZ" (ISO 3166 user-assigned, "not
//     known": the data set has no country), channel "web", currency USD,
//     total = the sum of its lines. An order of more lines than
//     events.MaxOrderLines is split into "<id>-1", "<id>-2", ...
//   - Each event is validated with its own time as the clock; one that still
//     fails has its rows skipped as [SkipInvalidEvent].
//
// Event ids are name-based UUIDs of the row's line and content (of the order
// id for an order), so replaying the same file gives the same ids. Events
// come out sorted by event time, ties in file order. The whole file is held
// in memory, so split a large month file by day before replaying it.
//
// Both replays also return a [Report]: rows read, events by type, rows
// skipped by reason and rows corrected (customer ids written as floats,
// guests, invoice times, split invoices, sessions made from the user's day,
// merged purchase rows).
//
// # Producer and runner
//
// [Producer.Publish] writes events of any type, encoded with events.Encode,
// each to its own catalogue topic (ev.Topic(), renamed by
// ProducerConfig.TopicMap or overridden by ProducerConfig.Topic) keyed by
// ev.Key(), with kafka-go, acks from all in-sync replicas and the
// Java-compatible murmur2 partitioner, so one entity's events stay in order
// on one partition and any Kafka client agrees on where a key lives. The message timestamp is the
// produce time, not the event time: a replay of 2010 orders stamped with 2010
// would be deleted by time-based retention at once.
//
// [Run] takes events from a [Source] at a steady rate (golang.org/x/time/rate),
// or paced by their own event times compressed by RunConfig.Speed, and hands
// them to a [Publisher] in batches. Cancelling its context stops
// taking new events; the events already taken are still produced.
package ingest
