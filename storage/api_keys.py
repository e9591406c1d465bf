"""API keys: stored as SHA-256 hashes, looked up per request; the dev profile's documented
keys are upserted at API start, and a production profile refuses to run while any is active."""

import hashlib
from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.db import transaction
from storage.models import ApiKey

# key -> (role, name, channel), the shape of ``settings.DEV_API_KEYS``
KeySpecs = Mapping[str, tuple[str, str, str | None]]


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


async def find_active_key(session: AsyncSession, key: str) -> ApiKey | None:
    """The key's record, or None when it is unknown or revoked."""
    return (await session.execute(
        select(ApiKey).where(ApiKey.key_hash == hash_key(key), ApiKey.revoked.is_(False))
    )).scalar_one_or_none()


async def upsert_keys(sessions: async_sessionmaker[AsyncSession], keys: KeySpecs) -> int:
    """Insert the missing keys and bring role, name and channel of the others up to date.

    A revoked key stays revoked. Safe to run from several processes at once: the unique hash
    decides, and a lost insert race becomes an update. Returns how many keys were inserted.
    """
    inserted = 0
    async with transaction(sessions) as session:
        for key, (role, name, channel) in keys.items():
            digest = hash_key(key)
            row = (await session.execute(select(ApiKey).where(ApiKey.key_hash == digest))).scalar_one_or_none()
            if row is None:
                try:
                    async with session.begin_nested():
                        session.add(ApiKey(key_hash=digest, role=role, name=name, channel=channel, revoked=False))
                    inserted += 1
                    continue
                except IntegrityError:
                    row = (await session.execute(select(ApiKey).where(ApiKey.key_hash == digest))).scalar_one()
            row.role, row.name, row.channel = role, name, channel
    return inserted


async def active_keys_among(sessions: async_sessionmaker[AsyncSession], keys: KeySpecs) -> list[str]:
    """Which of ``keys`` (plain text) are stored and not revoked."""
    by_hash = {hash_key(key): key for key in keys}
    async with sessions() as session:
        found = (await session.execute(
            select(ApiKey.key_hash).where(ApiKey.key_hash.in_(by_hash), ApiKey.revoked.is_(False))
        )).scalars()
        return sorted(by_hash[h] for h in found)
