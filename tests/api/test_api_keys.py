"""API key administration: create (the key shown once), list (never a key or hash), revoke
(401 at once), and the bad input: wrong role, unknown role, channel missing or misplaced,
duplicate names, unknown ids, and the last ops key."""

import asyncio

from sqlalchemy import select

from storage.api_keys import hash_key
from storage.models import ApiKey
from tests.api.conftest import CHANNEL, OPS, WAREHOUSE


async def _create(api, body, headers=OPS):
    return await api.http.post("/admin/api-keys", json=body, headers=headers)


async def test_a_new_key_is_shown_once_works_at_once_and_is_stored_only_as_its_hash(api) -> None:
    response = await _create(api, {"name": "warehouse hall 2", "role": "warehouse"})
    assert response.status_code == 201, response.text
    created = response.json()
    key = created["key"]
    assert key.startswith("of_") and len(key) > 40
    assert created["name"] == "warehouse hall 2" and created["role"] == "warehouse" and created["channel"] is None
    assert created["created_by"] == "ops dev key" and created["revoked"] is False
    assert response.headers["cache-control"] == "no-store"

    async with api.sessions() as session:
        row = await session.get(ApiKey, created["id"])
        assert row.key_hash == hash_key(key)
        stored = [str(v) for r in (await session.execute(select(ApiKey.__table__))).all() for v in r]
    assert not any(key in v for v in stored)

    # The new key works, with its role: it may read pick lists, not create keys.
    assert (await api.http.get("/warehouse/pick-lists", headers={"X-API-Key": key})).status_code == 200
    assert (await _create(api, {"name": "x", "role": "ops"}, headers={"X-API-Key": key})).status_code == 403

    listed = (await api.http.get("/admin/api-keys", headers=OPS)).json()["items"]
    mine = next(k for k in listed if k["id"] == created["id"])
    assert "key" not in mine and "key_hash" not in mine
    assert key not in str(listed) and row.key_hash not in str(listed)
    assert mine["last_used_at"] is not None  # it was used above


async def test_a_channel_key_is_bound_to_its_channel(api) -> None:
    response = await _create(api, {"name": "webshop-nl", "role": "channel", "channel": "webshop-nl"})
    assert response.status_code == 201, response.text
    key = {"X-API-Key": response.json()["key"]}
    placed = await api.place(key, external_reference="NL-1")
    assert placed.status_code == 201, placed.text
    assert placed.json()["channel"] == "webshop-nl"


async def test_a_revoked_key_is_refused_at_once_and_revoking_again_changes_nothing(api) -> None:
    created = (await _create(api, {"name": "temp picker", "role": "warehouse"})).json()
    key = {"X-API-Key": created["key"]}
    assert (await api.http.get("/warehouse/pick-lists", headers=key)).status_code == 200

    revoked = await api.http.post(f"/admin/api-keys/{created['id']}/revoke", headers=OPS)
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revoked"] is True and revoked.json()["revoked_by"] == "ops dev key"
    refused = await api.http.get("/warehouse/pick-lists", headers=key)
    assert refused.status_code == 401
    assert "revoked" in refused.json()["detail"]

    again = await api.http.post(f"/admin/api-keys/{created['id']}/revoke", headers=OPS)
    assert again.status_code == 200
    assert again.json()["revoked_at"] == revoked.json()["revoked_at"]

    # The name is free again for a new key.
    assert (await _create(api, {"name": "temp picker", "role": "warehouse"})).status_code == 201
    listed = (await api.http.get("/admin/api-keys", params={"include_revoked": "false"}, headers=OPS)).json()["items"]
    assert created["id"] not in [k["id"] for k in listed]


async def test_only_ops_administers_keys(api) -> None:
    for headers in (WAREHOUSE, CHANNEL):
        assert (await _create(api, {"name": "sneaky", "role": "ops"}, headers=headers)).status_code == 403
        assert (await api.http.get("/admin/api-keys", headers=headers)).status_code == 403
        assert (await api.http.post("/admin/api-keys/1/revoke", headers=headers)).status_code == 403
    assert (await api.http.get("/admin/api-keys")).status_code == 401


async def test_bad_input_is_refused_with_a_reason_and_nothing_is_stored(api) -> None:
    async with api.sessions() as session:
        before = len((await session.execute(select(ApiKey.id))).all())
    cases = [
        ({"name": "x", "role": "admin"}, "role"),
        ({"name": "x", "role": "channel"}, "channel"),
        ({"name": "x", "role": "warehouse", "channel": "webshop"}, "channel"),
        ({"name": "", "role": "warehouse"}, "name"),
        ({"name": " padded ", "role": "warehouse"}, "name"),
        ({"name": "a\nb", "role": "warehouse"}, "name"),
        ({"name": "x" * 101, "role": "warehouse"}, "name"),
        ({"name": "x", "role": "channel", "channel": "Not A Channel"}, "channel"),
        ({"role": "warehouse"}, "name"),
    ]
    for body, field in cases:
        response = await _create(api, body)
        assert response.status_code == 422, (body, response.text)
        assert field in response.json()["message"], (body, response.json())
    async with api.sessions() as session:
        assert len((await session.execute(select(ApiKey.id))).all()) == before


async def test_names_are_unique_among_active_keys_also_when_two_race(api) -> None:
    assert (await _create(api, {"name": "ops dev key", "role": "ops"})).status_code == 409
    results = await asyncio.gather(*(_create(api, {"name": "twin", "role": "carrier"}) for _ in range(4)))
    assert sorted(r.status_code for r in results) == [201, 409, 409, 409]
    conflict = next(r for r in results if r.status_code == 409)
    assert "twin" in conflict.json()["detail"] and "revoke" in conflict.json()["detail"]


async def test_unknown_ids_answer_404(api) -> None:
    for key_id in ("999999", str(2**31 - 1)):
        response = await api.http.post(f"/admin/api-keys/{key_id}/revoke", headers=OPS)
        assert response.status_code == 404, response.text
        assert "GET /admin/api-keys" in response.json()["detail"]
    for bad in ("0", "-1", "abc", str(2**63)):
        assert (await api.http.post(f"/admin/api-keys/{bad}/revoke", headers=OPS)).status_code == 422


async def test_the_last_active_ops_key_cannot_be_revoked(api) -> None:
    listed = (await api.http.get("/admin/api-keys", headers=OPS)).json()["items"]
    dev_ops = next(k for k in listed if k["name"] == "ops dev key")
    refused = await api.http.post(f"/admin/api-keys/{dev_ops['id']}/revoke", headers=OPS)
    assert refused.status_code == 409
    assert "last active ops key" in refused.json()["detail"]
    assert (await api.http.get("/admin/api-keys", headers=OPS)).status_code == 200

    # With a second ops key, the first can go; then the second is the last one.
    second = (await _create(api, {"name": "ops night shift", "role": "ops"})).json()
    other = {"X-API-Key": second["key"]}
    assert (await api.http.post(f"/admin/api-keys/{dev_ops['id']}/revoke", headers=other)).status_code == 200
    assert (await api.http.get("/admin/api-keys", headers=OPS)).status_code == 401
    assert (await api.http.post(f"/admin/api-keys/{second['id']}/revoke", headers=other)).status_code == 409


async def test_two_operators_revoking_the_last_two_ops_keys_at_once_leave_one(api) -> None:
    second = (await _create(api, {"name": "ops b", "role": "ops"})).json()
    listed = (await api.http.get("/admin/api-keys", headers=OPS)).json()["items"]
    first_id = next(k["id"] for k in listed if k["name"] == "ops dev key")
    results = await asyncio.gather(
        api.http.post(f"/admin/api-keys/{first_id}/revoke", headers={"X-API-Key": second["key"]}),
        api.http.post(f"/admin/api-keys/{second['id']}/revoke", headers=OPS))
    assert sorted(r.status_code for r in results) == [200, 409], [r.text for r in results]
    async with api.sessions() as session:
        active_ops = (await session.execute(select(ApiKey).where(ApiKey.role == "ops",
                                                                 ApiKey.revoked.is_(False)))).scalars().all()
    assert len(active_ops) == 1


async def test_the_first_ops_key_of_a_new_database_comes_from_the_command_line(api, monkeypatch, capsys) -> None:
    """A production database starts with no key the API accepts: ``python -m storage.api_keys``
    makes one (run in a thread here: it runs its own event loop, as it does on a shell)."""
    from settings import get_settings
    from storage.api_keys import main

    monkeypatch.setenv("ORDERFLOW_DATABASE_URL", api.settings.database_url)
    get_settings.cache_clear()
    try:
        assert await asyncio.to_thread(main, ["--name", "first operator", "--role", "ops"]) == 0
    finally:
        get_settings.cache_clear()
    key = capsys.readouterr().out.strip().splitlines()[-1]
    assert key.startswith("of_")
    listed = await api.http.get("/admin/api-keys", headers={"X-API-Key": key})
    assert listed.status_code == 200
    assert next(k for k in listed.json()["items"] if k["name"] == "first operator")["created_by"] == "command line"
