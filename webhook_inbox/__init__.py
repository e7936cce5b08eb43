"""A development inbox for client webhooks: the endpoint `make run` registers for the demo
organisation. It plays the client: it verifies each message with the endpoint's secret (with the
official `standardwebhooks` package, as a client would) and shows what arrived. It never imports
the service (`payouts`); it learns the secret from the file `manage.py seed_demo` writes."""
