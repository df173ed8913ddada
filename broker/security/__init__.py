"""Who may talk to this broker and how: listeners and their security protocols, TLS, SASL.

Kafka's setting names throughout, so that a Kafka user's broker and client properties mean
the same here. Nothing in this package handles a request's body.
"""
