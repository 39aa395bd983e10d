package events

// Head returns the envelope fields. Every event embeds Header, so every event
// has this method.
func (h Header) Head() Header { return h }

// setHeader stores the envelope's fields in a decoded event.
func (h *Header) setHeader(x Header) { *h = x }

// Topic and Key of each type. Clickstream is keyed by session, so a session's
// events stay in order on one partition; money movements and customer events
// by customer; stock and prices by product.

// Topic is the clickstream topic.
func (PageView) Topic() string { return TopicClickstream }

// Key is the session id.
func (e PageView) Key() []byte { return []byte(e.SessionID) }

// Topic is the clickstream topic.
func (ProductView) Topic() string { return TopicClickstream }

// Key is the session id.
func (e ProductView) Key() []byte { return []byte(e.SessionID) }

// Topic is the clickstream topic.
func (Search) Topic() string { return TopicClickstream }

// Key is the session id.
func (e Search) Key() []byte { return []byte(e.SessionID) }

// Topic is the clickstream topic.
func (CartChange) Topic() string { return TopicClickstream }

// Key is the session id.
func (e CartChange) Key() []byte { return []byte(e.SessionID) }

// Topic is the clickstream topic.
func (CheckoutStarted) Topic() string { return TopicClickstream }

// Key is the session id.
func (e CheckoutStarted) Key() []byte { return []byte(e.SessionID) }

// Topic is the orders topic.
func (OrderCancelled) Topic() string { return TopicOrders }

// Key is the customer id, the key of the order it cancels.
func (e OrderCancelled) Key() []byte { return []byte(e.CustomerID) }

// Topic is the payments topic.
func (Payment) Topic() string { return TopicPayments }

// Key is the customer id.
func (e Payment) Key() []byte { return []byte(e.CustomerID) }

// Topic is the payments topic.
func (Refund) Topic() string { return TopicPayments }

// Key is the customer id.
func (e Refund) Key() []byte { return []byte(e.CustomerID) }

// Topic is the payments topic.
func (Chargeback) Topic() string { return TopicPayments }

// Key is the customer id.
func (e Chargeback) Key() []byte { return []byte(e.CustomerID) }

// Topic is the inventory topic.
func (InventoryAdjusted) Topic() string { return TopicInventory }

// Key is the product id.
func (e InventoryAdjusted) Key() []byte { return []byte(e.ProductID) }

// Topic is the market topic: the shop's prices travel with the competitors'.
func (PriceChanged) Topic() string { return TopicMarket }

// Key is the product id.
func (e PriceChanged) Key() []byte { return []byte(e.ProductID) }

// Topic is the market topic.
func (CompetitorPrice) Topic() string { return TopicMarket }

// Key is the product id.
func (e CompetitorPrice) Key() []byte { return []byte(e.ProductID) }

// Topic is the customers topic.
func (CustomerRegistered) Topic() string { return TopicCustomers }

// Key is the customer id.
func (e CustomerRegistered) Key() []byte { return []byte(e.CustomerID) }

// Topic is the customers topic.
func (CustomerUpdated) Topic() string { return TopicCustomers }

// Key is the customer id.
func (e CustomerUpdated) Key() []byte { return []byte(e.CustomerID) }

// Topic is the customers topic.
func (ErasureRequested) Topic() string { return TopicCustomers }

// Key is the customer id.
func (e ErasureRequested) Key() []byte { return []byte(e.CustomerID) }
