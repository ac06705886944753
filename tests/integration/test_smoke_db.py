from sociallab.db import Database


async def test_database_answers(db: Database) -> None:
    assert await db.fetch_val("SELECT 1 + 1") == 2
    assert await db.fetch_val("SELECT count(*) FROM schema_migrations") >= 1
