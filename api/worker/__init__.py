"""Queue side: the broker (shared by API and workers), the actors and their middleware.

Import order matters (dramatiq's rule): `api.worker.broker` sets the global broker before `api.worker.actors`
declares any actor. The API only imports `broker` and enqueues messages by actor name, so it never imports torch.
"""
