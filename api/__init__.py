"""AudioLasso queue API: FastAPI routes, a Dramatiq worker and the `lasso serve|worker|keys` entry points.

The API process never imports torch (tests/api/test_api_no_torch.py): routes validate, store the job and enqueue a
message, and the workbench it mounts at /ui submits jobs too; only `api.worker.actors` runs the `Separator`. See the
README's "The queue API".
"""
