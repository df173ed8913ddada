"""The consumer: AsyncConsumer (consumer.py, public API), Fetcher (fetcher.py, the fetch
pipeline) and SubscriptionState (subscription_state.py). Import from `client`."""
