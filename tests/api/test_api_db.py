"""The schema on an existing database: nullable columns added since it was created appear on first use."""

from sqlalchemy import create_engine, inspect, text

from api.db import Base, dispose_all, get_sessionmaker
from api.models import StoredFile, WebhookDelivery


def test_older_database_gains_new_nullable_columns(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = create_engine(url)
    Base.metadata.create_all(old)
    with old.begin() as conn:  # as a database made before these columns existed
        conn.execute(text("ALTER TABLE files DROP COLUMN duration"))
        conn.execute(text("ALTER TABLE webhook_deliveries DROP COLUMN sending_at"))
    old.dispose()
    try:
        with get_sessionmaker(url)() as s:
            assert s.query(StoredFile).count() == 0 and s.query(WebhookDelivery).count() == 0
            have = inspect(s.get_bind())
            assert "duration" in {c["name"] for c in have.get_columns("files")}
            assert "sending_at" in {c["name"] for c in have.get_columns("webhook_deliveries")}
        dispose_all()
        get_sessionmaker(url)  # a second start finds nothing to add
    finally:
        dispose_all()
