package main

import (
	"context"
	"fmt"

	"github.com/shoppulse/shoppulse/events"
	"github.com/shoppulse/shoppulse/ingest"
	"github.com/shoppulse/shoppulse/streaming"
)

// topicRenames maps catalogue topics to the names the config gives them:
// the topics the worker consumes, orders (kafka.orders_topic), inventory
// (kafka.inventory_topic), clickstream (kafka.clickstream_topic), payments
// (kafka.payments_topic), market (kafka.market_topic) and customers
// (kafka.customers_topic).
func (a *app) topicRenames() map[string]string {
	renames := map[string]string{}
	if t := a.cfg.Kafka.OrdersTopic; t != "" && t != events.TopicOrders {
		renames[events.TopicOrders] = t
	}
	if t := a.cfg.Kafka.InventoryTopic; t != "" && t != events.TopicInventory {
		renames[events.TopicInventory] = t
	}
	if t := a.cfg.Kafka.ClickstreamTopic; t != "" && t != events.TopicClickstream {
		renames[events.TopicClickstream] = t
	}
	if t := a.cfg.Kafka.PaymentsTopic; t != "" && t != events.TopicPayments {
		renames[events.TopicPayments] = t
	}
	if t := a.cfg.Kafka.MarketTopic; t != "" && t != events.TopicMarket {
		renames[events.TopicMarket] = t
	}
	if t := a.cfg.Kafka.CustomersTopic; t != "" && t != events.TopicCustomers {
		renames[events.TopicCustomers] = t
	}
	return renames
}

// catalogueProducer makes sure every catalogue topic exists under its
// configured name and returns a producer that routes each event to it.
func (a *app) catalogueProducer(ctx context.Context) (*ingest.Producer, error) {
	k := a.cfg.Kafka
	renames := a.topicRenames()
	specs := streaming.CatalogueTopics(k.Partitions, k.ReplicationFactor)
	for i, s := range specs {
		if t, ok := renames[s.Name]; ok {
			specs[i].Name = t
		}
	}
	if _, err := a.kafka().EnsureTopics(ctx, specs...); err != nil {
		return nil, fmt.Errorf("kafka at %v (config kafka.brokers): %w", k.Brokers, err)
	}
	return ingest.NewProducer(ingest.ProducerConfig{Brokers: k.Brokers, TLS: a.kafkaTLS, TopicMap: renames}), nil
}
