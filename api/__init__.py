"""AudioLasso queue API: FastAPI routes, a Dramatiq worker and the `lasso serve|worker|keys` entry points.

The API never imports torch: routes validate, store the job and enqueue a message; only `api.worker.actors` runs the
`Separator`. See api/README_API.md.
"""
