"""API keys: stored as SHA-256 hashes, looked up per request; created, listed and revoked
by operations (the plain key is shown once, at creation); the dev profile's documented keys
are upserted at API start, and a production profile refuses to run while any is active."""

import hashlib
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.enums import Role
from storage.db import transaction
from storage.models import ApiKey, utcnow

# A recognisable prefix, so a leaked key is easy to spot in logs and by secret scanners.
KEY_PREFIX = "of_"
# last_used_at is kept to the minute: one write per key a minute, not one per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class DuplicateKeyName(Exception):
    """An active key has this name already."""


class UnknownKey(Exception):
    """No key with this id."""


class LastOpsKey(Exception):
    """Revoking this key would leave no active ops key."""

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


def new_plain_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


async def create_key(sessions: async_sessionmaker[AsyncSession], *, name: str, role: Role, channel: str | None,
                     created_by: str) -> tuple[ApiKey, str]:
    """A new key: its record and the plain key (stored nowhere). Raises ``DuplicateKeyName``
    when an active key has the name (the unique index decides, also between racing calls)."""
    plain = new_plain_key()
    row = ApiKey(name=name, role=role.value, channel=channel, key_hash=hash_key(plain), revoked=False,
                 created_by=created_by)
    try:
        async with transaction(sessions) as session:
            session.add(row)
    except IntegrityError as exc:
        raise DuplicateKeyName(name) from exc
    return row, plain


async def list_keys(session: AsyncSession, *, include_revoked: bool = True) -> Sequence[ApiKey]:
    query = select(ApiKey).order_by(ApiKey.id)
    if not include_revoked:
        query = query.where(ApiKey.revoked.is_(False))
    return (await session.execute(query)).scalars().all()


async def revoke_key(sessions: async_sessionmaker[AsyncSession], key_id: int, *, revoked_by: str) -> tuple[ApiKey, bool]:
    """Revoke the key; returns it and whether this call revoked it (False: it was already).

    Raises ``UnknownKey``, or ``LastOpsKey`` when it is the last active ops key (operations
    would lock themselves out). The active ops keys are locked first (row locks on PostgreSQL;
    SQLite's write transaction holds the database), so two operators revoking the last two ops
    keys at once cannot both succeed.
    """
    async with transaction(sessions) as session:
        active_ops = (await session.execute(
            select(ApiKey).where(ApiKey.role == Role.OPS.value, ApiKey.revoked.is_(False))
            .order_by(ApiKey.id).with_for_update())).scalars().all()
        row = await session.get(ApiKey, key_id, with_for_update=True)
        if row is None:
            raise UnknownKey(key_id)
        if row.revoked:
            return row, False
        if row.role == Role.OPS.value and [k.id for k in active_ops] == [row.id]:
            raise LastOpsKey(row.name)
        row.revoked = True
        row.revoked_at = utcnow()
        row.revoked_by = revoked_by
    return row, True


async def touch_last_used(sessions: async_sessionmaker[AsyncSession], row: ApiKey, now: datetime) -> None:
    """Note that the key was used, at most once per ``LAST_USED_RESOLUTION``."""
    if row.last_used_at is not None and now - row.last_used_at < LAST_USED_RESOLUTION:
        return
    async with transaction(sessions) as session:
        await session.execute(update(ApiKey).where(ApiKey.id == row.id).values(last_used_at=now))


async def _create_from_command_line(name: str, role: Role, channel: str | None) -> None:
    from settings import get_settings
    from storage.db import create_engine, create_session_factory

    engine = create_engine(get_settings().database_url)
    try:
        row, plain = await create_key(create_session_factory(engine), name=name, role=role, channel=channel,
                                      created_by="command line")
    finally:
        await engine.dispose()
    print(f"key {row.id} {row.name!r} ({row.role}{', channel ' + row.channel if row.channel else ''}); "
          "shown once, store it safely:")
    print(plain)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m storage.api_keys --name NAME --role ops``: a key made outside the API, for the
    first ops key of a production database (which starts with no key the API would accept)."""
    import argparse
    import asyncio

    parser = argparse.ArgumentParser(prog="python -m storage.api_keys", description=main.__doc__)
    parser.add_argument("--name", required=True, help="who acts with the key; unique among active keys")
    parser.add_argument("--role", required=True, choices=[r.value for r in Role])
    parser.add_argument("--channel", help="the sales channel of a channel key (required for, and only for, role channel)")
    args = parser.parse_args(argv)
    if (args.role == Role.CHANNEL) != (args.channel is not None):
        parser.error("--channel is required for a channel key and not allowed for the other roles")
    try:
        asyncio.run(_create_from_command_line(args.name, Role(args.role), args.channel))
    except DuplicateKeyName:
        parser.error(f"an active key is named {args.name!r} already; choose another name")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
